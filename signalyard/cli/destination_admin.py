"""Looking after a destination once added: ``destinations show``, ``update``, ``pause``,
``remove`` and ``check`` (one pre-flight request to the platform). Secrets never print: each
secret field of the destination's kind shows as ``set`` or ``not set``."""

from __future__ import annotations

import asyncio
import re
import shlex
import time
from collections.abc import Mapping
from typing import Any

import click
import httpx
import orjson

from signalyard.cli._common import ensure_schema, find_destination, settings_from, with_store
from signalyard.clock import SystemClock
from signalyard.errors import ConfigError, Conflict
from signalyard.outcome import Delivered, Paused, Rejected, Retry, SendResult
from signalyard.secret import Secret
from signalyard.settings import Settings
from signalyard.sinks import (
    GATEWAY_OPTIONS,
    checked_config,
    delivery_mode,
    mode_note,
    mode_option,
    spec_for,
)
from signalyard.store.base import Destination, DestinationStatus, Store

__all__ = ["COMMANDS"]


def _load(settings: Settings, name: str) -> tuple[Destination, DestinationStatus | None]:
    async def run(store: Store) -> tuple[Destination, DestinationStatus | None]:
        d = find_destination(await store.list_destinations(), name)
        rows = await store.status(now=time.time())
        return d, next((r for r in rows if r.destination.id == d.id), None)

    return with_store(settings, run)


@click.command("show")
@click.argument("destination")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def show(ctx: click.Context, destination: str, as_json: bool) -> None:
    """Show a destination: kind, mode (sandbox, test or live), options, state and queue.
    Its secrets (access token, app secret ...) are never shown, only whether they are set."""
    settings = settings_from(ctx)
    d, st = _load(settings, destination)
    mode = delivery_mode(d, sandbox_url=settings.resolved_sandbox_url)
    view: dict[str, Any] = {
        "id": d.id,
        "name": d.name,
        "dataset": d.dataset_id,
        "kind": d.kind,
        "mode": mode,
        "state": d.state,
        "paused_reason": d.paused_reason,
        "fix": d.paused_fix,
        "throttled_until": d.throttled_until,
        "options": d.options,
        "secrets": _secret_states(d),
        "queued": st.queued if st else 0,
        "held_for_consent": st.held if st else 0,
        "dead_letters": st.dead if st else 0,
        "delivered": st.delivered if st else 0,
    }
    if as_json:
        click.echo(orjson.dumps(view, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"{d.name} (id {d.id}, {d.kind}, dataset {d.dataset_id}): {d.state.upper()}")
    click.echo(f"  mode:     {mode_note(mode, d.name, mode_option(d))}")
    if d.state == "paused":
        click.echo(f"  reason:   {d.paused_reason}\n  fix:      {d.paused_fix}")
    if d.throttled_until and d.throttled_until > time.time():
        click.echo(f"  throttled until {time.strftime('%H:%M:%S', time.gmtime(d.throttled_until))}")
    for key, value in sorted(d.options.items()):
        if key == "consent_policy" and isinstance(value, list):
            shown: object = f"{len(value)} rule(s) (see `destinations set-consent`)"
        else:
            shown = value
        click.echo(f"  option    {key}={shown}")
    secrets = ", ".join(f"{name} {state}" for name, state in view["secrets"].items())
    click.echo(f"  secrets:  {secrets or 'none'}")
    click.echo(
        f"  queued {view['queued']}, held for consent {view['held_for_consent']},"
        f" dead letters {view['dead_letters']}, delivered {view['delivered']}"
    )


def _secret_states(d: Destination) -> dict[str, str]:
    """Each secret field of the destination's kind (and any other it holds): ``set`` or
    ``not set``; never a value."""
    try:
        names = [f.name for f in spec_for(d.kind).secret_fields]
    except ConfigError:
        names = []
    names += sorted(set(d.secrets) - set(names))
    return {name: "set" if d.secrets.get(name) else "not set" for name in names}


@click.command("update")
@click.argument("destination")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set an option, e.g. graph_url=https://graph.facebook.com (repeat for several).",
)
@click.option(
    "--unset",
    "unset",
    multiple=True,
    metavar="KEY",
    help="Remove an option, e.g. test_event_code once testing is over (repeat for several).",
)
@click.pass_context
def update(
    ctx: click.Context, destination: str, options: tuple[str, ...], unset: tuple[str, ...]
) -> None:
    """Change a destination's options, checked by its kind as `destinations add` does. The
    token has its own command (`set-token`), the consent policy too (`set-consent`)."""
    if not options and not unset:
        raise click.UsageError("nothing to change: give --option KEY=VALUE or --unset KEY")
    changes: dict[str, str] = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--option")
        changes[key.strip()] = value.strip()
    for key in (*changes, *unset):
        if key in GATEWAY_OPTIONS:
            raise click.BadParameter(
                f"{key} is set with `signalyard destinations set-consent`",
                param_hint="--option" if key in changes else "--unset",
            )
    settings = settings_from(ctx)
    ensure_schema(settings)

    async def run(store: Store) -> Destination:
        d = find_destination(await store.list_destinations(), destination)
        missing = sorted(k.strip() for k in unset if k.strip() not in d.options)
        if missing:
            raise click.BadParameter(
                f"{d.name} has no option {', '.join(missing)} to remove", param_hint="--unset"
            )
        merged: dict[str, Any] = {
            k: v for k, v in d.options.items() if k not in {u.strip() for u in unset}
        }
        merged.update(changes)
        try:
            merged = _typed(d, merged, changes, settings.resolved_sandbox_url)
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
        await store.set_options(d.id, merged, now=time.time())
        (updated,) = [x for x in await store.list_destinations() if x.id == d.id]
        return updated

    d = with_store(settings, run)
    mode = delivery_mode(d, sandbox_url=settings.resolved_sandbox_url)
    click.echo(f"Options of {d.name} updated; the worker uses them for its next request.")
    click.echo(f"  mode: {mode_note(mode, d.name, mode_option(d))}")
    if d.state == "paused":
        click.echo(
            f"  It is paused ({d.paused_reason}): once it is right, resume it with"
            f" `signalyard destinations resume {shlex.quote(d.name)}`."
        )


