"""What a key on a random page costs a SQLite commit: ``python bench/random_inserts.py``.

The ingest job inserts, for every event, keys that land on random pages of large indexes (its
dedup key, its click ids, its consent subject). This measures the CPU per such insert on a
WITHOUT ROWID table of 300,000 random keys (like ``consent_subjects``), in 2000-key
transactions (an ingest commit of two 1000-event requests), with the store's settings (WAL,
``synchronous=FULL``), in four ways: inside a savepoint or not (the group commit's jobs after
the first run in one: ``signalyard.store._dbthread``), and with SQLite's default automatic
checkpoint (1,000 pages) or the store's (``WAL_AUTOCHECKPOINT_PAGES``). Each way on a fresh
file in a temporary directory, three times; the median is printed. Figures are CPU time of
this process (the commit's writes and fsync included), for comparing the ways with each other
in one run, not across machines.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from signalyard.store.sqlite import WAL_AUTOCHECKPOINT_PAGES

KEYS = 300_000
PER_COMMIT = 2_000
COMMITS = 50
RUNS = 3


def _keys(rng: random.Random, n: int) -> list[tuple[str, str, str, str, float]]:
    return [
        ("1234567890", f"fb.1.1700000000000.{rng.getrandbits(60)}", "granted", "api", 1.0)
        for _ in range(n)
    ]


def measure(folder: Path, *, savepoint: bool, checkpoint_pages: int) -> float:
    """CPU microseconds per inserted key."""
    path = folder / f"k-{savepoint}-{checkpoint_pages}-{time.monotonic_ns()}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute(f"PRAGMA wal_autocheckpoint={checkpoint_pages}")
        conn.execute(
            "CREATE TABLE k(d TEXT, s TEXT, st TEXT, src TEXT, u REAL, PRIMARY KEY (d, s))"
            " WITHOUT ROWID"
        )
        rng = random.Random(1)
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO k VALUES (?,?,?,?,?)", _keys(rng, KEYS))
        conn.execute("COMMIT")
        batches = [_keys(rng, PER_COMMIT) for _ in range(COMMITS)]
        start = time.process_time()
        for batch in batches:
            conn.execute("BEGIN IMMEDIATE")
            if savepoint:
                conn.execute("SAVEPOINT job")
            conn.executemany("INSERT INTO k VALUES (?,?,?,?,?)", batch)
            if savepoint:
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        return (time.process_time() - start) / (COMMITS * PER_COMMIT) * 1e6
    finally:
        conn.close()


def main() -> None:
    ways = [
        ("savepoint, checkpoint every 1,000 pages (before)", True, 1_000),
        ("no savepoint, checkpoint every 1,000 pages", False, 1_000),
        ("savepoint, store's checkpoint", True, WAL_AUTOCHECKPOINT_PAGES),
        ("no savepoint, store's checkpoint (the first job of a commit, now)", False,
         WAL_AUTOCHECKPOINT_PAGES),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        figures = {
            name: statistics.median(
                measure(Path(tmp), savepoint=sp, checkpoint_pages=pages) for _ in range(RUNS)
            )
            for name, sp, pages in ways
        }
    base = figures[ways[0][0]]
    print(f"`python bench/random_inserts.py`: {KEYS:,} keys, {PER_COMMIT:,} per commit")
    print()
    print("| way | CPU per key | vs before |")
    print("| --- | --- | --- |")
    for name, value in figures.items():
        print(f"| {name} | {value:.1f} µs | {value / base:.2f}x |")


if __name__ == "__main__":
    main()
