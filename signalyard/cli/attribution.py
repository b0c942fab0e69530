"""``signalyard attribution``: which platform earned each order (docs/attribution.md).

- ``sync``: take the events stored since the last sync in as evidence (the worker does it
  too, every ``attribution`` interval);
- ``report``: the reconciliation report (table, ``--format csv`` or ``json``);
- ``explain ORDER_ID``: one order's journey, its eligible clicks, the one chosen and why;
- ``import-claims FILE``: what a platform claims, from its CSV export;
- ``fetch-claims``: what each destination's platform claims, from its reporting API;
- ``import-rates FILE``: exchange rates, for ``report --currency``.
"""

from __future__ import annotations

import datetime
import os
import re
import time
from zoneinfo import ZoneInfo

import click
import httpx
import orjson

from signalyard.attribution.claims import Claim, load_claims, parse_claims, save_claims
from signalyard.attribution.convert import MissingRates, convert
from signalyard.attribution.engine import Attributor, Run
from signalyard.attribution.explain import explain_json, explain_text, find
from signalyard.attribution.fetch import Fetched, fetch_claims, fetched_lines
from signalyard.attribution.model import LENSES
from signalyard.attribution.rates import load_rates, parse_rates, save_rates
from signalyard.attribution.report import build_report
from signalyard.attribution.windows import PROFILES
from signalyard.cli._common import settings_from, with_store
from signalyard.clock import SystemClock
from signalyard.errors import InputError
from signalyard.runtime import make_attributor
from signalyard.settings import Settings
from signalyard.sinks import REGISTRY
from signalyard.sinks.reporting import day_range
from signalyard.store.base import Store

__all__ = ["attribution"]

_CURRENCY = re.compile(r"[A-Z]{3}")


def attributor(store: Store) -> Attributor:
    return make_attributor(store, SystemClock())


async def _dataset(store: Store, dataset_id: str | None) -> str:
    datasets = await store.list_datasets()
    if dataset_id is not None:
        if not any(d.id == dataset_id for d in datasets):
            raise click.ClickException(f"no dataset {dataset_id}")
        return dataset_id
    if len(datasets) == 1:
        return datasets[0].id
    if not datasets:
        raise click.ClickException("no dataset yet: add one with `signalyard datasets add`")
    raise click.UsageError(
        f"{len(datasets)} datasets: name one with --dataset ({', '.join(d.id for d in datasets)})"
    )


_DATASET = click.option(
    "--dataset", "dataset_id", default=None, help="The dataset (default: the only one)."
)
_PROFILE = click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default=None,
    help="Click windows: each platform's default, or the longest it offers (default: the"
    " attribution.window_profile setting).",
)
_LENS = click.option(
    "--lens",
    type=click.Choice(LENSES),
    default=None,
    help="How credit is shared among eligible clicks (default: the attribution.lens setting).",
)
_NO_SYNC = click.option(
    "--no-sync", is_flag=True, help="Use the evidence as last synced (take no new events in)."
)


def _run(
    settings: Settings,
    dataset_id: str | None,
    profile: str | None,
    lens: str | None,
    no_sync: bool,
) -> tuple[Run, list[Claim]]:
    async def go(store: Store) -> tuple[Run, list[Claim]]:
        dataset = await _dataset(store, dataset_id)
        run = await attributor(store).run(
            dataset,
            profile=profile or settings.attribution.window_profile,
            lens=lens or settings.attribution.lens,
            sync=not no_sync,
        )
        return run, await load_claims(store, dataset)

    return with_store(settings, go)


@click.group()
def attribution() -> None:
    """Which platform earned each order: one answer per order, beside what each claims."""


@attribution.command()
@_DATASET
@click.pass_context
def sync(ctx: click.Context, dataset_id: str | None) -> None:
    """Take the events stored since the last sync in as evidence."""
    settings = settings_from(ctx)

    async def go(store: Store) -> tuple[str, int]:
        dataset = await _dataset(store, dataset_id)
        return dataset, await attributor(store).sync(dataset)

    dataset, n = with_store(settings, go)
    click.echo(f"dataset {dataset}: {n} new event(s) taken in")


