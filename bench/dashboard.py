"""Dashboard pages with a year of data: 10 million events in the store.

Fills a SQLite store (the embedded default) with ``--events`` events spread over the last 365
days (6 event names, 4 sources, customer keys varying), their outbox rows (delivered, but
for a queue of recent events and some dead letters), and the statistics rollups those events
produce (built from the stored rows with SQL, so they agree with them). The store is kept
between runs (``--db``; rebuilt with ``--rebuild``).

Then it times, in this process: the views behind the pages, and each dashboard page through
the real ASGI app (logged in, HTML rendered), ``--repeat`` times each: median and max.

    python bench/dashboard.py [--events 10000000] [--db /tmp/signalyard-bench-dashboard.db]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from signalyard.clock import FrozenClock
from signalyard.insights import views
from signalyard.sinks import REGISTRY
from signalyard.store import migrate
from signalyard.store.sqlite import SQLiteStore

DATASET = "1234567890"
NAMES = ("PageView", "ViewContent", "AddToCart", "InitiateCheckout", "Purchase", "Lead")
SOURCES = ("browser", "graph_api", "shopify", "import")
YEAR = 365 * 86400


def seed(path: Path, n: int, now: float) -> float:
    """Write the store; returns seconds taken."""
    started = time.perf_counter()
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    conn.execute(
        "INSERT INTO datasets(id, name, default_country, created_at) VALUES (?,?,?,?)",
        (DATASET, "Shop", "US", now - YEAR),
    )
    conn.execute(
        "INSERT INTO destinations(dataset_id, name, kind, options, secrets, state,"
        " paused_reason, paused_fix, created_at, updated_at) VALUES"
        " (?, 'meta', 'meta', '{\"pixel_id\": \"1234567890\"}', NULL, 'paused',"
        " 'the access token expired (190/463)', 'replace it: signalyard destinations"
        " set-token meta', ?, ?)",
        (DATASET, now - YEAR, now),
    )
    names = ",".join(f"'{x}'" for x in NAMES)
    sources = ",".join(f"'{x}'" for x in SOURCES)
    # Event i: received at a time spread over the year (newest last); names and sources
    # cycle with different periods so every combination occurs.
    conn.execute(
        f"""
        WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?)
        INSERT INTO events(dataset_id, event_name, event_id, event_time, received_at, source,
                           test_event_code, payload)
        SELECT ?, json_extract(json_array({names}), '$[' || (i % 6) || ']'), 'e' || i,
               CAST(? - ? + i * ? AS INTEGER) - 30, ? - ? + i * ?,
               json_extract(json_array({sources}), '$[' || (i % 4) || ']'), NULL,
               CAST('{{"event_name":"x","user_data":{{"em":["' || hex(randomblob(32)) ||
                    '"],"client_ip_address":"203.0.113.9"}}}}' AS BLOB)
        FROM c
        """,
        (n, DATASET, now, YEAR, YEAR / n, now, YEAR, YEAR / n),
    )
    recent = 1000  # the newest events are still queued
    dead = 50
    conn.execute(
        "INSERT INTO outbox(event_pk, destination_id, status, due_at, attempts, created_at,"
        " settled_at, consent_action) SELECT pk, 1, CASE WHEN pk > ? THEN 'queued'"
        " WHEN pk % 200000 = 0 THEN 'dead' ELSE 'delivered' END, received_at, 1, received_at,"
        " CASE WHEN pk > ? THEN NULL ELSE received_at + 2 END, 'full' FROM events",
        (n - recent, n - recent),
    )
    conn.execute(
        "UPDATE outbox SET dead_reason = 'Invalid parameter (2804019)', dead_code = 100,"
        " dead_subcode = 2804019 WHERE status = 'dead'"
    )
    # The rollups those events produce.
    conn.execute(
        "INSERT INTO stats_events(dataset_id, hour, event_name, source, received, stored,"
        " duplicates, generated_ids, late, future, hashed_cookies, malformed_cookies,"
        " dropped_values, paired, mismatched) SELECT dataset_id, CAST(received_at / 3600 AS"
        " INTEGER), event_name, source, COUNT(*), COUNT(*), COUNT(*) / 50, 0, COUNT(*) / 100,"
        " 0, 0, 0, COUNT(*) / 200, CASE WHEN source = 'shopify' THEN COUNT(*) / 2 ELSE 0 END,"
        " 0 FROM events GROUP BY 1, 2, 3, 4"
    )
    conn.execute(
        "INSERT INTO stats_masks(dataset_id, day, event_name, mask, events)"
        " SELECT dataset_id, CAST(received_at / 86400 AS INTEGER), event_name,"
        " CASE pk % 3 WHEN 0 THEN 32 + 64 + 256 WHEN 1 THEN 1 + 32 + 64 + 256"
        " ELSE 1 + 2 + 32 + 64 + 128 + 256 END, COUNT(*) FROM events GROUP BY 1, 2, 3, 4"
    )
    conn.execute(
        "INSERT INTO stats_delivery(destination_id, hour, delivered, dead, requests,"
        " failed_requests, delay_seconds) SELECT destination_id, CAST(settled_at / 3600 AS"
        " INTEGER), SUM(status = 'delivered'), SUM(status = 'dead'), COUNT(*) / 100 + 1, 0,"
        " 2 * COUNT(*) FROM outbox WHERE settled_at IS NOT NULL GROUP BY 1, 2"
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    (path.parent / (path.name + ".seeded")).write_text(str(n))
    del dead
    return time.perf_counter() - started


MODELS = {k: s.match_model for k, s in REGISTRY.items() if s.match_model is not None}


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return {"median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000}


async def measure(path: Path, now: float, repeat: int) -> dict[str, Any]:
    store = SQLiteStore(f"sqlite:///{path}")
    await store.open()
    results: dict[str, Any] = {}
    try:
        for label, fn in (
            ("views.overview 7d", lambda: views.overview(store, DATASET, now=now, hours=168)),
            ("views.overview 30d", lambda: views.overview(store, DATASET, now=now, hours=720)),
            ("views.queues", lambda: views.queues(store, DATASET, now=now)),
            (
                "views.match_quality 7d",
                lambda: views.match_quality(store, DATASET, now=now, models=MODELS),
            ),
            ("views.dedup 7d", lambda: views.dedup(store, DATASET, now=now)),
            ("views.diagnostics 7d", lambda: views.diagnostics(store, DATASET, now=now)),
        ):
            results[label] = await timed(fn, repeat)
        results.update(await pages(store, now, repeat))
    finally:
        await store.close()
    return results


async def login(client: Any, password: str) -> None:
    """Log ``client`` (an httpx client of an app with the dashboard at ``/dashboard``) in."""
    import re

    form = await client.get("/dashboard/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None, "no CSRF token on the login page"
    done = await client.post(
        "/dashboard/login", data={"csrf": token[1], "password": password, "next": ""}
    )
    assert done.status_code == 303, done.text


async def pages(store: SQLiteStore, now: float, repeat: int) -> dict[str, Any]:
    """Each dashboard page through the real ASGI app, logged in: what a browser waits for."""
    import httpx

    from signalyard.dashboard import create_dashboard
    from signalyard.secret import Secret
    from signalyard.settings import DashboardSettings

    password = "bench-password"
    from starlette.applications import Starlette
    from starlette.routing import Mount

    dashboard = create_dashboard(
        store, FrozenClock(now), DashboardSettings(password=Secret(password))
    )
    transport = httpx.ASGITransport(app=Starlette(routes=[Mount("/dashboard", app=dashboard)]))
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        await login(client, password)
        for label, path in (
            ("page overview 7d", f"/?dataset={DATASET}&window=7d"),
            ("page overview 30d", f"/?dataset={DATASET}&window=30d"),
            ("page quality", f"/quality?dataset={DATASET}"),
            ("page dedup", f"/dedup?dataset={DATASET}"),
            ("page delivery", f"/delivery?dataset={DATASET}"),
            ("page diagnostics", f"/diagnostics?dataset={DATASET}"),
            ("page alerts", "/alerts"),
        ):

            async def get(path: str = path) -> None:
                r = await client.get("/dashboard" + path)
                assert r.status_code == 200, (path, r.status_code)

            out[label] = await timed(get, repeat)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--db", default=os.path.join("/tmp", "signalyard-bench-dashboard.db"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    path = Path(args.db)
    marker = path.parent / (path.name + ".seeded")
    now = float(int(time.time()))
    if args.rebuild or not marker.exists() or marker.read_text() != str(args.events):
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), marker):
            p.unlink(missing_ok=True)
        print(f"seeding {args.events:,} events into {path} ...", file=sys.stderr)
        print(f"seeded in {seed(path, args.events, now):.0f} s", file=sys.stderr)
    conn = sqlite3.connect(path)
    counts = {
        t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("events", "outbox", "stats_events", "stats_masks")
    }
    newest = conn.execute("SELECT MAX(received_at) FROM events").fetchone()[0]
    conn.close()
    print({"rows": counts, "db_bytes": path.stat().st_size})
    results = asyncio.run(measure(path, float(newest), args.repeat))
    width = max(map(len, results))
    for label, r in results.items():
        print(f"{label:<{width}}  median {r['median_ms']:8.1f} ms   max {r['max_ms']:8.1f} ms")


if __name__ == "__main__":
    main()
