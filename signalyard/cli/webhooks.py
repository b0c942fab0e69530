"""``webhooks``: the order webhook sources of a dataset (Shopify, WooCommerce). The secret is
read from standard input, never from arguments, and never printed."""

from __future__ import annotations

import sys
import time

import click

from signalyard.cli._common import settings_from, with_store
from signalyard.secret import Secret
from signalyard.sources import webhook_store as ws
from signalyard.sources.orders import OPTION_NAMES, Policy
from signalyard.store.base import Store


@click.group()
def webhooks() -> None:
    """Order webhooks from Shopify and WooCommerce (one source per dataset and platform)."""


def _options(items: tuple[str, ...], kind: str) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--option")
        parsed[key.strip()] = value.strip()
    try:
        Policy.parse(kind, parsed)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--option") from None
    return parsed


@webhooks.command("add")
@click.argument("dataset_id")
@click.argument("kind", type=click.Choice(ws.KINDS))
@click.option(
    "--secret-stdin",
    is_flag=True,
    help="Read the signing secret from standard input. A second line, the previous secret,"
    " is also accepted while a rotation is under way.",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help=f"A source option ({', '.join(OPTION_NAMES)}), e.g. refunds=send. See docs/webhooks.md.",
)
@click.option("--replace", is_flag=True, help="Replace the secret and options of the source.")
@click.pass_context
def webhooks_add(
    ctx: click.Context,
    dataset_id: str,
    kind: str,
    secret_stdin: bool,
    options: tuple[str, ...],
    replace: bool,
) -> None:
    """Accept KIND order webhooks for DATASET_ID, signed with the secret given on stdin."""
    settings = settings_from(ctx)
    parsed = _options(options, kind)
    if not secret_stdin:
        raise click.UsageError("give the secret on standard input with --secret-stdin")
    lines = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
    if not lines:
        raise click.UsageError("no secret on standard input")
    if len(lines) > 2:
        raise click.UsageError("at most two secrets: the current one, then the previous one")
    secrets = [Secret(line) for line in lines]

    async def run(store: Store) -> None:
        if await store.get_dataset(dataset_id) is None:
            raise click.ClickException(f"no dataset {dataset_id}: add it with `datasets add`")
        await ws.add_source(
            store, dataset_id, kind, secrets, parsed, now=time.time(), replace=replace
        )

    with_store(settings, run)
    click.echo(f"{kind} webhooks accepted for dataset {dataset_id}, at:")
    click.echo(f"  POST https://<this gateway>/webhooks/{kind}/{dataset_id}")


@webhooks.command("list")
@click.option("--dataset", default=None)
@click.pass_context
def webhooks_list(ctx: click.Context, dataset: str | None) -> None:
    """The webhook sources, their paths and options (never their secrets)."""
    settings = settings_from(ctx)
    for s in with_store(settings, lambda store: ws.list_sources(store, dataset)):
        options = " ".join(f"{k}={v}" for k, v in sorted(s.options.items())) or "-"
        secrets = "1 secret" if len(s.secrets) == 1 else f"{len(s.secrets)} secrets"
        click.echo(
            f"{s.id}\t{s.dataset_id}\t{s.kind}\t/webhooks/{s.kind}/{s.dataset_id}\t{secrets}"
            f"\t{options}"
        )


@webhooks.command("remove")
@click.argument("dataset_id")
@click.argument("kind", type=click.Choice(ws.KINDS))
@click.pass_context
def webhooks_remove(ctx: click.Context, dataset_id: str, kind: str) -> None:
    """Stop accepting KIND webhooks for DATASET_ID (the orders' states are kept)."""
    settings = settings_from(ctx)
    if not with_store(settings, lambda store: ws.remove_source(store, dataset_id, kind)):
        raise click.ClickException(f"dataset {dataset_id} has no {kind} webhook source")
    click.echo(f"{kind} webhooks of dataset {dataset_id} removed.")
