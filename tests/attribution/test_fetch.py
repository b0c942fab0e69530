"""Claims fetched from each platform's reporting API (``signalyard attribution
fetch-claims``): every kind whose spec declares a reporting API, without being named here,
against its own sandbox, through the real ingest, worker, sink and sandbox; and the CLI."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from signalyard.attribution.claims import Claim, load_claims, save_claims
from signalyard.attribution.fetch import ClaimsRefresher, fetch_claims, fetched_lines
from signalyard.clock import FrozenClock
from signalyard.delivery.worker import Worker
from signalyard.sandbox.meta import SandboxState, create_app
from signalyard.sandbox.registry import SANDBOXES, served
from signalyard.settings import DeliverySettings
from signalyard.sinks import REGISTRY, SANDBOX
from signalyard.sources.ingest import Ingestor
from signalyard.store.sqlite import SQLiteStore
from tests.sinks.kit import add, cli, serve_sandbox
from tests.sinks.test_conformance import raw_event

pytestmark = pytest.mark.anyio
DATASET = "1234567890"
SANDBOX_URL = "http://sandboxes.test"
REPORTING = sorted(k for k, s in REGISTRY.items() if s.reporting is not None)
FAST = DeliverySettings(concurrency=2, backoff_base_seconds=1.0, backoff_max_seconds=30.0)


def test_the_platforms_with_a_reporting_api() -> None:
    """Every platform but GA4 (no ad spend) reports its claims; GA4's are imported."""
    assert set(REPORTING) == set(REGISTRY) - {"ga4"}


def _event(i: int, now: float) -> dict[str, Any]:
    """The conformance suite's Purchase, with every platform's click id."""
    event = raw_event(i, now)
    event["user_data"]["fbc"] = f"fb.1.{int((now - 3600) * 1000)}.fbclid-{i}"
    event["click_ids"].update({"ScCid": f"sc-{i}", "epik": f"dj0y-{i}", "rdt_cid": f"rdt-{i}"})
    return event


async def _delivered(kind: str, store: SQLiteStore, clock: FrozenClock, n: int) -> Any:
    """A destination of ``kind`` (its example config, its reporting options) that delivered
    ``n`` purchases to its sandbox; the served sandboxes (an ASGI app)."""
    spec, sandbox = REGISTRY[kind], SANDBOXES[kind]
    assert spec.reporting is not None
    state = sandbox.new_state(clock=clock)
    app = served({kind: sandbox.create_app(clock=clock, state=state)})
    await store.add_dataset(DATASET, name="shop", default_country="US", now=clock.now())
    example = spec.example()
    await store.add_destination(
        DATASET,
        name=f"{kind}-claims",
        kind=kind,
        options={
            **example.to_mapping(),
            **{k: SANDBOX for k in spec.url_options},
            **spec.reporting.example,
        },
        secrets=example.to_secrets(),
        now=clock.now(),
    )
    dataset = await store.get_dataset(DATASET)
    assert dataset is not None
    ingestor = Ingestor(
        store,
        clock,
        default_country=None,
        max_future_seconds=600,
        identity_by_kind={k: s.identity for k, s in REGISTRY.items()},
    )
    raw = [_event(i, clock.now()) for i in range(n)]
    assert (await ingestor.ingest(raw, dataset, source="graph_api")).stored == n
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        worker = Worker(store, FAST, clock=clock, client=client, sandbox_url=SANDBOX_URL)
        for _ in range(20):
            if not await worker.run_once():
                clock.advance(61)
    assert len(sandbox.received(state)) == n
    return app


