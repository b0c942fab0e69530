"""A report cut into days (:mod:`signalyard.attribution.rollup`): the day parts of a simulated
population survive their JSON round trip exactly, in every time zone and range, with and
without claims; they add up (a day with itself doubles, an empty part changes nothing, days
merged into fewer keys give the same totals); the lag buckets and quantiles at their edges;
the accumulator's checks agree with :func:`~signalyard.attribution.checks.check` on broken
attributions; Decimal amounts stay exact."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import random
import statistics
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from signalyard.attribution.checks import check
from signalyard.attribution.claims import Claim
from signalyard.attribution.engine import Journey, Run
from signalyard.attribution.model import Attribution, Click, Credit, Order
from signalyard.attribution.report import (
    Report,
    accumulate,
    assemble,
    build_report,
    day_function,
    meta_of,
)
from signalyard.attribution.rollup import Accumulator, DayPart, lag_bucket, lag_quantiles
from signalyard.attribution.windows import WindowTable
from signalyard.cli.simulate import registry_platforms
from signalyard.simulate.generator import Population, generate
from signalyard.simulate.runner import simulate
from signalyard.sinks import REGISTRY
from tests.conftest import in_thread

START = datetime.datetime(2027, 1, 4, tzinfo=datetime.UTC).timestamp()
UTC = ZoneInfo("UTC")
ZONES = ("UTC", "America/New_York", "Asia/Kolkata")
HOUR = 3600.0


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A simulated population of 300 customers (fixed seed) through the real gateway."""
    directory: Path = tmp_path_factory.mktemp("rollup")
    journeys = generate(
        Population(customers=300), seed=7, start=START, platforms=registry_platforms()
    )
    result = in_thread(
        lambda: asyncio.run(
            simulate(journeys, database_url=f"sqlite:///{directory / 'sim.db'}", start=START)
        )
    )
    assert result.run is not None
    run = result.run
    # the population is rich enough for the comparisons to mean something
    roles = Counter(c.role for a in run.attributions for c in a.credits)
    assert len(run.orders) > 100
    assert {"primary", "assist", "fallback", "unattributed"} <= roles.keys()
    assert any(c.lag_seconds for a in run.attributions for c in a.credits)
    return run


def _claims(run: Run) -> list[Claim]:
    """Claims of the run's platforms on a few of its days (one outside every range)."""
    platforms = sorted({p for a in run.attributions for p in a.eligible_platforms})
    assert platforms
    out = []
    for i, day in enumerate(("2027-01-08", "2027-01-15", "2027-01-16", "2027-01-25", "2030-01-01")):
        platform = platforms[i % len(platforms)]
        out.append(
            Claim(
                platform,
                day,
                "Winter Sale" if i % 2 else "",
                "EUR",
                2.5 + i,
                Decimal(f"{100 + i}.10"),
                Decimal("20.05"),
            )
        )
    return out


def _roundtrip(days: dict[str, DayPart]) -> dict[str, DayPart]:
    return {d: DayPart.from_json(p.to_json()) for d, p in days.items()}


RANGES: list[tuple[str, datetime.date | None, datetime.date | None]] = [
    ("all", None, None),
    ("middle", datetime.date(2027, 1, 10), datetime.date(2027, 1, 20)),
    ("one-day", datetime.date(2027, 1, 15), datetime.date(2027, 1, 15)),
    ("open-end", datetime.date(2027, 1, 20), None),
    ("open-start", None, datetime.date(2027, 1, 12)),
]


@pytest.mark.parametrize("with_claims", [False, True], ids=["no-claims", "claims"])
@pytest.mark.parametrize("zone", ZONES)
def test_the_json_round_trip_of_the_days_loses_nothing(
    population: Run, zone: str, with_claims: bool
) -> None:
    tz = ZoneInfo(zone)
    claims = _claims(population) if with_claims else []
    days = accumulate(population, tz)
    kept = _roundtrip(days)
    for d, part in days.items():
        assert kept[d].to_json() == part.to_json(), d
    meta = meta_of(population, tz)
    for name, since, until in RANGES:
        live = build_report(population, tz=tz, since=since, until=until, claims=claims)
        again = assemble(meta, kept, since=since, until=until, claims=claims)
        assert again.to_json() == live.to_json(), name
        assert live.quality["orders"] > 0, name
        assert live.ok, (name, live.checks)
        if with_claims:
            assert live.claims, name


