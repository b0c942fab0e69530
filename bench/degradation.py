"""Attribution's degradation curves: ``python bench/degradation.py [--customers 300]``.

How attribution degrades as evidence is lost. For each signal-loss setting of the journey
simulator (``signalyard.simulate.generator.Population``), one value at a time with the others
at their defaults, the same seeded population goes through a real gateway
(``signalyard.simulate.runner.simulate``), and the run reports:

- **right**: the share of all orders credited as the rule with full observability credits
  them (the same primary platform, or fallback channel, or unattributed);
- **judged right**: the share of the fully observable orders credited so (it must stay 100%:
  a miss there is a bug, not a loss);
- **unattributed**: the share of orders no platform and no channel was credited with;
- every run's five conservation checks (all must hold).

Prints a Markdown table per setting (docs/attribution.md, *Degradation curves*) and writes
``bench/results/degradation.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from signalyard.cli.simulate import registry_platforms
from signalyard.simulate.generator import Population, generate
from signalyard.simulate.runner import simulate

RESULTS = Path(__file__).resolve().parent / "results"
START = datetime.datetime(2027, 1, 4, tzinfo=datetime.UTC).timestamp()
CURVES: dict[str, tuple[float, ...]] = {
    "clickid_loss": (0.0, 0.05, 0.1, 0.2, 0.4),
    "consent_denied": (0.0, 0.05, 0.1, 0.2, 0.4),
    "second_device": (0.0, 0.15, 0.3, 0.5, 0.8),
    "email_capture": (1.0, 0.75, 0.5, 0.25, 0.0),
}


def one(population: Population, seed: int, directory: Path, name: str) -> dict[str, Any]:
    journeys = generate(population, seed=seed, start=START, platforms=registry_platforms())
    result = asyncio.run(
        simulate(journeys, database_url=f"sqlite:///{directory / name}.db", start=START)
    )
    n = len(result.outcomes)
    right_judged, judged = result.accuracy()
    right = sum(o.ok for o in result.outcomes)
    unattributed = sum(o.role == "unattributed" for o in result.outcomes)
    return {
        "orders": n,
        "right": round(right / n, 4) if n else None,
        "judged": judged,
        "judged_right": round(right_judged / judged, 4) if judged else None,
        "unattributed": round(unattributed / n, 4) if n else None,
        "conserved": result.conserved,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"customers": args.customers, "seed": args.seed, "curves": {}}
    lines = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="signalyard-degradation-") as tmp:
        for setting, values in CURVES.items():
            rows = []
            for value in values:
                changes: dict[str, Any] = {setting: value}
                population = dataclasses.replace(Population(customers=args.customers), **changes)
                row = one(population, args.seed, Path(tmp), f"{setting}-{value}")
                row[setting] = value
                rows.append(row)
                ok = ok and row["conserved"] and row["judged_right"] in (None, 1.0)
            out["curves"][setting] = rows
            lines += [
                f"`{setting}` (the others at their defaults):",
                "",
                f"| {setting} | orders | right | judged right | unattributed | checks |",
                "| --- | --- | --- | --- | --- | --- |",
            ]
            for r in rows:
                lines.append(
                    f"| {r[setting]:g} | {r['orders']} | {r['right']:.1%} |"
                    f" {r['judged_right']:.1%} of {r['judged']} | {r['unattributed']:.1%} |"
                    f" {'all OK' if r['conserved'] else 'FAILED'} |"
                )
            lines.append("")
    table = "\n".join(lines)
    out["table"] = table
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "degradation.json").write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
