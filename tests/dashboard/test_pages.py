"""Each page with a day of seeded traffic: the numbers, the advice, the delivery controls, and
no personal data anywhere."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.clock import FrozenClock
from signalyard.dashboard import create_dashboard
from signalyard.insights import views
from signalyard.insights.alert_log import raise_alert, resolve_alert
from signalyard.secret import Secret
from signalyard.settings import DashboardSettings
from signalyard.sinks.meta.quality import MODEL as META_MODEL
from signalyard.store.sqlite import SQLiteStore

from .conftest import (
    CANARY_EMAIL,
    CANARY_PHONE,
    DATASET,
    PAGES,
    PASSWORD,
    Seeded,
    client_for,
    csrf_of,
    login,
    text_by_testid,
)

pytestmark = pytest.mark.anyio


async def page(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, str]:
    r = await client.get("/dashboard" + path, params=params)
    assert r.status_code == 200, r.text
    return text_by_testid(r.text)


async def test_overview_counts_and_charts(authed: httpx.AsyncClient, seeded: Seeded) -> None:
    r = await authed.get("/dashboard/")
    ids = text_by_testid(r.text)
    assert ids["total-received"] == "received 17"
    assert ids["total-stored"] == "stored 15"
    assert ids["total-duplicates"] == "duplicates dropped 2"
    assert ids["total-rejected"] == "refused 1"
    assert ids["total-delivered"] == "delivered 7"
    assert ids["total-failed"] == "failed (dead-lettered) 1"
    assert ids["total-queued"] == "queued now 28"
    assert ids["total-dead"] == "dead letters now 2"
    assert ids["overview-chart-events"].endswith("Purchase 12 PageView 4 Lead 1")
    assert ids["overview-chart-sources"].endswith("server API 11 browser 6")
    assert ids["overview-chart-delivery"].endswith("delivered 7 failed 1")
    assert r.text.count("<svg") == 3
    assert ids["overview-destination-meta"] == "meta active 7 1 13 2"
    assert ids["overview-destination-backup"] == "backup paused 0 0 15 0"


async def test_windows_and_datasets(
    authed: httpx.AsyncClient, store: SQLiteStore, seeded: Seeded, clock: FrozenClock
) -> None:
    await store.add_dataset("555", name="Blog", default_country=None, now=clock.now())
    # now is 2027-01-15 08:00 UTC; the first bar starts a window earlier (the hour after)
    for window, first_label, per in (
        ("24h", "14 Jan 09:00", "events per hour"),
        ("7d", "08 Jan 09h", "events per 6 hours"),
        ("30d", "16 Dec", "events per day"),
    ):
        r = await authed.get("/dashboard/", params={"window": window})
        assert f'data-testid="window-{window}" aria-current="true"' in r.text
        chart = re.search(r'id="overview-chart-events".*?</svg>', r.text, re.S)
        assert chart is not None
        assert f">{first_label.split(' ', 2)[-1] if window == '24h' else first_label}<" in (
            chart.group(0)
        )
        assert f">{per}</text>" in chart.group(0)
        assert text_by_testid(r.text)["total-received"] == "received 17"
    ids = await page(authed, "/", dataset="555")
    assert ids["total-received"] == "received 0"
    assert "nothing in this window" in ids["overview-chart-events"]
    # an unknown dataset shows the first one
    assert (await page(authed, "/", dataset="nope"))["total-received"] == "received 17"
    # the selector keeps the dataset across pages
    r = await authed.get("/dashboard/quality", params={"dataset": "555", "window": "30d"})
    assert 'href="/dashboard/delivery?dataset=555&amp;window=30d"' in r.text
    assert '<option value="555" selected>' in r.text


async def test_quality_scores_coverage_and_advice(
    authed: httpx.AsyncClient, store: SQLiteStore, seeded: Seeded, clock: FrozenClock
) -> None:
    ids = await page(authed, "/quality")
    found = await views.match_quality(
        store, DATASET, now=clock.now(), days=7, models={"meta": META_MODEL}
    )
    [meta] = found.kinds  # two destinations of one kind: one section
    assert (meta.kind, meta.destinations) == ("meta", ["meta", "backup"])
    expected = {q.event_name: q for q in meta.rows}
    assert ids["score-Purchase"] == f"{expected['Purchase'].score:.1f}" == "8.4"
    assert ids["coverage-Purchase-em"] == "100%"
    assert ids["coverage-Purchase-fbc"] == "0%"
    assert ids["coverage-PageView-fbc"] == "100%"
    assert ids["coverage-Purchase-client_ip_address"] == "100%"
    assert ids["coverage-Purchase-address"] == "0%"
    assert ids["quality-Purchase"].startswith("Purchase 10 8.4")
    assert (
        "fbc missing on 100% of Purchase events: landing pages lack the script"
        in (ids["advice-Purchase"])
    )


async def test_dedup_coverage_pairing_and_advice(authed: httpx.AsyncClient, seeded: Seeded) -> None:
    ids = await page(authed, "/dedup")
    # received, with event_id, duplicates, seen by the script, paired, rate, mismatches,
    # merged before sending, richer copy arrived late
    assert ids["dedup-Purchase"] == "Purchase 12 100% 2 2 2 100% 0 0 0"
    assert ids["dedup-PageView"] == "PageView 4 100% 0 4 0 0% 0 0 0"
    assert ids["dedup-Lead"] == "Lead 1 0% 0 0 0 n/a 0 0 0"
    assert "event_id missing on 100% of Lead events" in ids["dedup-advice-Lead"]
    assert "dedup-advice-Purchase" not in ids


def test_dedup_advice_rules() -> None:
    from signalyard.dashboard.pages import dedup_advice

    row = views.DedupRow("Purchase", 100, 0.5, 0, 40, 8, 0.2, 3)
    advice = dedup_advice(row)
    assert advice[0].startswith("event_id missing on 50% of Purchase events")
    assert advice[1].startswith("only 20% of the Purchase events the script saw")
    assert advice[2].startswith("3 event_id(s) of Purchase were also used for other event names")
    assert dedup_advice(views.DedupRow("Lead", 10, 1.0, 0, 5, 0, 0.0, 0)) == []


async def test_delivery_states_queues_and_dead_letters(
    authed: httpx.AsyncClient, seeded: Seeded
) -> None:
    ids = await page(authed, "/delivery")
    meta, backup = ids["destination-meta"], ids["destination-backup"]
    assert ids["state-meta"] == "active"
    assert ids["state-backup"] == "paused"
    assert ids["paused-reason-backup"] == "the access token expired"
    assert ids["paused-fix-backup"] == "replace it: signalyard destinations set-token backup"
    assert "paused-meta" not in ids
    assert ids["queued-meta"] == "queued 13"
    assert ids["dead-count-meta"] == "dead letters 2"
    assert ids["oldest-meta"] == "oldest queued event 2 h old"
    assert ids["no-dead-letters-backup"] == "No dead letters."
    invalid, refused = seeded.dead_ids
    assert "code 100/2804019" in ids[f"dead-letter-{invalid}"]
    assert ids[f"replay-{invalid}"] == "Replay anyway"  # with why it would fail again
    assert ids[f"replay-{refused}"] == "Replay"
    assert ids["replay-all-meta"] == "Replay the 1 replayable dead letter of meta"
    assert "Invalid parameter" in meta and "Invalid parameter" not in backup


async def test_recent_attempts_with_their_errors(
    authed: httpx.AsyncClient, store: SQLiteStore, seeded: Seeded, clock: FrozenClock
) -> None:
    from signalyard.outcome import Attempt
    from signalyard.store.base import AttemptRecord

    await store.record_attempt(
        AttemptRecord(
            seeded.backup,
            clock.now(),
            15,
            "paused",
            Attempt(401, 190, 463, "AbCdTrace", "Error validating access token", 120.0),
        )
    )
    ids = await page(authed, "/delivery")
    assert ids["attempts-backup"].endswith(
        "paused 401 code 190/463: Error validating access token AbCdTrace"
    )


async def test_replay_one_dead_letter(
    authed: httpx.AsyncClient, store: SQLiteStore, seeded: Seeded, clock: FrozenClock
) -> None:
    token = csrf_of((await authed.get("/dashboard/delivery")).text)
    second, first = seeded.dead_ids  # the replayable one first
    r = await authed.post(
        "/dashboard/delivery/replay",
        data={
            "csrf": token,
            "dataset": DATASET,
            "destination_id": str(seeded.meta),
            "outbox_id": str(first),
        },
        headers={"Origin": "http://dash.test"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/dashboard/delivery?dataset={DATASET}#destination-meta"
    assert [d.outbox_id for d in await store.dead_letters()] == [second]
    claimed = await store.claim(
        seeded.meta, owner="w", limit=100, now=clock.now(), lease_seconds=60
    )
    assert first in {c.outbox_id for c in claimed}
    ids = await page(authed, "/delivery")
    assert ids["flash"] == "1 dead letter(s) of meta queued again."
    assert f"replay-{first}" not in ids
    assert "flash" not in await page(authed, "/delivery")  # shown once


async def test_replay_all_of_a_destination_wakes_delivery(
    store: SQLiteStore, clock: FrozenClock, seeded: Seeded
) -> None:
    woken: list[bool] = []
    settings = DashboardSettings(password=Secret(PASSWORD))
    dashboard = create_dashboard(store, clock, settings, on_replay=lambda: woken.append(True))
    async with client_for(Starlette(routes=[Mount("/dashboard", app=dashboard)])) as client:
        await login(client)
        token = csrf_of((await client.get("/dashboard/delivery")).text)
        form = {"csrf": token, "dataset": DATASET, "destination_id": str(seeded.meta)}
        r = await client.post("/dashboard/delivery/replay", data=form)
        assert r.status_code == 303
        # the dead letter refused as invalid stays: it would be refused again
        assert [d.outbox_id for d in await store.dead_letters()] == seeded.dead_ids[:1]
        assert woken == [True]
        left = (
            " 1 refused by the platform as invalid (or past its age limit) were left as they"
            " are: sent again unchanged, they would fail again."
        )
        assert (await page(client, "/delivery"))["flash"] == (
            "1 dead letter(s) of meta queued again." + left
        )
        await client.post("/dashboard/delivery/replay", data=form)
        assert (await page(client, "/delivery"))["flash"] == "Nothing replayed." + left
        assert woken == [True]
        # a destination of another dataset is not touched from this one
        other = {**form, "dataset": "555"}
        await client.post("/dashboard/delivery/replay", data=other)
        assert "No such destination" in (await page(client, "/delivery"))["flash"]


async def test_diagnostics(authed: httpx.AsyncClient, seeded: Seeded) -> None:
    ids = await page(authed, "/diagnostics")
    assert ids["diagnostic-late"].startswith(
        "events sent late (over an hour after they happened) 1 5.6% PageView"
    )
    assert ids["diagnostic-generated_ids"].startswith("events without an event_id 1 5.6% Lead")
    assert ids["diagnostic-purchase_without_value"].startswith("Purchase without value 1")


async def test_alerts_page_and_banner(
    authed: httpx.AsyncClient, store: SQLiteStore, seeded: Seeded, clock: FrozenClock
) -> None:
    await raise_alert(store, "volume_drop", f"dataset:{DATASET}", "volume fell", now=0.0)
    await resolve_alert(store, "volume_drop", f"dataset:{DATASET}", now=clock.now())
    r = await authed.get("/dashboard/alerts")
    assert '<h1 id="page-title">Alerts</h1>' in r.text
    rows = [
        v for k, v in text_by_testid(r.text).items() if k.startswith("alert-") and k[6:].isdigit()
    ]
    assert rows[0].startswith("firing destination_paused")
    assert "backup is paused: the access token expired" in rows[0]
    assert rows[1].startswith("resolved volume_drop")
    ids = await page(authed, "/quality")
    assert ids["alerts-firing-count"] == "1"
    assert ids["alert-banner"] == "1 alert firing : backup is paused: the access token expired"


async def test_no_dataset_yet(sqlite_url: str, clock: FrozenClock) -> None:
    store = SQLiteStore(sqlite_url)
    await store.open()
    try:
        settings = DashboardSettings(password=Secret(PASSWORD))
        app = Starlette(routes=[Mount("/dashboard", app=create_dashboard(store, clock, settings))])
        async with client_for(app) as client:
            await login(client)
            for path in PAGES:
                ids = await page(client, path)
                assert path == "/alerts" or "No dataset yet" in ids["no-dataset"]
    finally:
        await store.close()


async def test_no_personal_data_on_any_page(authed: httpx.AsyncClient, seeded: Seeded) -> None:
    email_hash = hashlib.sha256(CANARY_EMAIL.encode()).hexdigest()
    phone_digits = re.sub(r"\D", "", CANARY_PHONE)
    assert email_hash in seeded.user_values  # the store holds it hashed...
    forbidden = {CANARY_EMAIL, "privacy.canary", email_hash, phone_digits, *seeded.user_values}
    for path in PAGES:
        for window in ("24h", "7d", "30d"):
            html = (await authed.get("/dashboard" + path, params={"window": window})).text
            for value in forbidden:  # ...and no page shows it, hashed or not
                assert value not in html, (path, value)


async def test_delivery_shows_each_destinations_mode(
    authed: httpx.AsyncClient, store: SQLiteStore, seeded: Seeded, clock: FrozenClock
) -> None:
    ids = await page(authed, "/delivery")
    assert ids["mode-meta"] == "live" and ids["mode-backup"] == "live"
    assert ids["mode-note-meta"] == "live: events go to the platform"
    await store.set_options(
        seeded.meta, {"pixel_id": DATASET, "graph_url": "sandbox"}, now=clock.now()
    )
    await store.set_options(
        seeded.backup, {"pixel_id": DATASET, "test_event_code": "TEST42"}, now=clock.now()
    )
    ids = await page(authed, "/delivery")
    assert ids["mode-meta"] == "sandbox" and ids["mode-backup"] == "test"
    assert "nothing reaches the platform" in ids["mode-note-meta"]
    assert (
        "signalyard destinations update backup --unset test_event_code" in (ids["mode-note-backup"])
    )