def test_the_time_zone_moves_orders_between_days(population: Run) -> None:
    """The comparison above is not blind to the zone: days differ between zones."""
    utc = accumulate(population, UTC)
    kolkata = accumulate(population, ZoneInfo("Asia/Kolkata"))
    counts_utc = {d: p.orders for d, p in utc.items()}
    counts_kolkata = {d: p.orders for d, p in kolkata.items()}
    assert counts_utc != counts_kolkata
    assert sum(counts_utc.values()) == sum(counts_kolkata.values()) == len(population.orders)


# summing ---------------------------------------------------------------------------------


def test_adding_an_empty_part_changes_nothing(population: Run) -> None:
    for d, part in accumulate(population, UTC).items():
        before = part.to_json()
        part.add(DayPart())
        assert part.to_json() == before, d
        empty = DayPart()
        empty.add(part)
        assert empty.to_json() == before, d
        # the empty part took copies, not the part's own lists
        for values in empty.platforms.values():
            values[0] += 1000
        assert part.to_json() == before, d


def test_a_day_added_to_itself_doubles_every_count(population: Run) -> None:
    tz = UTC
    days = accumulate(population, tz)
    doubled: dict[str, DayPart] = {}
    for d, part in days.items():
        twice = DayPart.from_json(part.to_json())
        twice.add(part)
        doubled[d] = twice
        aliased = DayPart.from_json(part.to_json())
        aliased.add(aliased)  # adding a part to itself doubles it as well
        assert aliased.to_json() == twice.to_json(), d
    meta = meta_of(population, tz)
    once = assemble(meta, days)
    two = assemble(meta, doubled)
    assert [(r.platform, r.day, r.currency) for r in two.platforms] == [
        (r.platform, r.day, r.currency) for r in once.platforms
    ]
    for a, b in zip(once.platforms, two.platforms, strict=True):
        assert (b.eligible, b.eligible_other, b.primary, b.assisted) == (
            2 * a.eligible,
            2 * a.eligible_other,
            2 * a.primary,
            2 * a.assisted,
        )
        assert (b.primary_revenue, b.assisted_revenue) == (
            2 * a.primary_revenue,
            2 * a.assisted_revenue,
        )
    assert two.actual == [(d, c, 2 * n, 2 * net, 2 * g) for d, c, n, net, g in once.actual]
    assert two.channels == [(c, d, cur, 2 * n, 2 * v) for c, d, cur, n, v in once.channels]
    assert two.unattributed == [(r, d, c, 2 * n, 2 * v) for r, d, c, n, v in once.unattributed]
    assert two.co_eligible == {k: 2 * n for k, n in once.co_eligible.items()}
    assert two.quality["orders"] == 2 * once.quality["orders"]
    # every lag twice: the quantiles stay
    assert two.quality["click_to_order_lag_hours"] == once.quality["click_to_order_lag_hours"]
    assert two.ok
    n = len(population.orders)
    assert two.checks[0].detail == f"{2 * n} order(s), all with weights summing to 1"


def _by_week(days: dict[str, DayPart]) -> dict[str, DayPart]:
    """The days merged into their week's Monday."""
    out: dict[str, DayPart] = {}
    for d, part in days.items():
        day = datetime.date.fromisoformat(d)
        monday = (day - datetime.timedelta(days=day.weekday())).isoformat()
        out.setdefault(monday, DayPart()).add(part)
    return out


def _totals(report: Report) -> dict[str, Any]:
    channels: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for c, _d, cur, n, v in report.channels:
        channels[(c, cur)][0] += n
        channels[(c, cur)][1] += v
    reasons: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for r, _d, cur, n, v in report.unattributed:
        reasons[(r, cur)][0] += n
        reasons[(r, cur)][1] += v
    actual: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for _d, cur, n, net, g in report.actual:
        actual[cur][0] += n
        actual[cur][1] += net
        actual[cur][2] += g
    return {
        "platforms": report.totals(),
        "campaigns": report.campaigns,
        "channels": dict(channels),
        "reasons": dict(reasons),
        "actual": dict(actual),
        "co": report.co_eligible,
        "quality": report.quality,
        "checks": [(c.name, c.ok) for c in report.checks],
        "claims": report.claims,
    }


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_days_merged_into_weeks_give_the_same_totals(population: Run, zone: str) -> None:
    tz = ZoneInfo(zone)
    days = accumulate(population, tz)
    weeks = _by_week(_roundtrip(days))
    assert 1 < len(weeks) < len(days)
    meta = meta_of(population, tz)
    claims = [dataclasses.replace(c, day="2027-01-11") for c in _claims(population)]
    by_day = assemble(meta, days, claims=claims)
    by_week = assemble(meta, weeks, claims=claims)
    assert _totals(by_week) == _totals(by_day)
    assert by_week.quality["orders"] == len(population.orders)
    # one key: the whole run in a part
    whole = DayPart()
    for part in days.values():
        whole.add(part)
    assert _totals(assemble(meta, {"2027-01-11": whole}, claims=claims)) == _totals(by_day)
    assert whole.orders == whole.loaded_orders == len(population.orders)


