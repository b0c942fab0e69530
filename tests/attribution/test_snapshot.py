"""Reports kept in the store (:mod:`signalyard.attribution.snapshot`): computed once per
profile for every lens and equal to a live run's report; read again while fresh, computed
again when new events, their age, or imported rates make them stale (at once, or in the
background while the kept one is shown); a report missing rates kept as that error; an older
computation never replacing a newer one (SQLite and PostgreSQL); the worker's refresh round;
a cancelled computation stopping its thread; the dashboard's note on the kept report."""

from __future__ import annotations

import asyncio
import datetime
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.attribution import model, rounds, snapshot
from signalyard.attribution.claims import Claim
from signalyard.attribution.convert import convert
from signalyard.attribution.engine import SETTLE_SECONDS, Attributor
from signalyard.attribution.kept import basis_of, is_due, newest_event, save_kept
from signalyard.attribution.model import LENSES, Attribution, Click, Order, Touch
from signalyard.attribution.rates import Rate, load_rates, save_rates
from signalyard.attribution.refresh import ReportRefresher
from signalyard.attribution.report import Report, build_report
from signalyard.attribution.rollup import DayPart
from signalyard.attribution.snapshot import (
    MAX_AGE_SECONDS,
    Busy,
    Got,
    Kept,
    Reports,
    Stopped,
    compute,
    is_fresh,
    load_days,
    load_kept,
)
from signalyard.cli.simulate import registry_platforms
from signalyard.clock import FrozenClock
from signalyard.dashboard import create_dashboard
from signalyard.delivery.worker import Worker
from signalyard.runtime import AttributionStep, before_prune, make_attributor
from signalyard.secret import Secret
from signalyard.settings import AttributionSettings, DashboardSettings, DeliverySettings, Settings
from signalyard.simulate.generator import Population, generate
from signalyard.simulate.runner import DATASET as SIM_DATASET
from signalyard.simulate.runner import simulate
from signalyard.sources.ingest import Ingestor
from signalyard.store import dual
from signalyard.store.base import Store
from signalyard.store.sqlite import SQLiteStore
from tests.conftest import in_thread
from tests.dashboard.conftest import (
    PASSWORD,
    authed,
    client,
    client_for,
    login,
    store,
    text_by_testid,
)
from tests.dashboard.test_attribution_page import PATH, orders
from tests.sources.conftest import DATASET as SHOP_DATASET
from tests.sources.test_shopify import Shop, fixture

__all__ = ["authed", "client", "orders", "store"]  # the dashboard's fixtures, used below

pytestmark = pytest.mark.anyio

DAY = 86400.0
START = datetime.datetime(2027, 1, 4, tzinfo=datetime.UTC).timestamp()
LATER = START + 40 * DAY
"""After the simulated population's last event."""
UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
PROFILE = "platform-default"
LENS = "last_click"


# fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database holding a simulated population of 250 customers (fixed seed), its
    evidence taken in: each test works on a copy."""
    directory = tmp_path_factory.mktemp("snapshot")
    journeys = generate(
        Population(customers=250), seed=5, start=START, platforms=registry_platforms()
    )
    url = f"sqlite:///{directory / 'sim.db'}"
    result = in_thread(lambda: asyncio.run(simulate(journeys, database_url=url, start=START)))
    assert result.run is not None and len(result.run.orders) > 100
    return directory / "sim.db"


@pytest.fixture
async def sim_store(simulated: Path, tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    for suffix in ("", "-wal", "-shm", ".secret-key"):
        source = Path(f"{simulated}{suffix}")
        if source.exists():
            shutil.copy(source, tmp_path / f"sim.db{suffix}")
    s = SQLiteStore(f"sqlite:///{tmp_path / 'sim.db'}")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def later() -> FrozenClock:
    return FrozenClock(LATER)


def _landing(now: float, n: str, fbp: str, kind: str, click_id: str) -> dict[str, Any]:
    return {
        "event_name": "PageView",
        "event_time": int(now),
        "event_id": f"pv-{n}",
        "action_source": "website",
        "event_source_url": f"https://shop.example.com/?{kind}={click_id}&utm_campaign=Spring",
        "user_data": {
            "fbp": fbp,
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
        },
        "click_ids": {kind: {"id": click_id, "at": int(now * 1000)}},
    }


def _purchase(now: float, order_id: str, value: float, fbp: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(now),
        "event_id": f"purchase-{order_id}",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/thank-you",
        "user_data": {"fbp": fbp, "client_ip_address": "203.0.113.7", "client_user_agent": "UA"},
        "custom_data": {"currency": "EUR", "value": value, "order_id": order_id},
    }


async def _send(store: Store, clock: FrozenClock, dataset_id: str, event: dict[str, Any]) -> None:
    ingestor = Ingestor(store, clock, default_country=None, max_future_seconds=600)
    dataset = await store.get_dataset(dataset_id)
    assert dataset is not None
    result = await ingestor.ingest([event], dataset, source="graph_api")
    assert result.stored == 1


async def add_order(
    store: Store, clock: FrozenClock, dataset_id: str, order_id: str, value: float = 10.0
) -> None:
    """A new order of a new shopper, a minute later."""
    clock.advance(60)
    await _send(
        store, clock, dataset_id, _purchase(clock.now(), order_id, value, f"fb.1.1.{order_id}")
    )


async def seed(store: Store, clock: FrozenClock) -> str:
    """A new dataset (its id unique: PostgreSQL keeps the evidence tables between tests) and
    three shoppers through the real ingest path: A clicks Meta then Google and orders (120),
    B clicks Meta and orders 10 days later (80), C orders without a click (30)."""
    dataset_id = f"77{uuid.uuid4().int % 10**10:010d}"
    await store.add_dataset(dataset_id, name="Shop", default_country=None, now=clock.now())
    await _send(store, clock, dataset_id, _landing(clock.now(), "1", "fb.1.1.B", "fbclid", "MB"))
    clock.advance(DAY)
    await _send(store, clock, dataset_id, _landing(clock.now(), "2", "fb.1.1.A", "fbclid", "MA"))
    clock.advance(DAY)
    await _send(store, clock, dataset_id, _landing(clock.now(), "3", "fb.1.1.A", "gclid", "GA"))
    clock.advance(3600)
    await _send(store, clock, dataset_id, _purchase(clock.now(), "1001", 120.0, "fb.1.1.A"))
    clock.advance(DAY)
    await _send(store, clock, dataset_id, _purchase(clock.now(), "1003", 30.0, "fb.1.1.C"))
    clock.advance(7 * DAY)
    await _send(store, clock, dataset_id, _purchase(clock.now(), "1002", 80.0, "fb.1.1.B"))
    clock.advance(120)
    return dataset_id


def count_credits(
    monkeypatch: pytest.MonkeyPatch,
) -> list[tuple[str, tuple[str, ...], str]]:
    """Wrap ``_credit_days``: each call's (profile, lenses, currency) is recorded."""
    calls: list[tuple[str, tuple[str, ...], str]] = []
    original = snapshot._credit_days

    def counted(
        evidence: Any,
        attributor: Attributor,
        profile: str,
        lenses: Sequence[str],
        tz: ZoneInfo,
        converter: Any,
        stop: threading.Event,
    ) -> tuple[int, int, dict[str, dict[str, DayPart]]]:
        calls.append((profile, tuple(lenses), converter.to if converter is not None else ""))
        return original(evidence, attributor, profile, lenses, tz, converter, stop)

    monkeypatch.setattr(snapshot, "_credit_days", counted)
    return calls