@pytest.mark.parametrize("kind", REPORTING)
async def test_what_a_platform_claims_is_fetched_from_its_sandbox_and_kept(
    kind: str, sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    app = await _delivered(kind, sqlite_store, clock, 3)
    today = datetime.datetime.fromtimestamp(clock.now(), datetime.UTC).date()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        book = {
            "account": {"id": "1234567890", "currency": "EUR", "time_zone": "UTC"},
            "spend": [{"day": today.isoformat(), "campaign_id": "1", "amount": "10.50"}],
        }
        r = await client.post(f"{SANDBOX_URL}/sandbox/{kind}/_sandbox/reporting", json=book)
        assert r.status_code == 200, r.text
        # an older figure of the same day is replaced; another day is kept
        stale = Claim(
            kind, today.isoformat(), "Sandbox campaign", "EUR", 99, Decimal(9), Decimal(9)
        )
        older = Claim(kind, "2020-01-01", "x", "EUR", 1, Decimal(1), Decimal(1))
        await save_claims(sqlite_store, DATASET, [stale, older], source="csv", now=0)
        results = await fetch_claims(
            sqlite_store,
            DATASET,
            client=client,
            since=today - datetime.timedelta(days=1),
            until=today,
            sandbox_url=SANDBOX_URL,
            now=clock.now(),
        )
    (fetched,) = results
    assert fetched.error is None and fetched.report is not None, fetched
    assert (fetched.report.currency, fetched.report.time_zone) == ("EUR", "UTC")
    claims = [c for c in await load_claims(sqlite_store, DATASET) if c.platform == kind]
    assert claims == [
        older,
        Claim(
            kind,
            today.isoformat(),
            "Sandbox campaign",
            "EUR",
            3.0,
            Decimal("127.5"),
            Decimal("10.50"),
        ),
    ]


async def test_a_refusal_keeps_the_earlier_claims_and_says_the_fix(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    app = await _delivered("meta", sqlite_store, clock, 1)
    today = datetime.datetime.fromtimestamp(clock.now(), datetime.UTC).date()
    kept = Claim("meta", today.isoformat(), "c", "USD", 1, Decimal(1), Decimal(1))
    await save_claims(sqlite_store, DATASET, [kept], source="csv", now=0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        await client.post(
            f"{SANDBOX_URL}/sandbox/meta/_sandbox/reporting", json={"account": {"id": "42"}}
        )
        (fetched,) = await fetch_claims(
            sqlite_store,
            DATASET,
            client=client,
            since=today,
            until=today,
            sandbox_url=SANDBOX_URL,
            now=clock.now(),
        )
    assert fetched.report is None
    assert fetched.error is not None and "code 100, subcode 33" in fetched.error
    assert fetched.fix is not None and "ad_account_id" in fetched.fix
    assert await load_claims(sqlite_store, DATASET) == [kept]


async def test_a_range_backwards_or_too_long_is_refused(sqlite_store: SQLiteStore) -> None:
    day = datetime.date(2026, 12, 1)
    for since, until in (
        (day, day - datetime.timedelta(days=1)),
        (day - datetime.timedelta(days=400), day),
    ):
        with pytest.raises(ValueError):
            await fetch_claims(
                sqlite_store,
                DATASET,
                client=httpx.AsyncClient(),
                since=since,
                until=until,
                sandbox_url=SANDBOX_URL,
                now=0,
            )


def test_fetch_claims_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serve: Callable[..., str]
) -> None:
    token = "EAAB-claims-cli-token-0123456789"
    state = SandboxState()
    app = create_app(state=state)
    run = cli(tmp_path, monkeypatch, token)
    serve_sandbox(serve, monkeypatch, "meta", app)
    add(
        run,
        "meta",
        "shop-meta",
        ["pixel_id=555000", "ad_account_id=act_777", "graph_url=sandbox"],
        {"access_token": token},
    )
    add(run, "meta", "no-account", ["pixel_id=555001"], {"access_token": token})
    today = datetime.datetime.now(datetime.UTC).date()
    app.state.reporting.configure(
        {
            "account": {"id": "777", "currency": "EUR", "time_zone": "UTC"},
            "campaigns": [{"id": "9", "name": "Winter", "clicks": [{"id": "fbclid-cli"}]}],
            "spend": [{"day": today.isoformat(), "campaign_id": "9", "amount": "40"}],
        }
    )
    now = time.time()
    purchase = {
        "event_name": "Purchase",
        "event_time": int(now) - 30,
        "event_id": "cli-1",
        "action_source": "website",
        "event_source_url": "https://shop.example/thanks",
        "user_data": {
            "em": ["a" * 64],
            "client_ip_address": "203.0.113.9",
            "client_user_agent": "Mozilla/5.0",
            "fbc": f"fb.1.{int((now - 600) * 1000)}.fbclid-cli",
        },
        "custom_data": {"value": "80.00", "currency": "EUR"},
    }
    url = serve(app)
    sent = httpx.post(
        f"{url}/v26.0/555000/events", json={"data": [purchase], "access_token": token}
    )
    assert sent.status_code == 200, sent.text

    out = run("attribution", "fetch-claims", "--dataset", "123").output
    assert f"claims of {today - datetime.timedelta(days=6)} .. {today}" in out
    assert "shop-meta (meta): 1 row(s) from account 777 (EUR, UTC;" in out
    assert "1 conversion(s), value 80.00, spend 40.00 EUR" in out
    assert "no-account (meta): skipped: set the option ad_account_id" in out
    report = run("attribution", "report", "--dataset", "123", "--format", "csv").output
    # the platform claims the order it never sent us: claimed ROAS 2.00, true ROAS 0.00
    assert "campaign:meta,winter,,EUR,0,0,,,,,1.0,80.00,40,0.00,2.00" in report

    run("destinations", "update", "shop-meta", "--option", "ad_account_id=888")
    failed = run("attribution", "fetch-claims", "--dataset", "123", code=1).output
    assert (
        "shop-meta (meta): FAILED: Meta refused the Insights request (code 100, subcode 33)"
        in failed
    )
    assert "fix: check ad_account_id (act_888)" in failed
    backwards = run(
        "attribution", "fetch-claims", "--since", "2026-12-02", "--until", "2026-12-01", code=2
    ).output
    assert "before since" in backwards


async def test_the_worker_refreshes_the_claims_on_its_schedule_and_never_fails(
    sqlite_store: SQLiteStore, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = await _delivered("meta", sqlite_store, clock, 2)

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app))

    refresh = ClaimsRefresher(
        sqlite_store, clock, every_seconds=3600, days=7, sandbox_url=SANDBOX_URL, client=client
    )
    assert await refresh() == 0  # started in the background: the worker goes on
    assert refresh.running is not None and await refresh.running == 1
    [claim] = await load_claims(sqlite_store, DATASET)
    assert (claim.conversions, claim.value) == (2.0, Decimal("85.0"))
    first = refresh.running
    await refresh()
    assert refresh.running is first  # not yet due
    async with client() as c:
        await c.post(
            f"{SANDBOX_URL}/sandbox/meta/_sandbox/reporting", json={"account": {"id": "42"}}
        )
    clock.advance(3600)
    with caplog.at_level("WARNING"):
        await refresh()
        assert refresh.running is not first and await refresh.running == 0
    assert "claims of destination meta-claims (meta) not kept" in caplog.text
    assert "fix: check ad_account_id" in caplog.text
    assert await load_claims(sqlite_store, DATASET) == [claim]  # kept


async def test_a_round_over_its_deadline_stops_and_says_so(
    sqlite_store: SQLiteStore, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    await _delivered("meta", sqlite_store, clock, 1)

    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(30)
        return httpx.Response(500)

    refresh = ClaimsRefresher(
        sqlite_store,
        clock,
        every_seconds=3600,
        days=1,
        sandbox_url=SANDBOX_URL,
        client=lambda: httpx.AsyncClient(transport=httpx.MockTransport(slow)),
        deadline_seconds=0.2,
    )
    with caplog.at_level("WARNING"):
        assert await refresh.run_round() == 0
    assert "took over 0 s: stopped" in caplog.text


async def _add_meta(store: SQLiteStore, clock: FrozenClock, name: str, **options: str) -> None:
    example = REGISTRY["meta"].example()
    await store.add_destination(
        DATASET,
        name=name,
        kind="meta",
        options={**example.to_mapping(), "graph_url": SANDBOX, **options},
        secrets=example.to_secrets(),
        now=clock.now(),
    )


async def _fetch(app: Any, store: SQLiteStore, clock: FrozenClock, **kw: Any) -> list[Any]:
    today = datetime.datetime.fromtimestamp(clock.now(), datetime.UTC).date()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        await client.post(
            f"{SANDBOX_URL}/sandbox/meta/_sandbox/reporting",
            json={
                "account": {"id": "1234567890", "currency": "EUR", "time_zone": "UTC"},
                "spend": [{"day": today.isoformat(), "campaign_id": "1", "amount": "7"}],
            },
        )
        return await fetch_claims(
            store,
            DATASET,
            client=client,
            since=today,
            until=today,
            sandbox_url=SANDBOX_URL,
            now=clock.now(),
            **kw,
        )


async def test_a_platform_s_claims_are_replaced_only_when_all_its_accounts_answer(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    app = await _delivered("meta", sqlite_store, clock, 2)
    await _add_meta(sqlite_store, clock, "meta-other", ad_account_id="999")  # the sandbox: 404
    today = datetime.datetime.fromtimestamp(clock.now(), datetime.UTC).date().isoformat()
    kept = Claim("meta", today, "c", "USD", 1, Decimal(1), Decimal(1))
    await save_claims(sqlite_store, DATASET, [kept], source="csv", now=0)
    answered, refused = await _fetch(app, sqlite_store, clock)
    assert answered.report is not None and answered.not_kept is not None
    assert "meta-other did not answer" in answered.not_kept
    assert refused.error is not None
    assert await load_claims(sqlite_store, DATASET) == [kept]
    # asked for one destination of two: the platform's claims stay as they were too
    [one] = await _fetch(app, sqlite_store, clock, destination="meta-claims")
    assert one.not_kept is not None and "meta-other" in one.not_kept
    assert await load_claims(sqlite_store, DATASET) == [kept]
    lines = fetched_lines([answered, refused])
    assert any(line.startswith("      not kept: meta-other did not answer") for line in lines)


async def test_the_same_claims_are_fetched_once_and_an_account_read_once(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    app = await _delivered("meta", sqlite_store, clock, 2)
    await _add_meta(sqlite_store, clock, "meta-twin", ad_account_id="1234567890")
    await _add_meta(
        sqlite_store, clock, "meta-wide", ad_account_id="1234567890", claims_window="28d_click"
    )
    first, twin, wide = await _fetch(app, sqlite_store, clock)
    assert (twin.same_as, twin.report) == ("meta-claims", None)
    assert first.report is not None and first.not_kept is None
    # the 28-day window counts the same two purchases again: one reading per account
    assert wide.report is not None and wide.not_kept is not None
    assert "meta-claims reads account 1234567890 already" in wide.not_kept
    [claim] = await load_claims(sqlite_store, DATASET)
    assert (claim.conversions, claim.value, claim.spend) == (2.0, Decimal("85.0"), Decimal(7))


async def test_a_refused_config_keeps_the_claims_and_a_file_s_rows_stay(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    app = await _delivered("meta", sqlite_store, clock, 1)
    today = datetime.datetime.fromtimestamp(clock.now(), datetime.UTC).date().isoformat()
    imported = Claim("meta", today, "from a file", "USD", 5, Decimal(5), Decimal(5))
    await save_claims(sqlite_store, DATASET, [imported], source="meta.csv", now=0)
    broken = await sqlite_store.add_destination(
        DATASET,
        name="meta-broken",
        kind="meta",
        options={"pixel_id": "1", "graph_url": SANDBOX, "claims_window": "9d_click"},
        secrets=REGISTRY["meta"].example().to_secrets(),
        now=clock.now(),
    )
    refused, answered = await _fetch(app, sqlite_store, clock)  # in name order
    assert refused.error is not None and "claims_window" in refused.error
    assert answered.not_kept is not None and "meta-broken" in answered.not_kept
    assert await load_claims(sqlite_store, DATASET) == [imported]
    await sqlite_store.remove_destination(broken.id, drop_queue=True)
    [answered] = await _fetch(app, sqlite_store, clock)
    assert answered.not_kept is None
    kept = await load_claims(sqlite_store, DATASET)
    assert imported in kept  # the file's row stays beside the fetched one
    assert [c.campaign for c in kept] == ["Sandbox campaign", "from a file"]


async def test_a_fresh_install_s_sandbox_destination_fetches_its_claims(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    from signalyard.runtime import DEMO_DATASET, SANDBOX_DESTINATION, bootstrap
    from signalyard.settings import Settings

    assert await bootstrap(sqlite_store, Settings(), clock) is not None
    state = SANDBOXES["meta"].new_state(clock=clock)
    app = served({"meta": SANDBOXES["meta"].create_app(clock=clock, state=state)})
    today = datetime.datetime.fromtimestamp(clock.now(), datetime.UTC).date()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        (fetched,) = await fetch_claims(
            sqlite_store,
            DEMO_DATASET,
            client=client,
            since=today,
            until=today,
            sandbox_url=SANDBOX_URL,
            now=clock.now(),
        )
    assert fetched.destination == SANDBOX_DESTINATION
    assert fetched.report is not None and fetched.report.currency == "USD"
