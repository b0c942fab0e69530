"""What storing an event costs as the SQLite database grows: ``python bench/ingest_growth.py``.

The three-destination ingest of ``bench/destinations.py`` got slower per event the longer it
ran. This finds out where, without HTTP: one process builds the same database (dataset, key,
Meta, Google and TikTok), then ingests the same 1000-event requests through
:class:`~signalyard.sources.ingest.Ingestor` and the store (the group commit, as ``serve``
does, one request at a time, ``gc_tuning`` applied), and reports per event, for each block of
requests: the process's CPU, the store thread's CPU (``/proc/self/task/<id>/schedstat``),
and the bytes the process handed to ``write`` and ``read`` (``/proc/self/io``: the WAL
frames of each commit and the checkpoint's copies, the pages read back). An index that takes
keys on random pages shows as bytes written per event growing with the database.

``--with-index NAME`` adds an index before the run, to compare with what the schema has:
``clicked`` re-creates the click ledger's index on ``clicked_at`` that migration 0016
replaced. ``--no-fbp``: events without ``fbp`` (no consent subject to record).
``--checkpoint-pages N``: the store's ``wal_autocheckpoint`` for this run.

Figures compare ways in one run on one machine (its speed changes by the hour): read the
bytes, which do not depend on it, before the microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import destinations as bench

from signalyard import gc_tuning
from signalyard.clock import SystemClock
from signalyard.runtime import make_store
from signalyard.settings import load_settings
from signalyard.sinks import REGISTRY
from signalyard.sources.auth import new_key
from signalyard.sources.ingest import Ingestor
from signalyard.store import sqlite as sqlite_store

KINDS = ("meta", "google", "tiktok")


class _Sandboxes:
    """Every base URL option says "sandbox" (nothing is delivered here)."""

    def option(self, kind: str) -> str:
        return bench.SANDBOX


def counters() -> dict[str, int]:
    """Bytes written and read by the process, and CPU nanoseconds of the store's thread."""
    io = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    out = {"written": int(io["wchar"]), "read": int(io["rchar"]), "store_ns": 0}
    for thread in threading.enumerate():
        if thread.name.startswith("signalyard-db") and thread.native_id is not None:
            stat = Path(f"/proc/self/task/{thread.native_id}/schedstat").read_text()
            out["store_ns"] += int(stat.split()[0])
    return out


async def run(path: Path, requests: int, block: int, fbp: bool) -> list[dict[str, Any]]:
    url = f"sqlite:///{path}"
    store = make_store(load_settings(environ={}, database_url=url))
    await store.open()
    rows: list[dict[str, Any]] = []
    try:
        ingestor = Ingestor(
            store,
            SystemClock(),
            default_country="US",
            max_future_seconds=600,
            identity_by_kind={k: s.identity for k, s in REGISTRY.items()},
            max_age_by_kind={k: s.max_age_seconds for k, s in REGISTRY.items()},
        )
        dataset = await store.get_dataset(bench.DATASET)
        assert dataset is not None
        rng = random.Random(10)
        now = int(time.time())
        cpu = 0.0
        totals = {"written": 0, "read": 0, "store_ns": 0}
        for r in range(requests):
            first = r * bench.EVENTS_PER_REQUEST
            events = [
                bench.make_event("growth", i, now, rng, fbp=fbp)
                for i in range(first, first + bench.EVENTS_PER_REQUEST)
            ]
            before, started = counters(), time.process_time()
            await ingestor.ingest(events, dataset, source="api")
            cpu += time.process_time() - started
            after = counters()
            for name in totals:
                totals[name] += after[name] - before[name]
            if (r + 1) % block == 0:
                n = block * bench.EVENTS_PER_REQUEST
                rows.append(
                    {
                        "events": (r + 1) * bench.EVENTS_PER_REQUEST,
                        "cpu_us": cpu / n * 1e6,
                        "store_us": totals["store_ns"] / n / 1e3,
                        "written_kb": totals["written"] / n / 1024,
                        "read_kb": totals["read"] / n / 1024,
                    }
                )
                cpu = 0.0
                totals = dict.fromkeys(totals, 0)
    finally:
        await store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=150, help="1000-event requests (150)")
    parser.add_argument("--block", type=int, default=25, help="requests per reported row")
    parser.add_argument("--with-index", choices=sorted(bench.EXTRA_INDEXES), action="append")
    parser.add_argument("--no-fbp", action="store_true")
    parser.add_argument("--page-size", type=int, help="an experiment: a new file's page size")
    parser.add_argument(
        "--checkpoint-pages",
        type=int,
        help="an experiment: the store's wal_autocheckpoint (pages in the log before a commit"
        " copies them into the database; the store's is WAL_AUTOCHECKPOINT_PAGES)",
    )
    args = parser.parse_args()
    if args.checkpoint_pages is not None:
        if args.checkpoint_pages < 1:
            parser.error("--checkpoint-pages is a number of pages, 1 or more")
        sqlite_store.WAL_AUTOCHECKPOINT_PAGES = args.checkpoint_pages
    gc_tuning.limit_malloc_arenas()
    gc_tuning.tune()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "growth.db"
        if args.page_size:
            with sqlite3.connect(path) as conn:
                conn.execute(f"PRAGMA page_size={int(args.page_size)}")
                conn.execute("VACUUM")
        extra = tuple(args.with_index or ())
        bench.prepare(path, new_key(), KINDS, _Sandboxes(), extra)  # type: ignore[arg-type]
        rows = asyncio.run(run(path, args.requests, args.block, not args.no_fbp))
    extra = ", ".join(args.with_index or ()) or "none"
    print(
        f"`python bench/ingest_growth.py`: {', '.join(KINDS)}; extra index: {extra};"
        f" fbp: {'no' if args.no_fbp else 'yes'};"
        f" checkpoint every {sqlite_store.WAL_AUTOCHECKPOINT_PAGES:,} log pages"
    )
    print()
    print("| events stored | CPU per event | store thread | written per event | read per event |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['events']:,} | {row['cpu_us']:.0f} µs | {row['store_us']:.0f} µs"
            f" | {row['written_kb']:.1f} KB | {row['read_kb']:.1f} KB |"
        )


if __name__ == "__main__":
    main()