def forbid_credits(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: Any) -> Any:
        raise AssertionError("credited again")

    monkeypatch.setattr(snapshot, "_credit_days", never)


async def _compute(
    store: Store,
    attributor: Attributor,
    dataset_id: str,
    clock: FrozenClock,
    *,
    profile: str = PROFILE,
    lenses: Sequence[str] = (LENS,),
    tz: ZoneInfo = UTC,
    currency: str = "",
    asked: bool = True,
) -> list[Kept]:
    """As a page asks (the worker keeps such reports fresh)."""
    return await compute(
        store,
        attributor,
        dataset_id,
        profile=profile,
        lenses=lenses,
        tz=tz,
        currency=currency,
        rates_base="EUR",
        clock=clock,
        asked=asked,
    )


def _k(got: Got) -> Kept:
    """The kept report of ``got`` (one must be kept)."""
    assert got.kept is not None, got
    return got.kept


def refresher_of(
    store: Store,
    attributor: Attributor,
    clock: FrozenClock,
    *,
    profile: str = PROFILE,
    lens: str = LENS,
) -> ReportRefresher:
    """The worker's refresher: every 10 minutes, UTC, reports in each order's currency."""
    return ReportRefresher(
        store,
        attributor,
        clock,
        every_seconds=600,
        tz=UTC,
        profile=profile,
        lens=lens,
        currency="",
        rates_base="EUR",
    )


def _kept(kept: list[Kept], profile: str, lens: str, currency: str = "") -> Kept:
    [found] = [k for k in kept if (k.profile, k.lens, k.currency) == (profile, lens, currency)]
    return found