def _typed(
    d: Destination, options: dict[str, Any], changes: dict[str, str], sandbox_url: str
) -> dict[str, Any]:
    return typed_options(d.kind, options, d.secrets, changes, sandbox_url=sandbox_url)


def typed_options(
    kind: str,
    options: dict[str, Any],
    secrets: Mapping[str, Secret],
    changes: Mapping[str, str],
    *,
    sandbox_url: str,
) -> dict[str, Any]:
    """``options`` as the kind accepts them: a value given as text (``changes``) that the
    kind refuses as text but is a number (``timeout_seconds=5``) is stored as the number.
    Raises the kind's ``ConfigError`` naming the option otherwise. At most one check per
    given option."""
    numeric = {k: _number(v) for k, v in changes.items()}
    while True:
        try:
            checked_config(kind, options, secrets, sandbox_url=sandbox_url)
            return options
        except ConfigError as error:
            retry = next(
                (
                    k
                    for k, n in numeric.items()
                    if n is not None
                    and isinstance(options[k], str)
                    and re.search(rf"\b{re.escape(k)}\b", str(error))
                ),
                None,
            )
            if retry is None:
                raise
            options = {**options, retry: numeric.pop(retry)}


def _number(text: str) -> int | float | None:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


@click.command("pause")
@click.argument("destination")
@click.option("--reason", default="paused by an operator", show_default=True)
@click.pass_context
def pause(ctx: click.Context, destination: str, reason: str) -> None:
    """Stop delivering to a destination; its events stay queued until it is resumed."""
    settings = settings_from(ctx)

    async def run(store: Store) -> str:
        d = find_destination(await store.list_destinations(), destination)
        fix = f"resume it with `signalyard destinations resume {shlex.quote(d.name)}`"
        await store.pause(d.id, reason=reason, fix=fix, now=time.time())
        return d.name

    name = with_store(settings, run)
    click.echo(
        f"{name} paused: its events stay queued. Resume with"
        f" `signalyard destinations resume {shlex.quote(name)}`."
    )