# lags ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [
        (0, 0),
        (-5, 0),
        (-10 * HOUR, 0),
        (179, 0),  # 0.0497 h
        (180, 1),  # 0.05 h: half up
        (359, 1),
        (360, 1),
        (0.5 * HOUR, 5),
        (9.94 * HOUR, 99),
        (9.96 * HOUR, 100),
        (10 * HOUR, 100),
        (10.4 * HOUR, 100),  # to the hour from 10 h
        (10.5 * HOUR, 110),
        (99.4 * HOUR, 990),
        (99.6 * HOUR, 1000),
        (100 * HOUR, 1000),
        (104 * HOUR, 1000),  # to ten hours from 100 h
        (105 * HOUR, 1100),
        (1000 * HOUR, 10000),
        (8760 * HOUR, 87600),  # a year
    ],
)
def test_lag_bucket_edges(seconds: float, bucket: int) -> None:
    assert lag_bucket(seconds) == bucket


def test_lag_buckets_keep_two_significant_figures() -> None:
    rng = random.Random(3)
    samples = sorted(
        [rng.uniform(0, 2000 * HOUR) for _ in range(3000)]
        + [rng.uniform(0, 12 * HOUR) for _ in range(1000)]
    )
    buckets = [lag_bucket(s) for s in samples]
    assert buckets == sorted(buckets)  # never backwards
    for s, b in zip(samples, buckets, strict=True):
        hours = s / HOUR
        unit = 0.1 if hours < 9.95 else 1.0 if hours < 99.5 else 10.0
        assert abs(b / 10 - hours) <= unit / 2 + 1e-9, (s, b)
    assert len(set(buckets)) < 400  # a few hundred buckets, whatever the number of lags


def _expanded(histogram: dict[int, int]) -> list[int]:
    return sorted(b for b, n in histogram.items() for _ in range(n))


@pytest.mark.parametrize(
    ("histogram", "median", "p90"),
    [
        ({5: 1}, 0.5, 0.5),  # one lag
        ({12: 7}, 1.2, 1.2),  # one bucket, many lags
        ({1: 1, 2: 1, 3: 1}, 0.2, 0.3),  # odd
        ({3: 1, 1: 1, 2: 1}, 0.2, 0.3),  # any order
        ({10: 1, 30: 1}, 2.0, 3.0),  # even: the mean of the two middle
        ({10: 2, 20: 2}, 1.5, 2.0),
        ({10: 1, 20: 1, 30: 1, 40: 1}, 2.5, 4.0),
        ({1: 9, 100: 1}, 0.1, 10.0),  # p90 at rank int(0.9 * 10) = 9
        ({1: 18, 50: 2}, 0.1, 5.0),
        ({1: 19, 50: 1}, 0.1, 0.1),  # rank 18 of 20: still the first bucket
        ({0: 3, 1000: 2}, 0.0, 100.0),
    ],
)
def test_lag_quantiles_on_small_histograms(
    histogram: dict[int, int], median: float, p90: float
) -> None:
    assert lag_quantiles(histogram) == {"median": median, "p90": p90}


def test_lag_quantiles_agree_with_the_lags_listed_one_by_one() -> None:
    rng = random.Random(11)
    for _ in range(300):
        histogram = {
            rng.randrange(0, 3000): rng.randrange(1, 6) for _ in range(rng.randrange(1, 9))
        }
        lags = _expanded(histogram)
        n = len(lags)
        expected_median = round(statistics.median(lags) / 10, 1)
        expected_p90 = round(lags[min(n - 1, int(0.9 * n))] / 10, 1)
        assert lag_quantiles(histogram) == {"median": expected_median, "p90": expected_p90}, (
            histogram
        )


# the checks ------------------------------------------------------------------------------


def _windows() -> WindowTable:
    return WindowTable.of(
        ((k, s.click_attribution) for k, s in REGISTRY.items()), "platform-default"
    )


T0 = datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC).timestamp()


def _order(order_id: str, net: str, *, at: float = T0, currency: str = "EUR") -> Order:
    return Order(order_id, at, currency, Decimal(net), gross=Decimal(net))


def _click(platform: str, at: float | None) -> Click:
    kind = {"meta": "fbclid", "google": "gclid"}[platform]
    return Click(platform, kind, f"{kind}-{at}", at)