@attribution.command()
@_DATASET
@_PROFILE
@_LENS
@_NO_SYNC
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "csv", "json")),
    default="table",
    show_default=True,
)
@click.option("--since", type=click.DateTime(("%Y-%m-%d",)), default=None, help="First day.")
@click.option("--until", type=click.DateTime(("%Y-%m-%d",)), default=None, help="Last day.")
@click.option(
    "--time-zone", default=None, help="Days in this IANA zone (default: attribution.time_zone)."
)
@click.option(
    "--currency",
    default=None,
    help="Every amount in this currency, at each day's rate (see import-rates; default: the"
    " attribution.reporting_currency setting, else each currency apart).",
)
@click.option(
    "--rates-base",
    default=None,
    help="The base currency of the imported rates (default: attribution.rates_base, EUR).",
)
@click.pass_context
def report(
    ctx: click.Context,
    dataset_id: str | None,
    profile: str | None,
    lens: str | None,
    no_sync: bool,
    fmt: str,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
    time_zone: str | None,
    currency: str | None,
    rates_base: str | None,
) -> None:
    """The reconciliation report: per platform and day, eligible, primary, assisted and
    overlapping orders; fallback channels; unattributed orders by reason; actual revenue; the
    checks. Exits 1 when a check fails."""
    settings = settings_from(ctx)
    tz = _zone(time_zone or settings.attribution.time_zone)
    currency = currency or settings.attribution.reporting_currency or None
    rates_base = rates_base or settings.attribution.rates_base
    for name, code in (("--currency", currency), ("--rates-base", rates_base)):
        if code is not None and not _CURRENCY.fullmatch(code):
            raise click.BadParameter("must be an ISO 4217 code such as EUR", param_hint=name)
    run, claims = _run(settings, dataset_id, profile, lens, no_sync)
    if currency is not None:
        rates = with_store(settings, lambda store: load_rates(store, rates_base))
        try:
            run, claims = convert(run, claims, rates, currency, tz)
        except MissingRates as error:
            raise click.ClickException(
                f"{error}: import rates of base {rates_base} covering them"
                " (`signalyard attribution import-rates FILE`)"
            ) from None
    built = build_report(
        run,
        tz=tz,
        since=since.date() if since else None,
        until=until.date() if until else None,
        claims=claims,
    )
    if fmt == "json":
        click.echo(orjson.dumps(built.to_json(), option=orjson.OPT_INDENT_2).decode())
    elif fmt == "csv":
        click.echo(built.to_csv(), nl=False)
    else:
        click.echo(built.to_table(), nl=False)
    if not built.ok:
        ctx.exit(1)


