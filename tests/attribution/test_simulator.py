"""The journey simulator through the real gateway: every scenario of the catalogue gets its
answer; a seeded population is conserved, credited as the rule says wherever its evidence
reached the gateway, the same for the same seed, and the same when its orders arrive late and
repeated; the ``simulate`` command."""

from __future__ import annotations

import dataclasses
import datetime
import random
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from click.testing import CliRunner

from signalyard.attribution.report import build_report
from signalyard.cli import main
from signalyard.cli.simulate import registry_platforms
from signalyard.simulate.generator import Population, generate
from signalyard.simulate.runner import SimulationResult, simulate
from signalyard.simulate.scenarios import SCENARIOS
from signalyard.simulate.steps import Journey, Purchase, Visit

pytestmark = pytest.mark.anyio

START = datetime.datetime(2027, 1, 4, tzinfo=datetime.UTC).timestamp()


async def run(journeys: list[Journey], tmp_path: Path, name: str = "sim") -> SimulationResult:
    return await simulate(journeys, database_url=f"sqlite:///{tmp_path / name}.db", start=START)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario(name: str, tmp_path: Path) -> None:
    result = await run(SCENARIOS[name](START), tmp_path)
    assert result.outcomes, "every scenario has orders"
    assert [o for o in result.outcomes if not o.ok] == []
    assert result.conserved, result.checks


async def test_population_under_default_loss(tmp_path: Path) -> None:
    journeys = generate(
        Population(customers=150), seed=7, start=START, platforms=registry_platforms()
    )
    result = await run(journeys, tmp_path)
    right, judged = result.accuracy()
    # most orders are judged (the rest lost their evidence, or their devices were linked only
    # after the settle period: each with its reason)
    assert judged >= 0.75 * len(result.outcomes) and judged > 50
    assert right == judged, [o for o in result.misses() if not o.expected.reason_if_missed]
    assert result.conserved
    assert result.run is not None
    assert all(sum(c.weight for c in a.credits) == 1 for a in result.run.attributions)


async def test_full_observability_is_judged_and_right_everywhere(tmp_path: Path) -> None:
    population = Population(
        customers=80, clickid_loss=0, consent_denied=0, second_device=0, email_capture=1
    )
    journeys = generate(population, seed=3, start=START, platforms=registry_platforms())
    result = await run(journeys, tmp_path)
    right, judged = result.accuracy()
    assert judged == len(result.outcomes) > 20
    assert right == judged


async def test_same_seed_same_credits_and_late_repeated_orders_change_nothing(
    tmp_path: Path,
) -> None:
    platforms = registry_platforms()
    first = await run(
        generate(Population(customers=60), seed=11, start=START, platforms=platforms), tmp_path, "a"
    )
    again = await run(
        generate(Population(customers=60), seed=11, start=START, platforms=platforms), tmp_path, "b"
    )
    assert first.digest == again.digest
    rng = random.Random(5)
    shuffled = generate(Population(customers=60), seed=11, start=START, platforms=platforms)
    for journey in shuffled:
        journey.steps = [
            dataclasses.replace(s, arrives_at=s.at + rng.randrange(1, 6 * 3600), copies=2)
            if isinstance(s, Purchase)
            else s
            for s in journey.steps
        ]
    late = await run(shuffled, tmp_path, "c")
    assert late.digest == first.digest
    other = await run(
        generate(Population(customers=60), seed=12, start=START, platforms=platforms), tmp_path, "d"
    )
    assert other.digest != first.digest


async def test_dst_night_orders_count_on_the_shop_s_calendar_day(tmp_path: Path) -> None:
    """Europe/Paris moves to summer time at 02:00 on 2027-03-28: an order at 23:30 UTC on the
    27th is at 00:30 on the 28th in Paris, one at 00:30 UTC on the 28th at 01:30, one at
    01:30 UTC at 03:30 (summer time): all three on the 28th there."""
    start = datetime.datetime(2027, 3, 27, 12, tzinfo=datetime.UTC).timestamp()
    journey = Journey("dst")
    journey.steps.append(Visit(start, "dst-phone", "https://shop.example.com/?gclid=Cj0-dst"))
    for i, (day, hour, minute) in enumerate(((27, 23, 30), (28, 0, 30), (28, 1, 30))):
        at = datetime.datetime(2027, 3, day, hour, minute, tzinfo=datetime.UTC).timestamp()
        journey.steps.append(Purchase(at, "dst-phone", f"DST-{i}", "10.00"))
    result = await simulate([journey], database_url=f"sqlite:///{tmp_path / 'dst'}.db", start=start)
    assert result.run is not None
    paris = build_report(result.run, tz=ZoneInfo("Europe/Paris"))
    assert [(d, n) for d, _cur, n, _net, _gross in paris.actual] == [("2027-03-28", 3)]
    utc = build_report(result.run, tz=ZoneInfo("UTC"))
    assert [(d, n) for d, _cur, n, _net, _gross in utc.actual] == [
        ("2027-03-27", 1),
        ("2027-03-28", 2),
    ]
    assert paris.ok and utc.ok


def test_simulate_command(tmp_path: Path) -> None:
    runner = CliRunner()
    key = tmp_path / "answers.jsonl"
    out = runner.invoke(
        main,
        ["simulate", "--customers", "40", "--seed", "2", "--answer-key", str(key), "--json"],
        env={"SIGNALYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"},
    )
    assert out.exit_code == 0, out.output
    summary = orjson.loads(out.output)
    assert summary["ok"] is True and summary["orders"] > 5
    assert summary["right"] == summary["judged"]
    assert all(c["ok"] for c in summary["checks"])
    lines = key.read_bytes().splitlines()
    assert len(lines) == summary["orders"]
    assert {"order_id", "expected", "got", "ok"} <= set(orjson.loads(lines[0]))
    scenario = runner.invoke(main, ["simulate", "--scenario", "meta_then_google"])
    assert scenario.exit_code == 0, scenario.output
    assert "1 of 1 credited as the rule says" in scenario.output
    kept = tmp_path / "kept"
    both = runner.invoke(main, ["simulate", "--scenario", "all", "--keep", str(kept)])
    assert both.exit_code == 0, both.output
    assert (kept / "simulation.db").exists()
    report = runner.invoke(
        main,
        ["attribution", "report", "--format", "json"],
        env={"SIGNALYARD_DATABASE_URL": f"sqlite:///{kept / 'simulation.db'}"},
    )
    assert report.exit_code == 0, report.output
    assert orjson.loads(report.output)["ok"] is True
    again = runner.invoke(main, ["simulate", "--scenario", "all", "--keep", str(kept)])
    assert again.exit_code == 2 and "exists" in again.output