def _primary(order: Order, platform: str = "google", *, lag: float = HOUR) -> Credit:
    click = _click(platform, order.created_at - lag)
    return Credit(
        "primary", Decimal(1), order.net, "in_window_last_paid", platform, None, click, None, lag
    )


def _fine(order: Order) -> Attribution:
    return Attribution(order, "last_click", (_primary(order),))


def _broken_run() -> Run:
    """One attribution per way of breaking the checks, beside fine ones."""
    windows = _windows()
    meta_window = windows.seconds["meta"]
    o = [_order(f"o{i}", f"{10 + i}.00", at=T0 + i * 7200) for i in range(12)]
    unattributed = Credit("unattributed", Decimal(1), o[6].net, "no_touch")
    attributions = [
        _fine(o[0]),
        # weights summing to 0.9
        Attribution(
            o[1], "last_click", (dataclasses.replace(_primary(o[1]), weight=Decimal("0.9")),)
        ),
        # two main roles
        Attribution(
            o[2],
            "last_click",
            (
                dataclasses.replace(_primary(o[2]), weight=Decimal("0.5"), amount=Decimal("6.00")),
                Credit(
                    "fallback",
                    Decimal("0.5"),
                    Decimal("6.00"),
                    "fallback_last_non_direct",
                    channel="email",
                ),
            ),
        ),
        # amounts above the net (the revenue of its day differs too)
        Attribution(
            o[3], "last_click", (dataclasses.replace(_primary(o[3]), amount=Decimal("13.01")),)
        ),
        # a credit below zero, the sum still the net
        Attribution(
            o[4],
            "last_click",
            (
                dataclasses.replace(_primary(o[4]), amount=Decimal("15.00")),
                Credit(
                    "assist",
                    Decimal(0),
                    Decimal("-1.00"),
                    "assist",
                    platform="meta",
                    click=_click("meta", o[4].created_at - 2 * HOUR),
                ),
            ),
        ),
        # a click after the order
        Attribution(o[5], "last_click", (_primary(o[5], lag=-60),)),
        Attribution(o[6], "last_click", (unattributed,)),
        # a click outside Meta's window
        Attribution(o[7], "last_click", (_primary(o[7], "meta", lag=meta_window + 1),)),
        # a click at the instant of the order
        Attribution(o[8], "last_click", (_primary(o[8], lag=0),)),
        # credited twice
        _fine(o[9]),
        _fine(o[9]),
        # o[10] never credited
        # an order credited that was never loaded (its revenue has no actual side)
        _fine(_order("ghost", "7.00", at=T0 + 3 * 86400)),
        _fine(o[11]),
    ]
    eligible_other = {a.order.order_id: a.eligible_platforms for a in attributions}
    journeys = {
        a.order.order_id: Journey(tuple(c.click for c in a.credits if c.click), ())
        for a in attributions
    }
    return Run("42", windows, "last_click", attributions, eligible_other, journeys, 0, o)


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati"])
def test_the_accumulator_s_checks_agree_with_check(zone: str) -> None:
    tz = ZoneInfo(zone)
    run = _broken_run()
    old = check(run.attributions, run.windows.seconds, day_function(tz), run.orders)
    new = build_report(run, tz=tz).checks
    assert new == old
    failed = {c.name: c.detail for c in new if not c.ok}
    assert failed == {
        "weights": "1 of 12 order(s) without weights summing to 1",
        # two main roles, o9 credited twice, o10 never credited
        "one_truth": "3 of 12 order(s) without one credit: one primary, fallback or"
        " unattributed row",
        "amounts": "2 of 12 order(s) without credits summing to net, none below zero",
        # after the order, at its instant, outside Meta's window
        "windows": "3 of 12 order(s) without credited clicks in window",
        "revenue": new[4].detail,
    }
    assert " day(s) x currency differ: " in new[4].detail
    if zone == "UTC":  # o3's day, o9's and o10's, the ghost's
        assert new[4].detail == (
            "3 day(s) x currency differ: 2027-03-01 EUR, 2027-03-02 EUR, 2027-03-04 EUR"
        )