@click.command("remove")
@click.argument("destination")
@click.option(
    "--drop-queue",
    is_flag=True,
    help="Remove it even with events still waiting to be sent (they are dropped, never sent).",
)
@click.pass_context
def remove(ctx: click.Context, destination: str, drop_queue: bool) -> None:
    """Remove a destination, its outbox rows, dead letters and request history. Refused while
    events are still waiting to be sent to it, unless --drop-queue."""
    settings = settings_from(ctx)

    async def run(store: Store) -> tuple[str, int]:
        d = find_destination(await store.list_destinations(), destination)
        try:
            dropped = await store.remove_destination(d.id, drop_queue=drop_queue)
        except Conflict as error:
            raise click.ClickException(
                f"{d.name} not removed: {error}. Let them be delivered first (see"
                " `signalyard status`), or give --drop-queue to drop them."
            ) from None
        return d.name, dropped

    name, dropped = with_store(settings, run)
    suffix = f"; {dropped} waiting event(s) dropped, never sent" if dropped else ""
    click.echo(f"Destination {name} removed{suffix}.")


@click.command("check")
@click.argument("destination")
@click.pass_context
def check(ctx: click.Context, destination: str) -> None:
    """Send one pre-flight request to the destination's platform, with its token, and report
    the answer (for Meta: read the dataset object; no event is sent). Exit code 1 when the
    destination would not deliver."""
    settings = settings_from(ctx)
    d, _ = _load(settings, destination)
    mode = delivery_mode(d, sandbox_url=settings.resolved_sandbox_url)
    try:
        config = checked_config(
            d.kind, d.options, d.secrets, sandbox_url=settings.resolved_sandbox_url
        )
    except ConfigError as error:
        raise click.ClickException(f"{d.name}: {error}") from None

    async def run() -> SendResult:
        async with httpx.AsyncClient() as client:
            sink = spec_for(d.kind).build(config, client, SystemClock())
            return await sink.healthcheck()

    result = asyncio.run(run())
    click.echo(f"{d.name} ({d.kind}, {mode_note(mode, d.name, mode_option(d))})")
    attempt = result.attempt
    answered = (
        f"the platform answered HTTP {attempt.http_status}"
        if attempt.http_status is not None
        else "no answer from the platform"
    )
    trace = f", trace id {attempt.trace_id}" if attempt.trace_id else ""
    outcome = result.outcomes[0] if result.outcomes else None
    if isinstance(outcome, Delivered):
        click.echo(f"  OK: {answered}{trace}: this destination can deliver.")
        if d.state == "paused":
            click.echo(
                f"  It is paused: resume it with"
                f" `signalyard destinations resume {shlex.quote(d.name)}`."
            )
        return
    click.echo(f"  FAILED: {answered}{trace}.")
    if mode == "sandbox" and attempt.http_status is None:
        click.echo(
            "  The sandbox is served by `signalyard serve` (or `signalyard sandbox` with the"
            " sandbox_url setting): is it running?"
        )
    if isinstance(outcome, Paused):
        click.echo(f"  reason: {outcome.reason}\n  fix:    {outcome.fix_for(d.name)}")
    elif isinstance(outcome, Retry | Rejected):
        click.echo(f"  reason: {outcome.reason}")
    elif attempt.message:
        click.echo(f"  reason: {attempt.message}")
    raise SystemExit(1)


COMMANDS = (show, update, pause, remove, check)
"""Added to the ``destinations`` group (:mod:`signalyard.cli`)."""
