"""Alert rules end to end: rollups and destinations in a real store (SQLite, and PostgreSQL
when reachable), notifications to a real local webhook receiver and SMTP server."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from email import message_from_string, policy
from email.message import EmailMessage

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.event import AcceptedEvent
from signalyard.insights.alert_log import firing_alerts, recent_alerts
from signalyard.insights.alerts import AGE_LIMIT_SECONDS, AlertEngine
from signalyard.insights.notify import Notifier
from signalyard.secret import Secret
from signalyard.settings import AlertSettings
from signalyard.store.base import Store
from signalyard.store.dual import execute
from tests.insights.conftest import SMTPSink, WebhookReceiver, open_store

pytestmark = pytest.mark.anyio
HOUR = 3600
WEEK = 7 * 24 * HOUR


@pytest.fixture
def clock() -> FrozenClock:
    # Half past an hour: the current hour is partial.
    return FrozenClock(1_800_000_000.0 + 1800)


def settings_for(webhook: WebhookReceiver | None = None, **changes: object) -> AlertSettings:
    base = AlertSettings(webhook_url=Secret(webhook.url if webhook else ""))
    return replace(base, **changes)  # type: ignore[arg-type]


async def add_dataset(store: Store, clock: FrozenClock, dataset: str = "px1") -> None:
    await store.add_dataset(dataset, name="Shop", default_country=None, now=clock.now())


async def add_destination(store: Store, clock: FrozenClock, name: str = "Meta CAPI") -> int:
    destination = await store.add_destination(
        "px1",
        name=name,
        kind="meta",
        options={"pixel_id": "px1"},
        secrets={"access_token": Secret("tok")},
        now=clock.now(),
    )
    return destination.id


async def received(
    store: Store, dataset: str, hour: int, count: int, event_name: str = "Purchase"
) -> None:
    await execute(
        store,
        "INSERT INTO stats_events(dataset_id, hour, event_name, source, received, stored)"
        " VALUES (?,?,?,?,?,?) ON CONFLICT (dataset_id, hour, event_name, source) DO UPDATE"
        " SET received = stats_events.received + excluded.received",
        (dataset, hour, event_name, "graph_api", count, count),
    )


async def requests(store: Store, destination_id: int, hour: int, total: int, failed: int) -> None:
    await execute(
        store,
        "INSERT INTO stats_delivery(destination_id, hour, requests, failed_requests)"
        " VALUES (?,?,?,?) ON CONFLICT (destination_id, hour) DO UPDATE"
        " SET requests = stats_delivery.requests + excluded.requests,"
        " failed_requests = stats_delivery.failed_requests + excluded.failed_requests",
        (destination_id, hour, total, failed),
    )


async def test_volume_drop_fires_once_to_the_webhook_and_clears(
    store: Store, clock: FrozenClock, webhook: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    await add_dataset(store, clock)
    hour = int(clock.now() // HOUR)
    for h in range(hour - 3, hour):
        await received(store, "px1", h - 7 * 24, 100)  # 300 the same hours a week earlier
        await received(store, "px1", h, 20)  # 60 now: 20%
    await received(store, "px1", hour, 500)  # the current, partial hour does not count
    await received(store, "px1", hour - 4, 500)  # nor the hour before the window
    engine = AlertEngine(store, clock, settings_for(webhook), client)

    made = await engine.evaluate()

    assert [(n.kind, n.subject, n.state) for n in made] == [
        ("volume_drop", "dataset:px1", "firing")
    ]
    assert len(webhook.bodies) == 1
    assert set(webhook.bodies[0]) == {"text"}
    text = webhook.texts()[0]
    assert text.startswith("[Signalyard] FIRING: Event volume drop.")
    assert 'dataset "Shop" (px1)' in text
    assert "60 events received in the last 3 hours" in text
    assert "300 in the same hours a week earlier (20%" in text
    [alert] = await firing_alerts(store)
    assert (alert.kind, alert.subject) == ("volume_drop", "dataset:px1")
    assert alert.message in text

    # Still low: no second notification, still one alert.
    clock.advance(60)
    assert await engine.evaluate() == []
    assert len(webhook.bodies) == 1
    assert len(await recent_alerts(store)) == 1

    # Recovered (above 50% of last week): resolved, one message.
    await received(store, "px1", hour - 1, 120)  # 180 of 300
    clock.advance(60)
    made = await engine.evaluate()
    assert [(n.kind, n.state) for n in made] == [("volume_drop", "resolved")]
    assert len(webhook.bodies) == 2
    resolved = webhook.texts()[1]
    assert resolved.startswith("[Signalyard] RESOLVED: Event volume drop.")
    assert "180 events received" in resolved and "(60%)" in resolved
    assert "Firing for 2 min." in resolved
    assert await firing_alerts(store) == []
    [past] = await recent_alerts(store)
    assert past.state == "resolved" and past.resolved_at == clock.now()

    clock.advance(60)
    assert await engine.evaluate() == []
    assert len(webhook.bodies) == 2


async def test_volume_needs_enough_events_last_week(
    store: Store, clock: FrozenClock, client: httpx.AsyncClient
) -> None:
    await add_dataset(store, clock)
    hour = int(clock.now() // HOUR)
    await received(store, "px1", hour - 1 - 7 * 24, 99)  # below volume_min_events (100)
    engine = AlertEngine(store, clock, settings_for(), client)
    assert await engine.evaluate() == []
    await received(store, "px1", hour - 1 - 7 * 24, 1)
    assert [n.state for n in await engine.evaluate()] == ["firing"]


async def test_volume_silent_dataset_stays_firing(
    store: Store, clock: FrozenClock, client: httpx.AsyncClient
) -> None:
    await add_dataset(store, clock)
    hour = int(clock.now() // HOUR)
    await received(store, "px1", hour - 2 - 7 * 24, 400)
    engine = AlertEngine(store, clock, settings_for(), client)
    assert [n.state for n in await engine.evaluate()] == ["firing"]
    # A week later both windows are empty: nothing arrived again, the alert stays.
    clock.advance(WEEK)
    assert await engine.evaluate() == []
    assert len(await firing_alerts(store)) == 1
    await received(store, "px1", int(clock.now() // HOUR) - 1, 1)
    assert [n.state for n in await engine.evaluate()] == ["resolved"]


async def test_destination_paused_fires_once_and_clears_on_resume(
    store: Store, clock: FrozenClock, webhook: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    await add_dataset(store, clock)
    destination = await add_destination(store, clock)
    engine = AlertEngine(store, clock, settings_for(webhook), client)
    assert await engine.evaluate() == []

    await store.pause(
        destination,
        reason="Error validating access token: Session has expired (code 190)",
        fix="Replace the token: signalyard destinations set-token 1",
        now=clock.now(),
    )
    clock.advance(60)
    made = await engine.evaluate()
    assert [(n.kind, n.subject, n.state) for n in made] == [
        ("destination_paused", f"destination:{destination}", "firing")
    ]
    assert webhook.texts() == [
        '[Signalyard] FIRING: Destination paused. Destination "Meta CAPI"'
        f" (#{destination}, dataset px1) is paused: Error validating access token: Session"
        " has expired (code 190). Fix: Replace the token: signalyard destinations set-token 1."
        " Its events stay queued and are sent once it resumes."
    ]
    clock.advance(60)
    assert await engine.evaluate() == []

    await store.resume(destination, now=clock.now())
    clock.advance(3600 + 300)
    made = await engine.evaluate()
    assert [n.state for n in made] == ["resolved"]
    assert webhook.texts()[1] == (
        '[Signalyard] RESOLVED: Destination paused. Destination "Meta CAPI"'
        f" (#{destination}, dataset px1) is delivering again. Firing for 1 h 6 min."
    )
    clock.advance(60)
    assert await engine.evaluate() == []
    assert len(webhook.bodies) == 2


async def test_error_rate_over_a_sliding_hour(
    store: Store, clock: FrozenClock, client: httpx.AsyncClient
) -> None:
    await add_dataset(store, clock)
    a = await add_destination(store, clock, "a")
    b = await add_destination(store, clock, "b")
    c = await add_destination(store, clock, "c")
    hour = int(clock.now() // HOUR)  # half past
    await requests(store, a, hour, 20, 10)  # 50%
    await requests(store, b, hour, 5, 5)  # 100% but under error_min_requests (10)
    await requests(store, c, hour - 1, 40, 40)  # half of it in the window: 20 of 20
    await requests(store, c, hour - 2, 1000, 1000)  # outside
    engine = AlertEngine(store, clock, settings_for(), client)

    made = await engine.evaluate()
    assert sorted((n.subject, n.state) for n in made) == [
        (f"destination:{a}", "firing"),
        (f"destination:{c}", "firing"),
    ]
    by_subject = {n.subject: n.message for n in made}
    assert (
        "10 of 20 requests failed in the last hour (50%, alert above 20%)"
        in (by_subject[f"destination:{a}"])
    )
    assert "20 of 20 requests failed" in by_subject[f"destination:{c}"]

    # The next hour starts: c's failures left the window, a's hour is now the previous one.
    clock.advance(1800)
    made = await engine.evaluate()
    assert [(n.subject, n.state) for n in made] == [(f"destination:{c}", "resolved")]
    assert made[0].message.startswith('Delivery errors stopped for destination "c"')
    assert "no requests in the last hour." in made[0].message

    # a: a few failing requests (under the minimum) keep the alert; many good ones clear it.
    await requests(store, a, hour + 1, 2, 2)
    assert await engine.evaluate() == []
    await requests(store, a, hour + 1, 200, 0)
    made = await engine.evaluate()
    assert [(n.subject, n.state) for n in made] == [(f"destination:{a}", "resolved")]
    assert "12 of 222 requests failed in the last hour (5%)" in made[0].message


async def test_age_limit(store: Store, clock: FrozenClock, client: httpx.AsyncClient) -> None:
    await add_dataset(store, clock)
    destination = await add_destination(store, clock)
    now = clock.now()
    old = int(now - AGE_LIMIT_SECONDS + 10 * HOUR)  # 10 hours left: within age_hours (24)
    events = [
        AcceptedEvent("px1", "Purchase", "e-old", old, {"event_name": "Purchase"}),
        AcceptedEvent("px1", "Purchase", "e-new", int(now - HOUR), {"event_name": "Purchase"}),
    ]
    assert await store.ingest(events, now=now) == [True, True]
    engine = AlertEngine(store, clock, settings_for(), client)

    made = await engine.evaluate()
    assert [(n.kind, n.subject, n.state) for n in made] == [
        ("age_limit", f"destination:{destination}", "firing")
    ]
    assert "1 queued event within 24 hours of the platform's 168-hour limit" in made[0].message
    assert "the oldest 158 hours old" in made[0].message
    assert await engine.evaluate() == []

    claimed = await store.claim(destination, owner="w", limit=10, now=now, lease_seconds=30)
    old_row = [c.outbox_id for c in claimed if c.event_time == old]
    assert await store.settle_delivered(old_row, owner="w", now=now) == 1
    await store.release([c.outbox_id for c in claimed if c.event_time != old], owner="w")
    made = await engine.evaluate()
    assert [(n.kind, n.state) for n in made] == [("age_limit", "resolved")]


async def test_the_age_limit_is_each_destination_kind_s_own(
    store: Store, clock: FrozenClock, client: httpx.AsyncClient
) -> None:
    """An event 160 hours old is near Meta's 7-day limit, far from Google's 90 days."""
    from signalyard.sinks import REGISTRY

    await add_dataset(store, clock)
    meta = await add_destination(store, clock)
    google = REGISTRY["google"].example()
    other = await store.add_destination(
        "px1",
        name="Google Ads",
        kind="google",
        options=google.to_mapping(),
        secrets=google.to_secrets(),
        now=clock.now(),
    )
    now = clock.now()
    old = int(now - 160 * HOUR)
    await store.ingest(
        [AcceptedEvent("px1", "Purchase", "e-old", old, {"event_name": "Purchase"})], now=now
    )
    made = await AlertEngine(store, clock, settings_for(), client).evaluate()
    assert [(n.kind, n.subject) for n in made] == [("age_limit", f"destination:{meta}")]
    assert f"destination:{other.id}" not in {n.subject for n in made}


async def test_two_engines_raise_and_resolve_once(
    store_url: str, clock: FrozenClock, webhook: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    """Two processes (two stores on one database) evaluating at the same moment."""
    stores = [open_store(store_url), open_store(store_url)]
    for s in stores:
        await s.open()
    try:
        await add_dataset(stores[0], clock)
        destination = await add_destination(stores[0], clock)
        await stores[0].pause(destination, reason="token expired", fix="set-token", now=0)
        engines = [AlertEngine(s, clock, settings_for(webhook), client) for s in stores]
        for _ in range(3):
            made = await asyncio.gather(*(e.evaluate() for e in engines))
            clock.advance(1)
        assert sum(len(m) for m in made) == 0
        assert len(webhook.bodies) == 1
        assert len(await firing_alerts(stores[1])) == 1

        await stores[1].resume(destination, now=clock.now())
        for _ in range(3):
            await asyncio.gather(*(e.evaluate() for e in engines))
        assert [t.split(":")[0] for t in webhook.texts()] == [
            "[Signalyard] FIRING",
            "[Signalyard] RESOLVED",
        ]
    finally:
        for s in stores:
            await s.close()


async def test_email_to_a_local_smtp_server(
    store: Store, clock: FrozenClock, smtp_sink: SMTPSink, client: httpx.AsyncClient
) -> None:
    await add_dataset(store, clock)
    destination = await add_destination(store, clock)
    settings = settings_for(
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        email_to="ops@example.com, oncall@example.com",
        email_from="alerts@signalyard.example",
    )
    engine = AlertEngine(store, clock, settings, client)
    await store.pause(destination, reason="token expired", fix="set-token", now=clock.now())
    await engine.evaluate()
    await store.resume(destination, now=clock.now())
    await engine.evaluate()

    assert len(smtp_sink.mails) == 2
    first, second = smtp_sink.mails
    assert first.sender == "alerts@signalyard.example"
    assert first.recipients == ["ops@example.com", "oncall@example.com"]
    fired = message_from_string(first.data, policy=policy.default)
    assert fired["Subject"] == "[Signalyard] FIRING: Destination paused"
    assert fired["To"] == "ops@example.com, oncall@example.com"
    assert isinstance(fired, EmailMessage)
    body = fired.get_content()
    assert "is paused: token expired. Fix: set-token." in " ".join(body.split())
    lines = body.splitlines()
    assert lines[-4:-1] == [
        "Alert: destination_paused",
        f"About: destination:{destination}",
        "State: firing",
    ]
    back = message_from_string(second.data, policy=policy.default)
    assert back["Subject"] == "[Signalyard] RESOLVED: Destination paused"


async def test_failing_webhook_is_retried_and_does_not_block_resolution(
    store: Store,
    clock: FrozenClock,
    webhook: WebhookReceiver,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await add_dataset(store, clock)
    destination = await add_destination(store, clock)
    engine = AlertEngine(store, clock, settings_for(webhook), client)
    webhook.status = 500
    await store.pause(destination, reason="token expired", fix="set-token", now=clock.now())

    with caplog.at_level(logging.WARNING, logger="signalyard.alerts"):
        made = await engine.evaluate()
    assert [n.state for n in made] == ["firing"]
    assert len(await firing_alerts(store)) == 1  # raised though not notified
    assert "webhook answered HTTP 500" in caplog.text
    assert "secret-token" not in caplog.text
    assert [n.state for n in engine.notifier.pending("webhook")] == ["firing"]

    # Still failing; the destination recovers: resolved in the store all the same.
    await store.resume(destination, now=clock.now())
    clock.advance(60)
    made = await engine.evaluate()
    assert [n.state for n in made] == ["resolved"]
    assert await firing_alerts(store) == []
    assert [n.state for n in engine.notifier.pending("webhook")] == ["firing", "resolved"]

    # The receiver is back: both go, in order, at the next evaluation.
    webhook.status = 200
    clock.advance(60)
    assert await engine.evaluate() == []
    assert [t.split(":")[0] for t in webhook.texts()] == [
        "[Signalyard] FIRING",
        "[Signalyard] RESOLVED",
    ]
    assert engine.notifier.pending("webhook") == []


async def test_unreachable_webhook_and_expired_notifications(
    store: Store, clock: FrozenClock, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await add_dataset(store, clock)
    destination = await add_destination(store, clock)
    settings = replace(AlertSettings(), webhook_url=Secret("http://127.0.0.1:9/hooks/secret-token"))
    engine = AlertEngine(store, clock, settings, client)
    await store.pause(destination, reason="token expired", fix="set-token", now=clock.now())
    with caplog.at_level(logging.WARNING, logger="signalyard.alerts"):
        assert len(await engine.evaluate()) == 1
    assert "webhook unreachable" in caplog.text
    assert "secret-token" not in caplog.text
    assert len(engine.notifier.pending("webhook")) == 1
    clock.advance(3601)
    await engine.evaluate()
    assert engine.notifier.pending("webhook") == []  # given up after an hour


async def test_a_failing_rule_does_not_stop_the_others(
    sqlite_store: Store, clock: FrozenClock, client: httpx.AsyncClient
) -> None:
    store = sqlite_store
    await add_dataset(store, clock)
    destination = await add_destination(store, clock)
    await execute(store, "DROP TABLE stats_delivery")
    await store.pause(destination, reason="token expired", fix="set-token", now=clock.now())
    engine = AlertEngine(store, clock, settings_for(), client)
    made = await engine.evaluate()
    assert [n.kind for n in made] == ["destination_paused"]


async def test_deleted_subject_resolves(
    sqlite_store: Store, clock: FrozenClock, client: httpx.AsyncClient
) -> None:
    store = sqlite_store
    await add_dataset(store, clock)
    destination = await add_destination(store, clock)
    await store.pause(destination, reason="token expired", fix="set-token", now=clock.now())
    engine = AlertEngine(store, clock, settings_for(), client)
    assert len(await engine.evaluate()) == 1
    await execute(store, "DELETE FROM destinations WHERE id = ?", (destination,))
    made = await engine.evaluate()
    assert [(n.state, n.message) for n in made] == [
        ("resolved", f"Destination {destination} no longer exists. Firing for 0 min.")
    ]


async def test_run_evaluates_until_stopped(
    store: Store, clock: FrozenClock, webhook: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    await add_dataset(store, clock)
    destination = await add_destination(store, clock)
    await store.pause(destination, reason="token expired", fix="set-token", now=clock.now())
    engine = AlertEngine(store, clock, settings_for(webhook, interval_seconds=0.01), client)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop))
    for _ in range(500):
        if webhook.bodies:
            break
        await asyncio.sleep(0.01)
    await store.resume(destination, now=clock.now())
    for _ in range(500):
        if len(webhook.bodies) == 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert [t.split(":")[0] for t in webhook.texts()] == [
        "[Signalyard] FIRING",
        "[Signalyard] RESOLVED",
    ]

    off = AlertEngine(store, clock, settings_for(interval_seconds=0), client)
    await asyncio.wait_for(off.run(asyncio.Event()), 1)  # alerts off: returns at once


async def test_no_channels_still_records_alerts(
    sqlite_store: Store, clock: FrozenClock, client: httpx.AsyncClient
) -> None:
    await add_dataset(sqlite_store, clock)
    destination = await add_destination(sqlite_store, clock)
    await sqlite_store.pause(destination, reason="r", fix="f", now=clock.now())
    notifier = Notifier([], clock=clock)
    engine = AlertEngine(sqlite_store, clock, AlertSettings(), client, notifier=notifier)
    assert len(await engine.evaluate()) == 1
    assert len(await firing_alerts(sqlite_store)) == 1