def test_each_broken_attribution_alone_fails_its_own_check() -> None:
    run = _broken_run()
    fine = {"o0", "o6", "o11"}
    wants = {
        "o1": {"weights"},
        "o2": {"one_truth"},
        "o3": {"amounts", "revenue"},
        "o4": {"amounts"},
        "o5": {"windows"},
        "o7": {"windows"},
        "o8": {"windows"},
        "o9": {"one_truth", "revenue"},
        "o10": {"one_truth", "revenue"},
        "ghost": {"revenue"},
    }
    for order_id, failing in wants.items():
        keep = fine | {order_id}
        alone = dataclasses.replace(
            run,
            attributions=[a for a in run.attributions if a.order.order_id in keep],
            orders=[o for o in run.orders if o.order_id in keep],
        )
        checks = build_report(alone, tz=UTC).checks
        assert {c.name for c in checks if not c.ok} == failing, order_id
        assert checks == check(
            alone.attributions, alone.windows.seconds, day_function(UTC), alone.orders
        )
    # the fine ones alone pass every check
    alone = dataclasses.replace(
        run,
        attributions=[a for a in run.attributions if a.order.order_id in fine],
        orders=[o for o in run.orders if o.order_id in fine],
    )
    assert build_report(alone, tz=UTC).ok


@pytest.mark.parametrize(
    ("times", "bad"), [(0, 1), (1, 0), (2, 1), (3, 2)], ids=["never", "once", "twice", "thrice"]
)
def test_an_order_credited_other_than_once_breaks_one_truth(times: int, bad: int) -> None:
    order = _order("x1", "25.00")
    other = _order("x2", "5.00", at=T0 + 60)
    run = Run(
        "42",
        _windows(),
        "last_click",
        [_fine(order)] * times + [_fine(other)],
        orders=[order, other],
    )
    new = build_report(run, tz=UTC).checks
    assert new == check(run.attributions, run.windows.seconds, day_function(UTC), run.orders)
    one_truth = {c.name: c for c in new}["one_truth"]
    assert one_truth.ok is (bad == 0)
    if bad:
        assert one_truth.detail.startswith(f"{bad} of 2 order(s) without one credit")
    revenue = {c.name: c for c in new}["revenue"]
    assert revenue.ok is (times == 1)


def test_a_loaded_order_counts_once_in_the_accumulator() -> None:
    acc = Accumulator(day_function(UTC), _windows().seconds)
    order = _order("y", "3.30")
    acc.loaded(order)
    acc.uncredited(order, 0)
    acc.uncredited(order, 3)
    [part] = acc.days.values()
    assert (part.loaded_orders, part.bad, part.orders) == (1, [0, 3, 0, 0], 0)
    assert part.loaded == {"EUR": Decimal("3.30")}


# exact amounts ---------------------------------------------------------------------------


def test_decimal_amounts_stay_exact_through_json() -> None:
    acc = Accumulator(day_function(UTC), _windows().seconds)
    for i, net in enumerate(("0.1", "0.2", "0.10", "1E+2", "12345678901234567890.01")):
        order = _order(f"d{i}", net, at=T0 + i)
        acc.loaded(order)
        acc.add(_fine(order), frozenset(), True)
    [(day, part)] = acc.days.items()
    assert part.loaded["EUR"] == Decimal("12345678901234567990.41")
    # 0.1 + 0.2 is 0.3 exactly (a float would give 0.30000000000000004)
    first = Accumulator(day_function(UTC), _windows().seconds)
    for i, net in enumerate(("0.1", "0.2")):
        order = _order(f"e{i}", net, at=T0 + i)
        first.loaded(order)
        first.add(_fine(order), frozenset(), True)
    small = DayPart.from_json(first.days[day].to_json())
    assert small.loaded == {"EUR": Decimal("0.3")}
    assert str(small.credited["EUR"]) == "0.3"
    assert small.actual["EUR"][1] == Decimal("0.3") and str(small.actual["EUR"][2]) == "0.3"
    assert str(small.platforms[("google", "EUR")][3]) == "0.3"
    kept = DayPart.from_json(part.to_json())
    assert kept.to_json() == part.to_json()
    assert kept.loaded == kept.credited == {"EUR": Decimal("12345678901234567990.41")}
    assert [type(v) for v in kept.actual["EUR"]] == [int, Decimal, Decimal]
    stored = orjson.loads(part.to_json())
    assert ["EUR", "12345678901234567990.41"] in stored["l"]  # a string, never a float
    # summed after the round trip: still exact
    twice = DayPart.from_json(small.to_json())
    twice.add(DayPart.from_json(small.to_json()))
    assert twice.loaded == {"EUR": Decimal("0.6")} and str(twice.loaded["EUR"]) == "0.6"
    report = assemble(meta_of(Run("42", _windows(), "last_click"), UTC), {day: twice})
    assert report.actual == [(day, "EUR", 4, Decimal("0.6"), Decimal("0.6"))]
    assert report.ok, report.checks