@attribution.command()
@click.argument("order_id")
@_DATASET
@_PROFILE
@_LENS
@_NO_SYNC
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--time-zone", default=None, help="Times in this IANA zone (default: attribution.time_zone)."
)
@click.pass_context
def explain(
    ctx: click.Context,
    order_id: str,
    dataset_id: str | None,
    profile: str | None,
    lens: str | None,
    no_sync: bool,
    as_json: bool,
    time_zone: str | None,
) -> None:
    """One order: its journey, the eligible clicks, the one chosen and why."""
    settings = settings_from(ctx)
    tz = _zone(time_zone or settings.attribution.time_zone)
    run, _claims = _run(settings, dataset_id, profile, lens, no_sync)
    found = find(run, order_id)
    if found is None:
        raise click.ClickException(
            f"no order {order_id} in dataset {run.dataset_id} (orders are Purchases that are"
            " not test events, by custom_data.order_id, else event_id)"
        )
    if as_json:
        click.echo(orjson.dumps(explain_json(run, found), option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(explain_text(run, found, tz), nl=False)


CLAIMS_MAX_BYTES = 512 * 1024 * 1024


@attribution.command("import-claims")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--platform",
    required=True,
    type=click.Choice([k for k, s in REGISTRY.items() if s.click_attribution is not None]),
    help="Whose claims these are (a destination kind).",
)
@_DATASET
@click.option("--currency", default=None, help="The currency when the file has no column.")
@click.pass_context
def import_claims(
    ctx: click.Context, file: str, platform: str, dataset_id: str | None, currency: str | None
) -> None:
    """Import what a platform claims (conversions, their value, ad spend per day and
    campaign) from its CSV export; a day and campaign imported again is replaced."""
    settings = settings_from(ctx)
    if os.path.getsize(file) > CLAIMS_MAX_BYTES:
        raise click.ClickException(f"{file} is over {CLAIMS_MAX_BYTES // 2**20} MiB: split it")
    try:
        with open(file, encoding="utf-8-sig", newline="") as fh:
            claims = parse_claims(fh, platform=platform, currency=currency)
    except InputError as error:
        raise click.ClickException(f"{file}: {error.field}: {error.rule}") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{file}: is not UTF-8 text") from None

    async def go(store: Store) -> str:
        dataset = await _dataset(store, dataset_id)
        await save_claims(store, dataset, claims, source=os.path.basename(file), now=time.time())
        return dataset

    dataset = with_store(settings, go)
    days = len({c.day for c in claims})
    click.echo(
        f"dataset {dataset}: {len(claims)} row(s) of {platform} claims over {days} day(s) imported"
    )


@attribution.command("fetch-claims")
@_DATASET
@click.option(
    "--since",
    type=click.DateTime(("%Y-%m-%d",)),
    default=None,
    help="First day (default: 6 days before --until).",
)
@click.option(
    "--until", type=click.DateTime(("%Y-%m-%d",)), default=None, help="Last day (default: today)."
)
@click.option("--destination", default=None, help="Only this destination (by name).")
@click.pass_context
def fetch_claims_command(
    ctx: click.Context,
    dataset_id: str | None,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
    destination: str | None,
) -> None:
    """Fetch what each destination's platform claims (conversions, their value, ad spend per
    day and campaign) from its reporting API, for the days asked (the ad accounts' days);
    they replace the claims kept for those days. Exits 1 when a platform refused."""
    settings = settings_from(ctx)
    last = until.date() if until else datetime.datetime.now(datetime.UTC).date()
    first = since.date() if since else last - datetime.timedelta(days=6)
    try:
        day_range(first, last)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since/--until") from None

    async def go(store: Store) -> tuple[str, list[Fetched]]:
        dataset = await _dataset(store, dataset_id)
        async with httpx.AsyncClient() as client:
            results = await fetch_claims(
                store,
                dataset,
                client=client,
                since=first,
                until=last,
                sandbox_url=settings.resolved_sandbox_url,
                now=time.time(),
                destination=destination,
            )
        return dataset, results

    dataset, results = with_store(settings, go)
    if destination is not None and not results:
        raise click.ClickException(f"no destination {destination} in dataset {dataset}")
    click.echo(f"dataset {dataset}: claims of {first} .. {last}")
    for line in fetched_lines(results):
        click.echo(line)
    if any(r.error for r in results) or not any(r.report for r in results):
        if not any(r.report or r.error for r in results):
            click.echo(
                "No destination could report: set each one's reporting options"
                " (docs/attribution.md, Claims)."
            )
        ctx.exit(1)


@attribution.command("import-rates")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--base",
    default="EUR",
    show_default=True,
    help="The currency one unit of which each rate is worth (the ECB's files: EUR).",
)
@click.pass_context
def import_rates(ctx: click.Context, file: str, base: str) -> None:
    """Import exchange rates (a CSV: the ECB's history file, ``Date,USD,JPY,...``, or
    ``Date,Currency,Rate``), for reports in one currency (``report --currency``); a day and
    currency imported again is replaced."""
    settings = settings_from(ctx)
    if os.path.getsize(file) > CLAIMS_MAX_BYTES:
        raise click.ClickException(f"{file} is over {CLAIMS_MAX_BYTES // 2**20} MiB: split it")
    try:
        with open(file, encoding="utf-8-sig", newline="") as fh:
            rates = parse_rates(fh, base=base.upper())
    except InputError as error:
        raise click.ClickException(f"{file}: {error.field}: {error.rule}") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{file}: is not UTF-8 text") from None

    async def go(store: Store) -> None:
        await save_rates(
            store, rates, base=base.upper(), source=os.path.basename(file), now=time.time()
        )

    with_store(settings, go)
    currencies = len({r.currency for r in rates})
    days = len({r.day for r in rates})
    click.echo(
        f"{len(rates)} rate(s) of {base.upper()} in {currencies} currency(ies) over"
        f" {days} day(s) imported"
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # OSError: a folder ("Europe"), too long a name
        raise click.BadParameter(
            f"{name} is not an IANA time zone (such as Europe/Paris)", param_hint="--time-zone"
        ) from None
