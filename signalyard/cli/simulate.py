"""``signalyard simulate``: seeded shoppers sent through a real gateway (in this process, on a
database of its own, with a simulated clock), then attribution checked against the answer
each order must get. See docs/attribution.md, *The simulator*."""

from __future__ import annotations

import asyncio
import datetime
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import click
import orjson

from signalyard.attribution.model import LENSES
from signalyard.attribution.windows import PROFILES
from signalyard.cli._common import settings_from
from signalyard.simulate.generator import Population, generate
from signalyard.simulate.runner import SimulationResult, simulate
from signalyard.simulate.scenarios import SCENARIOS
from signalyard.simulate.steps import Journey
from signalyard.sinks import REGISTRY

__all__ = ["simulate_command"]

DEFAULT_START = "2027-01-04"


def registry_platforms() -> dict[str, tuple[str, int, str]]:
    """Every registered platform with click windows: (its first click id kind, its
    ``platform-default`` window, the channel of its clicks)."""
    out = {}
    for kind, spec in REGISTRY.items():
        w = spec.click_attribution
        if w is not None:
            out[kind] = (w.kinds[0], w.default_seconds, w.channel)
    return out


@click.command("simulate")
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Choice((*SCENARIOS, "all")),
    help="Run named scenarios of the catalogue (repeatable; 'all' for every one) instead of a"
    " random population.",
)
@click.option("--customers", type=click.IntRange(1, 1_000_000), default=200, show_default=True)
@click.option("--days", type=click.FloatRange(1, 365), default=30.0, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--clickid-loss", type=click.FloatRange(0, 1), default=0.05, show_default=True)
@click.option("--consent-denied", type=click.FloatRange(0, 1), default=0.05, show_default=True)
@click.option("--second-device", type=click.FloatRange(0, 1), default=0.3, show_default=True)
@click.option("--email-capture", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option(
    "--start",
    default=DEFAULT_START,
    show_default=True,
    type=click.DateTime(("%Y-%m-%d",)),
    help="The simulated first day (UTC).",
)
@click.option("--profile", type=click.Choice(PROFILES), default=None)
@click.option("--lens", type=click.Choice(LENSES), default=None)
@click.option(
    "--keep",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the simulation's SQLite database in this new directory (then"
    " `signalyard attribution report` on it).",
)
@click.option(
    "--answer-key",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write every order's expected and actual answer here (JSON lines).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@click.pass_context
def simulate_command(
    ctx: click.Context,
    scenarios: tuple[str, ...],
    customers: int,
    days: float,
    seed: int,
    clickid_loss: float,
    consent_denied: float,
    second_device: float,
    email_capture: float,
    start: datetime.datetime,
    profile: str | None,
    lens: str | None,
    keep: str | None,
    answer_key: str | None,
    as_json: bool,
) -> None:
    """Send simulated shoppers through a real gateway and check attribution against the
    answer each order must get. Exits 1 when a conservation check fails or an order that
    was fully observable got another answer."""
    settings = settings_from(ctx)
    t0 = start.replace(tzinfo=datetime.UTC).timestamp()
    journeys: list[Journey] = []
    if scenarios:
        names = list(SCENARIOS) if "all" in scenarios else list(dict.fromkeys(scenarios))
        for name in names:
            journeys += SCENARIOS[name](t0)
    else:
        population = Population(
            customers=customers,
            horizon_days=days,
            clickid_loss=clickid_loss,
            consent_denied=consent_denied,
            second_device=second_device,
            email_capture=email_capture,
        )
        journeys = generate(population, seed=seed, start=t0, platforms=registry_platforms())
    if keep is not None:
        directory = Path(keep)
        if directory.exists():
            raise click.BadParameter(f"{keep} exists: name a new directory", param_hint="--keep")
        directory.mkdir(parents=True, mode=0o700)
    else:
        directory = Path(tempfile.mkdtemp(prefix="signalyard-simulate-"))
    try:
        result = asyncio.run(
            simulate(
                journeys,
                database_url=f"sqlite:///{directory / 'simulation.db'}",
                start=t0,
                profile=profile or settings.attribution.window_profile,
                lens=lens or settings.attribution.lens,
                time_zone=settings.attribution.time_zone,
            )
        )
    finally:
        if keep is None:
            shutil.rmtree(directory, ignore_errors=True)
    summary = summarize(result)
    if answer_key is not None:
        with open(answer_key, "wb") as fh:
            for o in result.outcomes:
                fh.write(orjson.dumps(_answer(o)) + b"\n")
    if as_json:
        click.echo(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(_text(summary))
        if keep is not None:
            click.echo(
                f"database kept: SIGNALYARD_DATABASE_URL=sqlite:///{directory / 'simulation.db'}"
                " signalyard attribution report"
            )
    if not summary["ok"]:
        ctx.exit(1)


def summarize(result: SimulationResult) -> dict[str, Any]:
    right, judged = result.accuracy()
    missed_reasons = Counter(
        o.expected.reason_if_missed for o in result.outcomes if o.expected.reason_if_missed
    )
    wrong = [o for o in result.misses() if not o.expected.reason_if_missed]
    return {
        "orders": len(result.outcomes),
        "events_sent": result.events,
        "judged": judged,
        "right": right,
        "accuracy": round(right / judged, 6) if judged else None,
        "not_judged_by_reason": dict(sorted(missed_reasons.items())),
        "not_judged_right_anyway": sum(
            o.ok for o in result.outcomes if o.expected.reason_if_missed
        ),
        "wrong": [_answer(o) for o in wrong[:20]],
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in result.checks],
        "credits_sha256": result.digest,
        "ok": result.conserved and not wrong,
    }


def _answer(o: Any) -> dict[str, Any]:
    e = o.expected
    return {
        "order_id": o.order_id,
        "expected": {
            "role": e.role,
            "platform": e.platform,
            "channel": e.channel,
            "reason": e.reason,
            "reason_if_missed": e.reason_if_missed or None,
        },
        "got": {
            "role": o.role,
            "platform": o.platform,
            "channel": o.channel,
            "reason": o.reason,
        },
        "ok": o.ok,
    }


def _text(s: dict[str, Any]) -> str:
    lines = [
        f"{s['orders']} order(s) from {s['events_sent']} event(s) sent through the gateway",
        f"fully observable orders: {s['right']} of {s['judged']} credited as the rule says"
        + (f" ({s['accuracy']:.2%})" if s["accuracy"] is not None else ""),
    ]
    if s["not_judged_by_reason"]:
        reasons = ", ".join(f"{k} {v}" for k, v in s["not_judged_by_reason"].items())
        lines.append(
            f"not judged (evidence lost or unlinkable): {reasons};"
            f" {s['not_judged_right_anyway']} of them right anyway"
        )
    for w in s["wrong"]:
        lines.append(f"  WRONG {w['order_id']}: expected {w['expected']}, got {w['got']}")
    lines += [f"[{'OK' if c['ok'] else 'FAILED'}] {c['name']}: {c['detail']}" for c in s["checks"]]
    lines.append(f"credits sha256 {s['credits_sha256']}")
    return "\n".join(lines)
