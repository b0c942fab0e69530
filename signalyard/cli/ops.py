"""Operating Signalyard: ``status``, ``replay`` and ``send-test``."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict

import click
import httpx
import orjson

from signalyard.cli._common import (
    ago,
    database_name,
    find_destination,
    require_database,
    settings_from,
    with_store,
)
from signalyard.settings import Settings
from signalyard.sinks import delivery_mode, mode_note, mode_option
from signalyard.store.base import DestinationStatus, Store
from signalyard.store.inspect import (
    ConsentDecisionCount,
    EventTrail,
    consent_decisions,
    event_trail,
)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--event",
    "event_id",
    default=None,
    help="Show where this event (its event_id) stands at each destination, and why.",
)
@click.pass_context
def status(ctx: click.Context, as_json: bool, event_id: str | None) -> None:
    """Queue depth, oldest event, state, dead letters and consent decisions per destination."""
    settings = settings_from(ctx)
    if event_id is not None:
        _event_status(settings, event_id, as_json)
        return
    now = time.time()

    async def run(store: Store) -> tuple[list[DestinationStatus], list[ConsentDecisionCount]]:
        return await store.status(now=now), await consent_decisions(store)

    rows, decisions = with_store(settings, run)
    names = {r.destination.id: r.destination.name for r in rows}
    sandbox_url = settings.resolved_sandbox_url
    if as_json:
        click.echo(
            orjson.dumps(
                [
                    {
                        "destination": r.destination.name,
                        "id": r.destination.id,
                        "dataset": r.destination.dataset_id,
                        "state": r.destination.state,
                        "mode": delivery_mode(r.destination, sandbox_url=sandbox_url),
                        "paused_reason": r.destination.paused_reason,
                        "fix": r.destination.paused_fix,
                        "queued": r.queued,
                        "due": r.due,
                        "oldest_event_age_seconds": (now - r.oldest_event_time)
                        if r.oldest_event_time
                        else None,
                        "delivered": r.delivered,
                        "dead_letters": r.dead,
                        "held_for_consent": r.held,
                        "dropped_by_consent": r.dropped,
                        "consent_decisions": [
                            {
                                "action": c.action,
                                "status": c.status,
                                "reason": c.reason,
                                "events": c.events,
                            }
                            for c in decisions
                            if c.destination_id == r.destination.id
                        ],
                    }
                    for r in rows
                ],
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
        return
    if not rows:
        click.echo("No destinations.")
    for r in rows:
        d = r.destination
        age = ago(now - r.oldest_event_time if r.oldest_event_time else None)
        click.echo(f"{d.name} ({d.kind}, dataset {d.dataset_id}): {d.state.upper()}")
        mode = delivery_mode(d, sandbox_url=sandbox_url)
        click.echo(f"  mode:   {mode_note(mode, d.name, mode_option(d))}")
        if d.state == "paused":
            click.echo(f"  reason: {d.paused_reason}\n  fix:    {d.paused_fix}")
        if d.throttled_until and d.throttled_until > now:
            click.echo(f"  throttled for {ago(d.throttled_until - now)}")
        click.echo(
            f"  queued {r.queued} (due {r.due}), oldest event {age} old,"
            f" delivered {r.delivered}, dead letters {r.dead}"
        )
        if r.held or r.dropped:
            click.echo(f"  consent: held {r.held}, dropped {r.dropped}")
    if decisions:
        click.echo("Consent decisions (events not sent in full):")
        for c in decisions:
            where = names.get(c.destination_id, str(c.destination_id))
            click.echo(f"  {where}: {c.events} {c.status} ({c.action}): {c.reason}")


def _event_status(settings: Settings, event_id: str, as_json: bool) -> None:
    trail = with_store(settings, lambda s: event_trail(s, event_id))
    if as_json:
        click.echo(orjson.dumps([asdict(t) for t in trail], option=orjson.OPT_INDENT_2).decode())
        return
    if not trail:
        click.echo(f"No event with event_id {event_id} (or it was pruned after delivery).")
        return
    destinations = {d.id: d.name for d in with_store(settings, lambda s: s.list_destinations())}
    for t in trail:
        where = destinations.get(t.destination_id, str(t.destination_id))
        click.echo(
            f"{t.event_name} {t.event_id} (dataset {t.dataset_id}, from {t.source}) -> {where}:"
            f" {t.status}, {t.attempts} attempt(s)"
        )
        if t.consent_reason:
            click.echo(f"  consent: {t.consent_action}: {t.consent_reason}")
        if t.dead_reason:
            click.echo(f"  dead letter: {t.dead_reason}")
        elif t.last_error:
            click.echo(f"  last error: {t.last_error}")


@click.command()
@click.option("--destination", default=None, help="Only this destination (name or id).")
@click.option("--id", "ids", type=int, multiple=True, help="Only these dead letters.")
@click.option("--list", "list_only", is_flag=True, help="List dead letters, change nothing.")
@click.pass_context
def replay(
    ctx: click.Context, destination: str | None, ids: tuple[int, ...], list_only: bool
) -> None:
    """Queue dead letters again (after fixing what made them fail)."""
    settings = settings_from(ctx)

    async def run(store: Store) -> int:
        dest_id = None
        if destination is not None:
            dest_id = find_destination(await store.list_destinations(), destination).id
        if list_only:
            for dl in await store.dead_letters(destination_id=dest_id, limit=1000):
                click.echo(
                    f"{dl.outbox_id}\t{dl.event_name}\t{dl.event_id}\t"
                    f"code={dl.code} subcode={dl.subcode}\t{dl.reason}"
                )
            return -1
        return await store.replay(
            destination_id=dest_id, outbox_ids=list(ids) or None, now=time.time()
        )

    n = with_store(settings, run)
    if n >= 0:
        click.echo(f"Queued {n} dead letter(s) again.")


@click.command("send-test")
@click.option(
    "--key",
    envvar="SIGNALYARD_KEY",
    required=True,
    help="An ingest key of the dataset ($SIGNALYARD_KEY).",
)
@click.option(
    "--dataset",
    default="1234567890",
    show_default=True,
    help="Dataset id (default: the demo dataset of a new install).",
)
@click.option("--url", default=None, help="Gateway URL (default: from settings).")
@click.option(
    "--wait", type=float, default=15.0, show_default=True, help="Seconds to wait for delivery."
)
@click.pass_context
def send_test(ctx: click.Context, key: str, dataset: str, url: str | None, wait: float) -> None:
    """Send a realistic Purchase through the whole pipeline and report its delivery."""
    from signalyard.samples import sample_purchase

    settings = settings_from(ctx)
    require_database(settings)  # before sending: the delivery is read from it
    base = (
        url
        or f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::') else settings.host}"
        f":{settings.port}"
    ).rstrip("/")
    event = sample_purchase(time.time())
    try:
        r = httpx.post(
            f"{base}/v26.0/{dataset}/events",
            params={"access_token": key},
            json={"data": [event]},
            timeout=10,
        )
    except httpx.HTTPError as error:
        raise click.ClickException(f"cannot reach the gateway at {base}: {error}") from None
    if r.status_code != 200:
        raise click.ClickException(f"the gateway refused the event ({r.status_code}): {r.text}")
    click.echo(f"Accepted: {r.json()}  event_id={event['event_id']}")

    event_id = str(event["event_id"])

    async def poll(store: Store) -> tuple[list[EventTrail], dict[int, str]]:
        deadline = time.monotonic() + wait
        while True:
            trail = await event_trail(store, event_id, dataset_id=dataset)
            # The event was committed before the gateway answered: no row means no outbox here.
            done = all(t.status in _SETTLED for t in trail)
            if done or time.monotonic() >= deadline:
                names = {d.id: d.name for d in await store.list_destinations(dataset)}
                return trail, names
            await asyncio.sleep(0.2)

    trail, names = with_store(settings, poll)
    verdict, ok = delivery_verdict(trail, names, event_id, wait)
    if not ok:
        raise click.ClickException(f"{verdict} (database {database_name(settings)})")
    click.echo("Delivery: " + verdict)


_SETTLED = ("delivered", "dead", "dropped")
"""Outbox states an event does not leave."""


def delivery_verdict(
    trail: list[EventTrail], names: dict[int, str], event_id: str, wait: float
) -> tuple[str, bool]:
    """What ``send-test`` reports about its event, and whether it was delivered everywhere."""
    if not trail:
        return (
            f"the event {event_id} is not in the database this command reads: the gateway"
            " that accepted it uses another database, or its dataset has no destination",
            False,
        )
    where = [(names.get(t.destination_id, str(t.destination_id)), t) for t in trail]
    delivered = [name for name, t in where if t.status == "delivered"]
    if len(delivered) == len(where):
        return "delivered to " + ", ".join(delivered), True
    problems = []
    for name, t in where:
        if t.status == "dead":
            problems.append(f"{name}: dead letter: {t.dead_reason}")
        elif t.status != "delivered":
            detail = t.last_error or t.consent_reason or ""
            problems.append(f"{name}: {t.status}" + (f" ({detail})" if detail else ""))
    return (
        f"not delivered after {wait:g}s: "
        + "; ".join(problems)
        + f" (see `signalyard status --event {event_id}`)",
        False,
    )