async def _until(condition: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


# 1. compute = a live run's report ----------------------------------------------------------


RANGES = [
    (None, None),
    (datetime.date(2027, 1, 10), datetime.date(2027, 1, 20)),
]


@pytest.mark.parametrize("profile", ["platform-default", "max"])
async def test_compute_keeps_each_lens_and_equals_a_live_run(
    sim_store: SQLiteStore,
    later: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    profile: str,
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    calls = count_credits(monkeypatch)
    claims = [Claim("google", "2027-01-12", "Spring", "EUR", 3.0, Decimal("99.90"), Decimal("10"))]
    kept = await _compute(
        store, attributor, SIM_DATASET, later, profile=profile, lenses=LENSES, tz=NEW_YORK
    )
    assert calls == [(profile, LENSES, "")]  # every lens in one pass
    assert sorted(k.lens for k in kept) == sorted(LENSES)
    assert sorted(await load_kept(store, SIM_DATASET), key=lambda k: k.lens) == sorted(
        kept, key=lambda k: k.lens
    )
    reports = Reports(store, attributor, later, tz=NEW_YORK, rates_base="EUR")
    for lens in LENSES:
        one = _kept(kept, profile, lens)
        assert one.through == await newest_event(store, SIM_DATASET)
        assert one.computed_at == later.now() and one.error is None
        run = await attributor.run(SIM_DATASET, profile=profile, lens=lens, sync=False)
        assert one.orders == len(run.orders) and one.shared_keys == run.shared_keys
        for since, until in RANGES:
            live = build_report(run, tz=NEW_YORK, since=since, until=until, claims=claims)
            got = await reports.report(one, since=since, until=until, claims=claims)
            assert got.to_json() == live.to_json(), (lens, since)
            assert live.ok and live.quality["orders"] > 0
    # the lenses differ (the comparison is per lens)
    first = await reports.report(
        _kept(kept, profile, "first_click"), since=None, until=None, claims=()
    )
    last = await reports.report(
        _kept(kept, profile, "last_click"), since=None, until=None, claims=()
    )
    assert first.to_json() != last.to_json()
    # the days of a range only
    since, until = RANGES[1]
    assert since is not None and until is not None
    days = await load_days(store, _kept(kept, profile, LENS), since, until)
    assert days and all(since.isoformat() <= d <= until.isoformat() for d in days)
    every = await load_days(store, _kept(kept, profile, LENS))
    assert len(every) > len(days)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_compute_and_load_round_trip_on_each_backend(
    kind: str, request: pytest.FixtureRequest, clock: FrozenClock
) -> None:
    from signalyard.store.postgres import PostgresStore

    s: Store = (
        SQLiteStore(request.getfixturevalue("sqlite_url"))
        if kind == "sqlite"
        else PostgresStore(request.getfixturevalue("pg_url"))
    )
    await s.open()
    try:
        dataset_id = await seed(s, clock)
        attributor = make_attributor(s, clock)
        kept = await _compute(s, attributor, dataset_id, clock, lenses=LENSES, tz=NEW_YORK)
        assert len(kept) == len(LENSES)
        assert sorted(await load_kept(s, dataset_id), key=lambda k: k.lens) == sorted(
            kept, key=lambda k: k.lens
        )
        reports = Reports(s, attributor, clock, tz=NEW_YORK, rates_base="EUR")
        for lens in LENSES:
            run = await attributor.run(dataset_id, profile=PROFILE, lens=lens, sync=False)
            assert len(run.orders) == 3
            got = await reports.report(
                _kept(kept, PROFILE, lens), since=None, until=None, claims=()
            )
            assert got.to_json() == build_report(run, tz=NEW_YORK).to_json(), lens
            assert got.ok and got.quality["orders"] == 3
        found = await reports.get(dataset_id, PROFILE, LENS, "")
        assert found.fresh and _k(found) == _kept(kept, PROFILE, LENS)
    finally:
        await s.close()


# 2. and 3. fresh and stale -----------------------------------------------------------------


async def test_get_computes_reuses_and_computes_again_after_a_new_event(
    sim_store: SQLiteStore, later: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    reports = Reports(store, attributor, later, tz=UTC, rates_base="EUR")
    calls = count_credits(monkeypatch)
    assert await load_kept(store, SIM_DATASET) == []
    first = await reports.get(SIM_DATASET, PROFILE, LENS, "")
    assert (first.fresh, first.refreshing) == (True, False)
    assert calls == [(PROFILE, (LENS,), "")]
    n = _k(first).orders
    assert n > 100
    assert await load_kept(store, SIM_DATASET) == [_k(first)]
    # no new event: read, not credited again
    forbid_credits(monkeypatch)
    later.advance(3600)
    again = await reports.get(SIM_DATASET, PROFILE, LENS, "")
    assert again == first
    assert await reports.is_fresh(_k(first))
    # a new event: stale, and (the last computation was short) computed again at once
    monkeypatch.undo()
    calls = count_credits(monkeypatch)
    await add_order(store, later, SIM_DATASET, "NEW-1")
    assert not await reports.is_fresh(_k(first))
    third = await reports.get(SIM_DATASET, PROFILE, LENS, "")
    assert (third.fresh, third.refreshing) == (True, False)
    assert _k(third).orders == n + 1 and _k(third).computed_at == later.now()
    assert _k(third).through != _k(first).through
    assert len(calls) == 1
    report = await reports.report(_k(third), since=None, until=None, claims=())
    assert report.quality["orders"] == n + 1


async def test_a_long_computation_is_done_in_the_background(
    sim_store: SQLiteStore, later: FrozenClock
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    reports = Reports(store, attributor, later, tz=UTC, rates_base="EUR", wait_seconds=0)
    first = await reports.get(SIM_DATASET, PROFILE, LENS, "")  # none kept: computed now
    assert first.fresh
    n = _k(first).orders
    net_before = _net(await reports.report(_k(first), since=None, until=None, claims=()))
    await add_order(store, later, SIM_DATASET, "NEW-2", 55.0)
    stale = await reports.get(SIM_DATASET, PROFILE, LENS, "")
    assert (stale.fresh, stale.refreshing) == (False, True)
    assert _k(stale) == _k(first)  # the old one, shown meanwhile
    also = await reports.get(SIM_DATASET, PROFILE, LENS, "")  # joins the running one
    assert _k(also) == _k(first) and not also.fresh

    async def fresh() -> bool:
        return (await reports.get(SIM_DATASET, PROFILE, LENS, "")).fresh

    await _until(fresh)
    done = await reports.get(SIM_DATASET, PROFILE, LENS, "")
    assert (done.fresh, done.refreshing, _k(done).orders) == (True, False, n + 1)
    report = await reports.report(_k(done), since=None, until=None, claims=())
    assert report.quality["orders"] == n + 1
    assert _net(report) == net_before + Decimal("55.00")


def _net(report: Report) -> Decimal:
    return sum((net for _d, _c, _n, net, _g in report.actual), Decimal(0))


async def test_a_kept_report_older_than_max_age_is_stale(
    sim_store: SQLiteStore, later: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    reports = Reports(store, attributor, later, tz=UTC, rates_base="EUR")
    first = await reports.get(SIM_DATASET, PROFILE, LENS, "")
    later.advance(MAX_AGE_SECONDS)
    assert await reports.is_fresh(_k(first))  # just as old as allowed
    later.advance(1)
    assert not await reports.is_fresh(_k(first))
    calls = count_credits(monkeypatch)
    again = await reports.get(SIM_DATASET, PROFILE, LENS, "")
    assert again.fresh and _k(again).computed_at == later.now() > _k(first).computed_at
    assert _k(again).through == _k(first).through and len(calls) == 1


async def test_another_time_zone_is_another_basis(
    sim_store: SQLiteStore, later: FrozenClock
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    utc = Reports(store, attributor, later, tz=UTC, rates_base="EUR")
    first = await utc.get(SIM_DATASET, PROFILE, LENS, "")
    kolkata = Reports(store, attributor, later, tz=ZoneInfo("Asia/Kolkata"), rates_base="EUR")
    assert not await kolkata.is_fresh(_k(first))
    assert await utc.is_fresh(_k(first))


# 4. one currency ---------------------------------------------------------------------------


async def test_a_report_in_one_currency_without_rates_is_kept_as_the_error(
    sim_store: SQLiteStore, later: FrozenClock
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    reports = Reports(store, attributor, later, tz=UTC, rates_base="EUR")
    missing = await reports.get(SIM_DATASET, PROFILE, LENS, "USD")
    assert missing.fresh and _k(missing).currency == "USD"
    error = _k(missing).error
    assert error is not None and "no exchange rate for USD on 2027-01-" in error
    assert await load_days(store, _k(missing)) == {}
    assert await reports.is_fresh(_k(missing))  # nothing changed: not computed again
    # rates imported: another basis, so stale, and computed again
    days = [datetime.date(2026, 12, 20) + datetime.timedelta(days=i) for i in range(80)]
    rates = [Rate("USD", d.isoformat(), Decimal("1.0843")) for d in days]
    before = await basis_of(store, attributor, tz=UTC, currency="USD", rates_base="EUR")
    await save_rates(store, rates, base="EUR", source="test", now=later.now())
    assert await basis_of(store, attributor, tz=UTC, currency="USD", rates_base="EUR") != before
    assert not await reports.is_fresh(_k(missing))
    got = await reports.get(SIM_DATASET, PROFILE, LENS, "USD")
    assert got.fresh and _k(got).error is None
    run = await attributor.run(SIM_DATASET, profile=PROFILE, lens=LENS, sync=False)
    claims = [Claim("meta", "2027-01-12", "", "EUR", 2.0, Decimal("100"), Decimal("20"))]
    converted, kept_claims = convert(run, claims, await load_rates(store, "EUR"), "USD", UTC)
    report = await reports.report(_k(got), since=None, until=None, claims=kept_claims)
    assert report.to_json() == build_report(converted, tz=UTC, claims=kept_claims).to_json()
    assert report.ok, report.checks
    assert {cur for _d, cur, *_ in report.actual} == {"USD"}
    # the report in each order's own currency is another one, kept beside
    own = await reports.get(SIM_DATASET, PROFILE, LENS, "")
    assert _k(own).currency == "" and len(await load_kept(store, SIM_DATASET)) == 2


# 5. an older computation never replaces a newer one -----------------------------------------


def _part(orders: int) -> DayPart:
    part = DayPart(
        loaded={"EUR": Decimal("1.10") * orders}, credited={"EUR": Decimal("1.10") * orders}
    )
    part.orders = part.loaded_orders = orders
    return part


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_an_older_computation_never_replaces_a_newer_one(
    kind: str, request: pytest.FixtureRequest
) -> None:
    from signalyard.store.postgres import PostgresStore

    s: Store = (
        SQLiteStore(request.getfixturevalue("sqlite_url"))
        if kind == "sqlite"
        else PostgresStore(request.getfixturevalue("pg_url"))
    )
    await s.open()
    try:
        dataset_id = f"88{uuid.uuid4().int % 10**10:010d}"

        def kept(at: float, orders: int) -> Kept:
            return Kept(dataset_id, PROFILE, LENS, "", "basis", f"through-{at}", at, 0.5, orders, 0)

        newer = kept(2000.0, 3)
        assert await save_kept(s, newer, {"2027-01-02": _part(3), "2027-01-03": _part(1)})
        older = kept(1000.0, 7)
        assert not await save_kept(s, older, {"2027-01-01": _part(7)})
        assert await load_kept(s, dataset_id) == [newer]
        days = await load_days(s, newer)
        assert {d: p.orders for d, p in days.items()} == {"2027-01-02": 3, "2027-01-03": 1}
        # a later one replaces it, days and all
        latest = kept(3000.0, 5)
        assert await save_kept(s, latest, {"2027-01-05": _part(5)})
        assert await load_kept(s, dataset_id) == [latest]
        assert {d: p.orders for d, p in (await load_days(s, latest)).items()} == {"2027-01-05": 5}
        # one begun at the same instant replaces it too
        same = Kept(dataset_id, PROFILE, LENS, "", "other", "t", 3000.0, 0.1, 6, 0, "an error")
        assert await save_kept(s, same, {})
        assert await load_kept(s, dataset_id) == [same]
        assert await load_days(s, same) == {}
        # through compute: a run begun earlier, finishing later, is not kept
        clock = FrozenClock(LATER)
        seeded = await seed(s, clock)
        attributor = make_attributor(s, clock)
        early_clock = FrozenClock(clock.now() - 600)
        kept_now = await _compute(s, attributor, seeded, clock)
        assert len(kept_now) == 1
        assert await _compute(s, attributor, seeded, early_clock) == []
        assert await load_kept(s, seeded) == kept_now
    finally:
        await s.close()


# 6. the worker's refresh -------------------------------------------------------------------


async def test_the_refresher_computes_the_default_and_then_only_stale_reports(
    sim_store: SQLiteStore, later: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    refresher = refresher_of(store, attributor, later, lens="linear")
    calls = count_credits(monkeypatch)
    # none kept: the settings' default is computed
    assert await refresher.run_round() == 1
    assert calls == [(PROFILE, ("linear",), "")]
    assert [(k.profile, k.lens) for k in await load_kept(store, SIM_DATASET)] == [
        (PROFILE, "linear")
    ]
    calls.clear()
    assert await refresher.run_round() == 0 and calls == []
    # pages asked for others
    await _compute(store, attributor, SIM_DATASET, later, lenses=["first_click", "last_click"])
    await _compute(store, attributor, SIM_DATASET, later, profile="max", lenses=["last_click"])
    calls.clear()
    assert await refresher.run_round() == 0 and calls == []
    # a new event: every one is stale; none is due before the refresh interval
    await add_order(store, later, SIM_DATASET, "NEW-3")
    assert await refresher.run_round() == 0 and calls == []
    # then each profile's lenses in one pass
    later.advance(600)
    assert await refresher.run_round() == 4
    assert calls == [
        ("max", ("last_click",), ""),
        (PROFILE, ("first_click", "last_click", "linear"), ""),
    ]
    kept = await load_kept(store, SIM_DATASET)
    assert len(kept) == 4 and len({k.orders for k in kept}) == 1
    assert all(k.computed_at == later.now() for k in kept)
    # only the stale ones: max computed again later, the others grow too old first
    calls.clear()
    later.advance(MAX_AGE_SECONDS / 2)
    # (a fresh report is not computed again: say max's run began now)
    assert await _compute(store, attributor, SIM_DATASET, later, profile="max") == []
    [mx] = [k for k in await load_kept(store, SIM_DATASET) if k.profile == "max"]
    assert await save_kept(
        store, Kept(**{**_fields(mx), "computed_at": later.now()}), await load_days(store, mx)
    )
    later.advance(MAX_AGE_SECONDS / 2 + 1)
    calls.clear()
    assert await refresher.run_round() == 3
    assert calls == [(PROFILE, ("first_click", "last_click", "linear"), "")]


async def test_the_refresher_rounds_start_in_the_background_at_most_every_period(
    sim_store: SQLiteStore, later: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    refresher = refresher_of(store, attributor, later)
    calls = count_credits(monkeypatch)
    assert await refresher() == 0
    first = refresher.running
    assert first is not None
    assert await first == 1
    assert await refresher() == 0
    assert refresher.running is first  # not yet: within the period
    later.advance(601)
    assert await refresher() == 0
    second = refresher.running
    assert second is not None and second is not first
    assert await second == 0  # nothing stale
    assert len(calls) == 1


async def test_a_failed_round_is_logged_not_raised(
    sim_store: SQLiteStore,
    later: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(snapshot, "_credit_days", broken)
    refresher = ReportRefresher(
        sim_store,
        make_attributor(sim_store, later),
        later,
        every_seconds=600,
        tz=UTC,
        profile=PROFILE,
        lens=LENS,
        currency="",
        rates_base="EUR",
    )
    with caplog.at_level("ERROR", logger="signalyard.attribution"):
        assert await refresher.run_round() == 0
    assert "refreshing the attribution reports failed" in caplog.text
    assert "disk on fire" in caplog.text
    assert await load_kept(sim_store, SIM_DATASET) == []


# 7. a cancelled computation stops its thread ---------------------------------------------------


async def test_a_cancelled_computation_stops_its_thread(
    sim_store: SQLiteStore, later: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    monkeypatch.setattr(snapshot, "STOP_EVERY", 1)
    started = threading.Event()
    finished = threading.Event()
    credited: list[str] = []
    outcome: list[BaseException | None] = []
    slow_attribute = model.attribute

    def slow(
        order: Order, clicks: Sequence[Click], touches: Sequence[Touch], *a: Any, **k: Any
    ) -> Attribution:
        credited.append(order.order_id)
        started.set()
        time.sleep(0.01)
        return slow_attribute(order, clicks, touches, *a, **k)

    original = snapshot._credit_days

    def watched(*args: Any) -> Any:
        try:
            result = original(*args)
        except BaseException as error:
            outcome.append(error)
            raise
        else:
            outcome.append(None)
            return result
        finally:
            finished.set()

    monkeypatch.setattr(snapshot, "attribute", slow)
    monkeypatch.setattr(snapshot, "_credit_days", watched)
    task = asyncio.get_running_loop().create_task(
        _compute(store, attributor, SIM_DATASET, later, lenses=LENSES)
    )
    deadline = time.monotonic() + 10
    while not started.is_set():
        assert time.monotonic() < deadline and not task.done()
        await asyncio.sleep(0.01)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled_at < 1  # let go at once
    assert await asyncio.to_thread(finished.wait, 5)
    assert len(outcome) == 1 and isinstance(outcome[0], Stopped)
    total = len((await attributor.run(SIM_DATASET, profile=PROFILE, sync=False)).orders)
    # stopped soon after: within an order or two of the cancel, far from the end
    assert len(credited) < len(LENSES) * total / 2
    at_stop = len(credited)
    await asyncio.sleep(0.1)
    assert len(credited) == at_stop  # nothing credited after the thread stopped
    assert await load_kept(store, SIM_DATASET) == []  # nothing kept


# 8. the dashboard's note ---------------------------------------------------------------------


async def test_the_page_shows_the_kept_report_and_whether_it_is_fresh(
    orders: None,
    authed: httpx.AsyncClient,
    store: SQLiteStore,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.dashboard.conftest import DATASET

    async def note() -> tuple[str, str]:
        r = await authed.get(PATH)
        assert r.status_code == 200, r.text
        ids = text_by_testid(r.text)
        start = r.text.index('data-testid="attribution-kept"')
        return r.text[start : r.text.index(">", start)], ids["attribution-kept"]

    attrs, text = await note()
    assert 'data-fresh="true"' in attrs and 'data-refreshing="false"' in attrs
    assert "from 2 order(s)" in text and "up to date" in text
    [kept] = await load_kept(store, DATASET)
    assert kept.orders == 2
    # viewed again: read, not credited again
    forbid_credits(monkeypatch)
    attrs, _ = await note()
    assert 'data-fresh="true"' in attrs
    monkeypatch.undo()
    # the kept one took long to compute: a new event is credited in the background meanwhile
    assert await save_kept(
        store, Kept(**{**_fields(kept), "seconds": 100.0}), await load_days(store, kept)
    )
    await add_order(store, clock, DATASET, "2001", 42.0)
    # not due before ten times as long as it took: shown as kept, nothing started
    attrs, text = await note()
    assert 'data-fresh="false"' in attrs and 'data-refreshing="false"' in attrs
    clock.advance(1000)
    attrs, text = await note()
    assert 'data-fresh="false"' in attrs and 'data-refreshing="true"' in attrs
    assert "from 2 order(s)" in text and "being credited again in the background" in text

    async def fresh() -> bool:
        attrs, _ = await note()
        return 'data-fresh="true"' in attrs

    await _until(fresh)
    attrs, text = await note()
    assert "from 3 order(s)" in text and 'data-refreshing="false"' in attrs


def _fields(kept: Kept) -> dict[str, Any]:
    return {name: getattr(kept, name) for name in Kept.__dataclass_fields__}


# changes without an event ----------------------------------------------------------------


async def test_a_refund_without_an_event_makes_the_kept_report_stale(shop: Shop) -> None:
    gw = shop.gw
    paid = fixture("shopify_orders_paid.json")
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    attributor = make_attributor(gw.store, gw.clock)
    reports = Reports(gw.store, attributor, gw.clock, tz=UTC, rates_base="EUR")
    before = await reports.get(SHOP_DATASET, PROFILE, LENS, "")
    gross = Decimal(paid["current_total_price"])
    shown = await reports.report(_k(before), since=None, until=None, claims=())
    assert _net(shown) == gross
    gw.clock.advance(60)
    refund = fixture("shopify_refunds_create.json")
    assert (await shop.deliver("refunds/create", refund)).is_success
    live = await attributor.run(SHOP_DATASET, profile=PROFILE, lens=LENS)
    net = live.orders[0].net
    assert net < gross  # the order's net revenue went down
    after = await reports.get(SHOP_DATASET, PROFILE, LENS, "")
    shown = await reports.report(_k(after), since=None, until=None, claims=())
    assert _net(shown) == net


# after the review: the gate, the lease, settling, due, the time zone, stopping, the page ----


class Gate:
    """``_credit_days`` held until :attr:`release` is set (each call, in its thread); one
    whose ``stop`` is set meanwhile raises :class:`Stopped` and says so (:attr:`saw_stop`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.saw_stop = threading.Event()
        self.calls = 0
        original = snapshot._credit_days

        def held(
            evidence: Any,
            attributor: Attributor,
            profile: str,
            lenses: Sequence[str],
            tz: ZoneInfo,
            converter: Any,
            stop: threading.Event,
        ) -> tuple[int, int, dict[str, dict[str, DayPart]]]:
            self.calls += 1
            self.entered.set()
            deadline = time.monotonic() + 10
            while not self.release.wait(0.01):
                if stop.is_set():
                    self.saw_stop.set()
                    raise Stopped
                assert time.monotonic() < deadline, "never released"
            return original(evidence, attributor, profile, lenses, tz, converter, stop)

        monkeypatch.setattr(snapshot, "_credit_days", held)

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 10), "never credited"


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    g = Gate(monkeypatch)
    yield g
    g.release.set()  # no thread left waiting


async def test_a_cancelled_waiter_leaves_the_computation_to_the_others(
    sim_store: SQLiteStore, later: FrozenClock, gate: Gate
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    reports = Reports(store, attributor, later, tz=UTC, rates_base="EUR")
    loop = asyncio.get_running_loop()
    first = loop.create_task(reports.get(SIM_DATASET, PROFILE, LENS, ""))
    await gate.wait_entered()
    second = loop.create_task(reports.get(SIM_DATASET, PROFILE, LENS, ""))
    await asyncio.sleep(0.05)
    assert not first.done() and not second.done()
    [running] = reports._running.values()  # the second joined the first's computation
    first.cancel()  # the first page's client went away
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.sleep(0.05)
    assert not running.done() and not second.done()
    gate.release.set()
    got = await asyncio.wait_for(second, 10)
    assert (got.fresh, got.refreshing) == (True, False)
    assert _k(got).orders > 100 and await load_kept(store, SIM_DATASET) == [_k(got)]
    assert gate.calls == 1


INSERT_LEASE = (
    "INSERT INTO attribution_report_leases(dataset_id, profile, currency, owner, until)"
    " VALUES (?,?,?,?,?)"
)
EXPIRE_LEASE = "UPDATE attribution_report_leases SET until = ? WHERE dataset_id = ?"
SELECT_LEASES = (
    "SELECT profile, currency, owner FROM attribution_report_leases WHERE dataset_id = ?"
)


async def test_another_process_s_lease_makes_it_busy_until_it_expires(
    sim_store: SQLiteStore, later: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    reports = Reports(store, attributor, later, tz=UTC, rates_base="EUR")
    refresher = refresher_of(store, attributor, later)
    calls = count_credits(monkeypatch)
    held = (SIM_DATASET, PROFILE, "", "another-process")
    await dual.execute(store, INSERT_LEASE, (*held, later.now() + 100))
    # none kept
    with pytest.raises(Busy):
        await _compute(store, attributor, SIM_DATASET, later)
    assert await reports.get(SIM_DATASET, PROFILE, LENS, "") == Got(None, False, True)
    assert await refresher.run_round() == 0
    assert calls == [] and await load_kept(store, SIM_DATASET) == []
    # another currency, another profile: another lease
    assert len(await _compute(store, attributor, SIM_DATASET, later, profile="max")) == 1
    # the lease expired: taken, and given back when done
    await dual.execute(store, EXPIRE_LEASE, (later.now() - 1, SIM_DATASET))
    [kept] = await _compute(store, attributor, SIM_DATASET, later)
    assert len(calls) == 2
    assert await dual.fetch(store, SELECT_LEASES, (SIM_DATASET,)) == []
    # kept and stale while another process holds the lease
    await add_order(store, later, SIM_DATASET, "NEW-B")
    await dual.execute(store, INSERT_LEASE, (*held, later.now() + 1000))
    calls.clear()
    assert not await reports.is_fresh(kept)
    assert await reports.get(SIM_DATASET, PROFILE, LENS, "") == Got(kept, False, True)
    later.advance(600)  # due for the refresher
    assert await refresher.run_round() == 1  # max's, not this one
    assert calls == [("max", (LENS,), "")]
    assert _kept(await load_kept(store, SIM_DATASET), PROFILE, LENS) == kept
    assert [tuple(r) for r in await dual.fetch(store, SELECT_LEASES, (SIM_DATASET,))] == [
        (PROFILE, "", "another-process")
    ]


def _through(event_at: float | None, delivery_at: float | None = None) -> str:
    return orjson.dumps(
        {
            "event": None if event_at is None else [7, event_at],
            "delivery": None if delivery_at is None else [delivery_at, 1],
        }
    ).decode()


def _plain(computed_at: float, through: str, seconds: float = 1.0) -> Kept:
    return Kept("d", PROFILE, LENS, "", "basis", through, computed_at, seconds, 1, 0)


def test_is_fresh_waits_for_late_commits_once() -> None:
    t = 10_000.0
    assert SETTLE_SECONDS == 60.0
    for newest in (t, t - 59, t - 30):  # begun within a minute of its newest event
        k = _plain(t, _through(newest))
        assert is_fresh(k, through=k.through, basis="basis", now=t + 59.9)
        assert not is_fresh(k, through=k.through, basis="basis", now=t + 60)
    for newest in (t - 60, t - 61, t - 3600):  # settled when it began
        k = _plain(t, _through(newest))
        assert is_fresh(k, through=k.through, basis="basis", now=t + 60)
        assert is_fresh(k, through=k.through, basis="basis", now=t + MAX_AGE_SECONDS)
        assert not is_fresh(k, through=k.through, basis="basis", now=t + MAX_AGE_SECONDS + 1)
    # a recent delivery counts as well as an event; nothing at all settles at once
    k = _plain(t, _through(t - 3600, t - 1))
    assert not is_fresh(k, through=k.through, basis="basis", now=t + 60)
    k = _plain(t, _through(None))
    assert is_fresh(k, through=k.through, basis="basis", now=t + 60)
    # another event or basis: stale
    k = _plain(t, _through(t - 3600))
    assert not is_fresh(k, through=_through(t - 10), basis="basis", now=t)
    assert not is_fresh(k, through=k.through, basis="other", now=t)


def test_is_due_after_ten_times_as_long_as_it_took_and_every() -> None:
    t = 10_000.0
    k = _plain(t, _through(t - 3600), seconds=100.0)
    assert not is_due(k, now=t + 999.9) and is_due(k, now=t + 1000)
    assert not is_due(k, now=t + 999.9, every=600) and is_due(k, now=t + 1000, every=600)
    short = _plain(t, _through(t - 3600), seconds=10.0)
    assert is_due(short, now=t + 100) and not is_due(short, now=t + 599, every=600)
    assert is_due(short, now=t + 600, every=600)


async def test_a_report_computed_at_its_newest_event_is_computed_once_more(
    sim_store: SQLiteStore, later: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    reports = Reports(store, attributor, later, tz=UTC, rates_base="EUR")
    await add_order(store, later, SIM_DATASET, "NEW-S")
    through = orjson.loads(await newest_event(store, SIM_DATASET))
    assert set(through) == {"event", "delivery"}
    assert through["event"][1] == later.now() and isinstance(through["event"][0], int)
    [kept] = await _compute(store, attributor, SIM_DATASET, later)
    assert kept.computed_at == later.now()
    later.advance(SETTLE_SECONDS - 0.5)
    assert await reports.is_fresh(kept)
    assert await reports.get(SIM_DATASET, PROFILE, LENS, "") == Got(kept, True, False)
    later.advance(0.5)
    assert not await reports.is_fresh(kept)  # a late commit may be missing
    calls = count_credits(monkeypatch)
    again = await reports.get(SIM_DATASET, PROFILE, LENS, "")
    assert (again.fresh, again.refreshing) == (True, False) and len(calls) == 1
    assert _k(again).computed_at == later.now() and _k(again).through == kept.through
    assert _k(again).orders == kept.orders
    # its newest event is now a minute older than its run: fresh for good
    forbid_credits(monkeypatch)
    for step in (1.0, 3600.0, MAX_AGE_SECONDS - 3601):
        later.advance(step)
        assert await reports.is_fresh(_k(again))
        assert (await reports.get(SIM_DATASET, PROFILE, LENS, "")).fresh


@pytest.mark.parametrize("who", ["page", "refresher"])
async def test_a_stale_report_is_computed_again_only_when_due(
    sim_store: SQLiteStore, later: FrozenClock, monkeypatch: pytest.MonkeyPatch, who: str
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    reports = Reports(store, attributor, later, tz=UTC, rates_base="EUR")
    refresher = refresher_of(store, attributor, later)
    first = _k(await reports.get(SIM_DATASET, PROFILE, LENS, ""))
    began = first.computed_at
    long = Kept(**{**_fields(first), "seconds": 100.0})
    assert await save_kept(store, long, await load_days(store, first))
    await add_order(store, later, SIM_DATASET, "NEW-D")  # a minute later: stale
    calls = count_credits(monkeypatch)

    async def attempt() -> bool:
        """Whether a computation was started."""
        if who == "refresher":
            return await refresher.run_round() > 0
        got = await reports.get(SIM_DATASET, PROFILE, LENS, "")
        assert not got.fresh and _k(got).seconds == 100.0
        if not got.refreshing:
            return False
        task = reports._running[long.key]
        await asyncio.wait_for(task, 10)
        return True

    for at in (began + 60, began + 600, began + 999):  # not before ten times 100 s
        later.advance(at - later.now())
        assert not await attempt()
        assert calls == []
    later.advance(began + 1000 - later.now())
    assert await attempt()
    assert len(calls) == 1
    now = _kept(await load_kept(store, SIM_DATASET), PROFILE, LENS)
    assert now.computed_at == later.now() and now.orders == first.orders + 1
    assert await reports.is_fresh(now)


async def test_a_kept_report_is_shown_in_the_time_zone_it_was_cut_in(
    sim_store: SQLiteStore, later: FrozenClock
) -> None:
    store, attributor = sim_store, make_attributor(sim_store, later)
    tokyo_tz = ZoneInfo("Asia/Tokyo")
    utc = Reports(store, attributor, later, tz=UTC, rates_base="EUR")
    first = _k(await utc.get(SIM_DATASET, PROFILE, LENS, ""))
    long = Kept(**{**_fields(first), "seconds": 100.0})
    assert await save_kept(store, long, await load_days(store, first))
    assert long.tz == "UTC"
    later.advance(60)
    tokyo = Reports(store, attributor, later, tz=tokyo_tz, rates_base="EUR")
    got = await tokyo.get(SIM_DATASET, PROFILE, LENS, "")  # stale (another basis), not due
    assert got == Got(long, False, False)
    run = await attributor.run(SIM_DATASET, profile=PROFILE, lens=LENS, sync=False)
    for since, until in RANGES:
        shown = await tokyo.report(_k(got), since=since, until=until, claims=())
        assert shown.tz == "UTC"
        live = build_report(run, tz=UTC, since=since, until=until)
        assert shown.to_json() == live.to_json(), since
    # (the zones cut other days: the comparison can tell)
    shown = await tokyo.report(_k(got), since=None, until=None, claims=())
    assert shown.to_json() != build_report(run, tz=tokyo_tz).to_json()


class FakeStep:
    """A before-prune step that counts its calls and closes."""

    def __init__(self) -> None:
        self.calls = 0
        self.closed = 0

    async def __call__(self) -> int:
        self.calls += 1
        return 0

    async def aclose(self) -> None:
        self.closed += 1


async def test_the_worker_stopping_cancels_the_report_round(
    sim_store: SQLiteStore, later: FrozenClock, gate: Gate
) -> None:
    settings = Settings(
        attribution=AttributionSettings(fetch_claims_hours=0, report_refresh_minutes=10)
    )
    step = before_prune(settings, sim_store, later)
    assert isinstance(step, AttributionStep)
    [refresher] = step.rounds
    assert isinstance(refresher, ReportRefresher)
    await step()  # takes the events in, starts a round in the background
    running = refresher.running
    assert running is not None
    await gate.wait_entered()
    assert not running.done()
    started = time.monotonic()
    await asyncio.wait_for(step.aclose(), 5)
    assert time.monotonic() - started < 1
    assert running.done() and running.cancelled()
    assert await asyncio.to_thread(gate.saw_stop.wait, 5)  # the thread saw stop
    assert await load_kept(sim_store, SIM_DATASET) == []


async def test_the_worker_closes_its_before_prune_step_when_it_ends(
    sqlite_url: str, clock: FrozenClock
) -> None:
    s = SQLiteStore(sqlite_url)
    await s.open()
    try:
        step = FakeStep()
        async with httpx.AsyncClient() as http:
            worker = Worker(
                s,
                DeliverySettings(),
                clock=clock,
                client=http,
                sandbox_url="http://127.0.0.1:1",
                before_prune=step,
            )
            stop = asyncio.Event()
            stop.set()
            await asyncio.wait_for(worker.run(stop), 5)  # stopped
            assert step.closed == 1
            running = asyncio.get_running_loop().create_task(worker.run(asyncio.Event()))
            await asyncio.sleep(0.05)
            assert not running.done() and step.closed == 1
            running.cancel()  # cancelled
            with pytest.raises(asyncio.CancelledError):
                await running
            assert step.closed == 2
    finally:
        await s.close()


async def test_cancelling_a_close_is_not_swallowed() -> None:
    """``rounds.cancel`` (the closes of Reports and ReportRefresher, compute's own end) waits
    for the tasks it cancels, but a cancellation of its caller meanwhile goes on (it once
    swallowed it: ``suppress(BaseException)`` around ``await task``)."""

    async def stubborn() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.3)  # (giving a lease back, say)
            raise

    loop = asyncio.get_running_loop()
    task = loop.create_task(stubborn())
    await asyncio.sleep(0)
    closing = loop.create_task(rounds.cancel([task]))
    await asyncio.sleep(0.05)
    closing.cancel()  # the closer is cancelled itself (a shutdown's deadline)
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert closing.cancelled() and task.done()
    # not cancelled: it waits for them, whatever they raise
    failing = loop.create_task(asyncio.sleep(10))
    broken = loop.create_task(_raise_later())
    await asyncio.sleep(0)
    await asyncio.wait_for(rounds.cancel([failing, broken]), 5)
    assert failing.cancelled() and broken.done()


async def _raise_later() -> None:
    try:
        await asyncio.sleep(10)
    finally:
        raise RuntimeError("failed as it stopped")


async def _dashboard(store: SQLiteStore, clock: FrozenClock) -> tuple[Starlette, Any]:
    """The dashboard app and its attribution page."""
    dashboard = create_dashboard(store, clock, DashboardSettings(password=Secret(PASSWORD)))
    page = dashboard.state.aclose.__self__
    return Starlette(routes=[Mount("/dashboard", app=dashboard)]), page


async def test_the_page_says_a_report_never_kept_is_being_computed(
    orders: None, store: SQLiteStore, clock: FrozenClock, gate: Gate
) -> None:
    from tests.dashboard.conftest import DATASET

    app, page = await _dashboard(store, clock)
    page._reports = Reports(
        store, make_attributor(store, clock), clock, tz=UTC, rates_base="EUR", first_wait_seconds=0
    )
    async with client_for(app) as web:
        assert (await login(web)).status_code == 303

        async def shown() -> tuple[httpx.Response, str, dict[str, str]]:
            r = await web.get(PATH)
            assert r.status_code == 200, r.text
            start = r.text.index('data-testid="attribution-kept"')
            return r, r.text[start : r.text.index(">", start)], text_by_testid(r.text)

        for _ in range(2):  # asked again while it computes: joined, the same note
            r, attrs, ids = await shown()
            assert 'data-fresh="false"' in attrs and 'data-refreshing="true"' in attrs
            assert "being computed for the first time" in ids["attribution-kept"]
            assert "attribution-summary" not in ids and "attribution-table-" not in r.text
            assert "attribution-error" not in ids
        await gate.wait_entered()
        assert gate.calls == 1 and await load_kept(store, DATASET) == []
        gate.release.set()

        async def kept() -> bool:
            return bool(await load_kept(store, DATASET))

        await _until(kept)
        r, attrs, ids = await shown()
        assert 'data-fresh="true"' in attrs and 'data-refreshing="false"' in attrs
        assert "from 2 order(s)" in ids["attribution-kept"]
        assert "being computed" not in r.text and "attribution-summary" in ids
        assert 'data-testid="attribution-table-' in r.text
        assert gate.calls == 1
        await page.aclose()


async def test_load_rates_of_some_currencies_only(sqlite_url: str) -> None:
    s = SQLiteStore(sqlite_url)
    await s.open()
    try:
        day = "2027-01-05"
        many = [f"Q{i:03d}" for i in range(120)]  # two chunks of the IN list
        rates = [
            Rate(cur, day, Decimal(n + 2)) for n, cur in enumerate(["USD", "GBP", "JPY", *many])
        ]
        await save_rates(s, rates, base="EUR", source="test", now=1.0)
        await save_rates(s, [Rate("GBP", day, Decimal("0.8"))], base="USD", source="t", now=1.0)
        every = await load_rates(s, "EUR")
        assert every.of("GBP", day) == Decimal(3) and every.of("Q119", day) == Decimal(124)
        some = await load_rates(s, "EUR", ["USD", "EUR"])
        assert some.of("USD", day) == Decimal(2)
        assert some.of("EUR", day) == Decimal(1)  # the base
        assert some.of("GBP", day) is None and some.of("JPY", day) is None
        assert some.of("Q000", day) is None
        base = await load_rates(s, "EUR", ["EUR"])
        assert base.of("EUR", day) == Decimal(1) and base.of("USD", day) is None
        none = await load_rates(s, "EUR", [])
        assert none.of("USD", day) is None and none.of("EUR", day) == Decimal(1)
        chunked = await load_rates(s, "EUR", iter(["USD", "GBP", *many]))
        assert chunked.of("GBP", day) == Decimal(3) and chunked.of("USD", day) == Decimal(2)
        assert chunked.of("Q000", day) == Decimal(5) and chunked.of("Q119", day) == Decimal(124)
        assert chunked.of("JPY", day) is None
        other = await load_rates(s, "USD", ["GBP", "USD"])
        assert other.of("GBP", day) == Decimal("0.8") and other.of("USD", day) == Decimal(1)
    finally:
        await s.close()


async def test_a_lease_is_renewed_while_its_computation_runs(
    sim_store: SQLiteStore, later: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease a computation holds is taken again every third of its length with the
    clock's time, so another process never takes over a long computation."""
    monkeypatch.setattr(snapshot, "LEASE_SECONDS", 0.3)
    lease, owner = (SIM_DATASET, PROFILE, ""), "this-process"
    await dual.execute(sim_store, INSERT_LEASE, (*lease, owner, later.now() + 0.3))
    renew = asyncio.get_running_loop().create_task(snapshot._renew(sim_store, lease, owner, later))
    try:
        later.advance(1000)
        for _ in range(50):
            await asyncio.sleep(0.05)
            [(until,)] = await dual.fetch(
                sim_store,
                "SELECT until FROM attribution_report_leases WHERE owner = ?",
                (owner,),
            )
            if until == later.now() + 0.3:
                break
        assert until == later.now() + 0.3
    finally:
        await rounds.cancel([renew])
