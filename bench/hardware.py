"""The hardware limit: how fast SQLite commits durably on this disk, and what machine this is.

Measured with the store's own settings (WAL, ``synchronous=FULL``, so every commit is
fsynced) on a table shaped like the store's ``events`` (a unique text key and a ~1 KB blob),
in the directory the benchmark server uses: single-row transactions (one fsync per row) and
1000-row transactions (``executemany``, one fsync per 1000 rows).
"""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from signalyard.store.sqlite import WAL_AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES

_PAYLOAD = bytes(range(256)) * 3 + b"x" * 132  # 900 bytes, about one event with full user_data


@dataclass
class SQLiteLimit:
    single_row_commits_per_second: float
    single_row_commits: int
    rows_per_second_in_1000_row_transactions: float
    rows_in_batches: int
    sqlite_version: str

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["single_row_commits_per_second"] = round(self.single_row_commits_per_second, 1)
        data["rows_per_second_in_1000_row_transactions"] = round(
            self.rows_per_second_in_1000_row_transactions, 1
        )
        return data


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS rows(pk INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE,"
        " received_at REAL NOT NULL, payload BLOB NOT NULL)"
    )
    return conn


def sqlite_limit(directory: Path, seconds: float) -> SQLiteLimit:
    """Commit rates on the disk holding ``directory``; about ``seconds`` for each of the two."""
    path = directory / "hardware-limit.db"
    conn = _connect(path)
    try:
        n = 0
        start = time.perf_counter()
        end = start + seconds
        while True:
            conn.execute(
                "INSERT INTO rows(k, received_at, payload) VALUES (?,?,?)",
                (f"single-{n}", time.time(), _PAYLOAD),
            )  # autocommit: one transaction, one fsync
            n += 1
            if n % 16 == 0 and time.perf_counter() >= end:
                break
        single_rate = n / (time.perf_counter() - start)

        rows = 0
        start = time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            now = time.time()
            batch = [(f"batch-{rows + i}", now, _PAYLOAD) for i in range(1000)]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO rows(k, received_at, payload) VALUES (?,?,?)", batch)
            conn.execute("COMMIT")
            rows += 1000
        batch_rate = rows / (time.perf_counter() - start)
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return SQLiteLimit(single_rate, n, batch_rate, rows, sqlite3.sqlite_version)


# --- the machine ---------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _disk(directory: Path) -> dict[str, str]:
    """The mount (device, file system, options) holding ``directory``, and whether the
    block device says it is rotational."""
    target = str(directory.resolve())
    best: list[str] = []
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if (
                len(parts) >= 4
                and (target == parts[1] or target.startswith(parts[1].rstrip("/") + "/"))
                and (not best or len(parts[1]) > len(best[1]))
            ):
                best = parts
    except OSError:
        return {}
    if not best:
        return {}
    info = {"device": best[0], "mount": best[1], "fs": best[2], "options": best[3]}
    name = Path(best[0]).name
    rotational = Path(f"/sys/block/{name}/queue/rotational")
    if rotational.exists():
        info["rotational"] = rotational.read_text().strip()
    return info


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(directory: Path) -> dict[str, Any]:
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    try:
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        memory_kb = 0
    return {
        "nproc": len(affinity) or os.cpu_count(),
        "cpus": affinity,
        "cpu_model": _cpu_model(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "disk": _disk(directory),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "packages": {
            name: _version(name)
            for name in (
                "signalyard",
                "uvicorn",
                "uvloop",
                "httptools",
                "starlette",
                "orjson",
                "phonenumbers",
                "facebook-business",
            )
        },
    }


def load_average() -> tuple[float, float, float]:
    """1, 5 and 15 minute load averages (other work on the machine makes figures noisy)."""
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)
