"""Retention cost: how fast delivered rows are pruned, and that ingest keeps flowing meanwhile.

For SQLite and PostgreSQL, in one run: fill a fresh store with N events whose outbox rows are
delivered and old, then run ``store.prune`` (batches of 5,000 rows, one short transaction
each) while a concurrent client ingests single events, and report pruned rows/s and the
ingest latency during the prune (p50/p99/max: a long lock would show as a long stall).

    python bench/retention.py [--events 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from signalyard.event import AcceptedEvent
from signalyard.secret import Secret
from signalyard.store import migrate
from signalyard.store.base import Store
from signalyard.store.postgres import PostgresStore
from signalyard.store.sqlite import SQLiteStore

PG_ADMIN = os.environ.get("SIGNALYARD_BENCH_POSTGRES", "postgresql://127.0.0.1:5432/test")
DAY = 86400.0


def event(i: int, now: float, tag: str) -> AcceptedEvent:
    payload = {"event_name": "Purchase", "event_id": f"{tag}-{i}", "user_data": {"em": ["0" * 64]}}
    return AcceptedEvent("1234567890", "Purchase", f"{tag}-{i}", int(now), payload)


async def fill(store: Store, n: int, now: float) -> None:
    old = now - 10 * DAY
    await store.add_dataset("1234567890", name="bench", default_country=None, now=old)
    dest = await store.add_destination(
        "1234567890",
        name="meta",
        kind="meta",
        options={"pixel_id": "1234567890"},
        secrets={"access_token": Secret("t")},
        now=old,
    )
    for start in range(0, n, 5000):
        await store.ingest([event(i, old, "old") for i in range(start, start + 5000)], now=old)
        claimed = await store.claim(dest.id, owner="b", limit=5000, now=old, lease_seconds=60)
        await store.settle_delivered([c.outbox_id for c in claimed], owner="b", now=old)


async def measure(store: Store, n: int, now: float) -> dict[str, Any]:
    latencies: list[float] = []
    done = asyncio.Event()

    async def ingest_loop() -> None:
        i = 0
        while not done.is_set():
            t = time.perf_counter()
            await store.ingest([event(i, now, "new")], now=now)
            latencies.append((time.perf_counter() - t) * 1000)
            i += 1

    client = asyncio.create_task(ingest_loop())
    await asyncio.sleep(0.2)
    t = time.perf_counter()
    result = await store.prune(before=now - 7 * DAY, now=now)
    seconds = time.perf_counter() - t
    done.set()
    await client
    rows = result.outbox + result.events + result.attempts + result.dedup_keys
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 2 else [0.0] * 99
    return {
        "events": n,
        "seconds": round(seconds, 2),
        "rows_deleted": rows,
        "rows_per_second": round(rows / seconds),
        "outbox": result.outbox,
        "events_deleted": result.events,
        "dedup_keys": result.dedup_keys,
        "ingest_during_prune": len(latencies),
        "ingest_p50_ms": round(q[49], 1),
        "ingest_p99_ms": round(q[98], 1),
        "ingest_max_ms": round(max(latencies, default=0), 1),
    }


async def run_backend(name: str, url: str, n: int) -> dict[str, Any]:
    migrate.upgrade(url) if name == "sqlite" else await asyncio.to_thread(migrate.upgrade, url)
    store: Store = SQLiteStore(url) if name == "sqlite" else PostgresStore(url)
    await store.open()
    try:
        now = time.time()
        await fill(store, n, now)
        return await measure(store, n, now)
    finally:
        await store.close()


async def main(n: int) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = await run_backend("sqlite", f"sqlite:///{Path(tmp) / 'r.db'}", n)
    db = f"signalyard_retention_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{db}"')
    try:
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db
        results["postgresql"] = await run_backend("postgresql", url, n)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    print(
        "| backend | events pruned | rows deleted | seconds | rows/s |"
        " ingest during prune (p50 / p99 / max ms) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        print(
            f"| {name} | {r['events_deleted']:,} | {r['rows_deleted']:,} | {r['seconds']} |"
            f" {r['rows_per_second']:,} | {r['ingest_during_prune']:,} ingests:"
            f" {r['ingest_p50_ms']} / {r['ingest_p99_ms']} / {r['ingest_max_ms']} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.events)))
