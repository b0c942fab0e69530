"""PostgreSQL beside SQLite, 1 to 4 processes, in one run: ``python bench/scale.py [--quick]``.

1. The hardware limits: asyncpg inserting rows shaped like the store's ``events`` (the
   columns, the index, payloads from real cleaned events) in 1000-row transactions, with
   ``executemany`` and with ``unnest``, one connection; SQLite's 1000-row transactions
   (``bench/hardware.py``). Then each store alone (``PostgresStore.ingest`` /
   ``SQLiteStore.ingest`` called in-process with 1000 pre-cleaned events per call: the
   dedup key, the event and its outbox row, no HTTP and no cleaning).
2. Ingest: a fresh database each time, prepared as the end-to-end tests prepare one
   (dataset 1234567890, an ingest key, a Meta destination with ``graph_url`` "sandbox"), N
   ``signalyard serve --no-worker --no-sandbox`` processes on N ports, the load generator
   (``bench/loadgen.py``'s connections) spreading its connections over them evenly: durable
   events/s in 1000-event requests (full customer data, distinct ids; 2 connections per
   process), every answer checked, then the events and outbox rows in the database counted
   against those acknowledged. PostgreSQL with 1, 2 and 4 processes, SQLite (one file) with
   1 and 2; also the package's one-port mode, ``serve --workers N`` (PostgreSQL 2 and 4,
   SQLite 2), where the kernel decides which process gets each connection (the CPU of every
   process is reported); and one process of each backend at 8 connections.
3. Delivery: a queue pre-filled once per backend (N events ingested through ``serve`` with
   the worker off), copied for each run (PostgreSQL: ``CREATE DATABASE ... TEMPLATE``;
   SQLite: the backup API), a standalone sandbox (``signalyard sandbox meta``) and 1, 2 or 4
   ``signalyard worker`` processes; timed until the outbox has nothing queued. Checked:
   every outbox row delivered, none dead, and the sandbox received each event once
   (``/_sandbox/summary``: events received, distinct event ids, no duplicates, no rejects).

Nothing is pinned: the machine's CPUs are shared by PostgreSQL, the Signalyard processes
and the load generator, as they would be on one host. The CPU each group used is read
from /proc and reported with the machine's busy share, so it shows when the machine, not
the software, is the limit.

Prints a Markdown table (ratios against the asyncpg limit and against SQLite with as many
processes) and writes everything to bench/results/scale.json. PostgreSQL databases are
created on the server of ``--admin-url`` as ``signalyard_bench_<random>_<part>`` and
dropped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import math
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
import hardware
import httpx
import loadgen
import orjson
import server
import workload

from signalyard.event import AcceptedEvent
from signalyard.runtime import make_store
from signalyard.secret import Secret
from signalyard.settings import load_settings
from signalyard.sources.auth import NewKey, new_key
from signalyard.store import migrate
from signalyard.transforms.pipeline import clean_event

RESULTS = Path(__file__).resolve().parent / "results"
COMMAND = "python bench/scale.py"
ADMIN_URL = "postgresql://127.0.0.1:5432/test"
TARGET_PG_EVENTS = 10_000.0
EVENTS_PER_REQUEST = 1000
EXPECT = b'"events_received":%d,"messages":[]' % EVENTS_PER_REQUEST
DATASET = workload.DATASET_ID
SANDBOX_TOKEN = "EAAB-bench-sandbox-token"
PG = "postgresql"
SQLITE = "sqlite"
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Plan:
    quick: bool
    limit_seconds: float
    ingest_seconds: float
    connections_per_process: int
    pg_ingest: tuple[int, ...]
    sqlite_ingest: tuple[int, ...]
    pg_one_port: tuple[int, ...]
    """Process counts also run as ``serve --workers N`` on one port."""
    sqlite_one_port: tuple[int, ...]
    concurrency_probes: tuple[tuple[str, int, int], ...]
    """Extra ingest runs (backend, processes, connections): the effect of concurrency."""
    delivery_events: int
    pg_delivery: tuple[int, ...]
    sqlite_delivery: tuple[int, ...]
    max_events_per_second: int = 30_000
    """Requests are built ahead: at most this many events per second of an ingest run."""
    delivery_timeout: float = 600.0


def plan_for(args: argparse.Namespace) -> Plan:
    if args.quick:
        plan = Plan(
            quick=True,
            limit_seconds=1.0,
            ingest_seconds=3.0,
            connections_per_process=2,
            pg_ingest=(1, 2),
            sqlite_ingest=(1,),
            pg_one_port=(),
            sqlite_one_port=(),
            concurrency_probes=(),
            delivery_events=10_000,
            pg_delivery=(1, 2),
            sqlite_delivery=(1,),
            max_events_per_second=25_000,
            delivery_timeout=180.0,
        )
    else:
        plan = Plan(
            quick=False,
            limit_seconds=3.0,
            ingest_seconds=12.0,
            connections_per_process=2,
            pg_ingest=(1, 2, 4),
            sqlite_ingest=(1, 2),
            pg_one_port=(2, 4),
            sqlite_one_port=(2,),
            concurrency_probes=((PG, 1, 8), (SQLITE, 1, 8)),
            delivery_events=50_000,
            pg_delivery=(1, 2, 4),
            sqlite_delivery=(1, 2),
        )
    counts: dict[str, Any] = {}
    for name in (
        "pg_ingest",
        "sqlite_ingest",
        "pg_one_port",
        "sqlite_one_port",
        "pg_delivery",
        "sqlite_delivery",
    ):
        value = getattr(args, name)
        if value is not None:
            counts[name] = tuple(value)
    plan = replace(plan, **counts)
    if args.connections_per_process:
        plan = replace(plan, connections_per_process=args.connections_per_process)
    if args.ingest_seconds:
        plan = replace(plan, ingest_seconds=args.ingest_seconds)
    if args.delivery_events:
        plan = replace(plan, delivery_events=args.delivery_events)
    if plan.delivery_events % EVENTS_PER_REQUEST:
        raise SystemExit("--delivery-events must be a multiple of 1000")
    return plan


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _loadavg() -> list[float]:
    return [round(x, 2) for x in hardware.load_average()]


# --- CPU accounting from /proc -------------------------------------------------------------


@dataclass(frozen=True)
class _Proc:
    comm: str
    session: int
    cpu: float


@dataclass(frozen=True)
class Snapshot:
    wall: float
    machine_busy: float
    machine_total: float
    procs: dict[int, _Proc]
    self_cpu: float


def _processes() -> dict[int, _Proc]:
    out: dict[int, _Proc] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                raw = fh.read().decode(errors="replace")
        except OSError:
            continue
        head, _, tail = raw.rpartition(")")
        fields = tail.split()
        if len(fields) < 13:
            continue
        out[int(entry.name)] = _Proc(
            head.partition("(")[2], int(fields[3]), (int(fields[11]) + int(fields[12])) / _TICKS
        )
    return out


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all CPUs."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = values[3] + values[4]
    return (sum(values) - idle) / _TICKS, sum(values) / _TICKS


def snapshot() -> Snapshot:
    busy, total = _machine()
    return Snapshot(time.perf_counter(), busy, total, _processes(), time.process_time())


def session_pids(session: int) -> list[int]:
    return sorted(pid for pid, p in _processes().items() if p.session == session)


def cpu_use(a: Snapshot, b: Snapshot, groups: dict[str, Sequence[int]]) -> dict[str, Any]:
    """Cores used between two snapshots: per group of sessions (each process too), by every
    ``postgres`` process (the whole server: other users' work too), by this process (the
    load generator), and the machine's busy share."""
    wall = b.wall - a.wall

    def used(pid: int) -> float:
        before = a.procs.get(pid)
        return b.procs[pid].cpu - (before.cpu if before is not None else 0.0)

    out: dict[str, Any] = {"seconds": round(wall, 2), "cores": {}, "per_process": {}}
    for name, sessions in groups.items():
        members = sorted(pid for pid, p in b.procs.items() if p.session in set(sessions))
        per = [round(used(pid) / wall, 3) for pid in members] if wall > 0 else []
        out["per_process"][name] = [x for x in per if x > 0.005] or per
        out["cores"][name] = round(sum(per), 3)
    postgres = sum(used(pid) for pid, p in b.procs.items() if p.comm == "postgres")
    out["cores"]["postgres"] = round(postgres / wall, 3) if wall > 0 else 0.0
    out["cores"]["load_generator"] = round((b.self_cpu - a.self_cpu) / wall, 3) if wall else 0.0
    total = b.machine_total - a.machine_total
    out["machine_busy_share"] = round((b.machine_busy - a.machine_busy) / total, 3) if total else 0
    out["cpus"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return out


# --- databases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    backend: str
    url: str
    name: str
    """The PostgreSQL database's name, or the SQLite file's path."""


class Databases:
    """Fresh databases for this run; every one is dropped at the end (``drop_all``)."""

    def __init__(self, admin_url: str, workdir: Path) -> None:
        self.admin_url = admin_url
        self.workdir = workdir
        self.prefix = f"signalyard_bench_{secrets.token_hex(4)}"
        self.created: list[Database] = []

    def _pg_url(self, name: str) -> str:
        parts = urllib.parse.urlsplit(self.admin_url)
        return urllib.parse.urlunsplit(parts._replace(path="/" + name))

    async def _admin(self, sql: str, *, retries: int = 0) -> None:
        conn = await asyncpg.connect(self.admin_url, timeout=30)
        try:
            for attempt in range(retries + 1):
                try:
                    await conn.execute(sql, timeout=120)
                    return
                except asyncpg.ObjectInUseError:  # a template still has a closing session
                    if attempt == retries:
                        raise
                    await asyncio.sleep(0.5)
        finally:
            await conn.close()

    def create(self, backend: str, tag: str, *, template: Database | None = None) -> Database:
        if backend == PG:
            name = f"{self.prefix}_{tag}"
            sql = f'CREATE DATABASE "{name}"'
            if template is not None:
                sql += f' TEMPLATE "{template.name}"'
            db = Database(PG, self._pg_url(name), name)
            self.created.append(db)
            asyncio.run(self._admin(sql, retries=20 if template is not None else 0))
            return db
        path = self.workdir / f"{tag}.db"
        db = Database(SQLITE, f"sqlite:///{path}", str(path))
        self.created.append(db)
        if template is not None:
            with (
                contextlib.closing(sqlite3.connect(template.name)) as source,
                contextlib.closing(sqlite3.connect(path)) as target,
            ):
                source.backup(target)
        return db

    def drop(self, db: Database) -> None:
        if db.backend == PG:
            asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)'))
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{db.name}{suffix}").unlink(missing_ok=True)
        with contextlib.suppress(ValueError):
            self.created.remove(db)

    def drop_all(self) -> list[str]:
        failed = []
        for db in reversed(list(self.created)):
            try:
                self.drop(db)
            except Exception as error:
                failed.append(f"{db.name}: {error}")
        return failed


def query(db: Database, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one statement (plain SQL both backends understand)."""
    if db.backend == SQLITE:
        with contextlib.closing(sqlite3.connect(db.name, timeout=60)) as conn:
            return [tuple(r) for r in conn.execute(sql)]

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(db.url, timeout=30)
        try:
            return [tuple(r) for r in await conn.fetch(sql, timeout=120)]
        finally:
            await conn.close()

    return asyncio.run(run())


def outbox_counts(db: Database) -> dict[str, int]:
    return {
        str(status): int(n)
        for status, n in query(db, "SELECT status, count(*) FROM outbox GROUP BY status")
    }


def prepare(db: Database, key: NewKey) -> None:
    """Migrated, with dataset 1234567890 (default country US), ``key`` and a Meta destination
    with graph_url "sandbox" (as tests/e2e/server.py's ``prepare``)."""
    migrate.upgrade(db.url)

    async def run() -> None:
        store = make_store(load_settings(environ={}, database_url=db.url))
        await store.open()
        try:
            now = time.time()
            await store.add_dataset(DATASET, name="bench", default_country="US", now=now)
            await store.add_key(
                DATASET, key_id=key.id, key_hash=key.key_hash, label="bench", now=now
            )
            await store.add_destination(
                DATASET,
                name="meta-sandbox",
                kind="meta",
                options={"pixel_id": DATASET, "graph_url": "sandbox"},
                secrets={"access_token": Secret(SANDBOX_TOKEN)},
                now=now,
            )
        finally:
            await store.close()

    asyncio.run(run())


# --- child processes -----------------------------------------------------------------------


@dataclass
class Context:
    plan: Plan
    workdir: Path
    dbs: Databases
    key: NewKey
    pool: list[bytes]
    """Pre-built 1000-event requests (distinct events), reused for every fresh database."""


def child_env(db: Database, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALYARD_")}
    env.update(
        SIGNALYARD_DATABASE_URL=db.url,
        SIGNALYARD_LOG_LEVEL="warning",
        SIGNALYARD_DEFAULT_COUNTRY="US",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _wait_processes(child: server.Child, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(session_pids(child.pid)) < count:
        if child.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{child.name}: fewer than {count} processes\n{child.tail()}")
        time.sleep(0.1)


@contextlib.contextmanager
def serving(
    ctx: Context, db: Database, processes: int, *, one_port: bool, name: str
) -> Iterator[list[tuple[int, server.Child]]]:
    """``processes`` ingest processes (worker and sandbox off), ready; stopped on exit."""
    command = [*server._signalyard_command(), "serve", "--no-worker", "--no-sandbox"]
    env = child_env(db)
    with contextlib.ExitStack() as stack:
        served: list[tuple[int, server.Child]] = []
        if one_port:
            port = server.free_port()
            args = [*command, "--port", str(port), "--workers", str(processes)]
            child = stack.enter_context(
                server.Child(name, args, env=env, workdir=ctx.workdir, cpu=None)
            )
            served.append((port, child))
        else:
            for i in range(processes):
                port = server.free_port()
                args = [*command, "--port", str(port)]
                child = stack.enter_context(
                    server.Child(f"{name}-{i}", args, env=env, workdir=ctx.workdir, cpu=None)
                )
                served.append((port, child))
        for port, child in served:
            child.wait_http("127.0.0.1", port, "/readyz", timeout=120.0)
        if one_port and processes > 1:
            # the supervisor and its N processes; then time for every one to start accepting
            _wait_processes(served[0][1], processes + 1, timeout=120.0)
            time.sleep(5.0)
        yield served


async def _spread(
    ports: Sequence[int],
    requests: Sequence[bytes],
    *,
    connections: int,
    duration: float,
    grace: float,
) -> loadgen.LoadResult:
    """``loadgen.run_load`` over several ports: connection i goes to ``ports[i % n]``."""
    indices = iter(range(len(requests)))
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + duration
    tasks = [
        asyncio.create_task(
            loadgen._connection(
                "127.0.0.1",
                ports[i % len(ports)],
                requests,
                indices,
                deadline,
                EXPECT,
                latencies,
                errors,
            )
        )
        for i in range(connections)
    ]
    try:
        async with asyncio.timeout(duration + grace):
            await asyncio.gather(*tasks)
    except TimeoutError:
        errors["timeout: answers still missing after the grace period"] += 1
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return loadgen.LoadResult(
        connections=connections,
        requests_ok=len(latencies),
        events_per_request=EVENTS_PER_REQUEST,
        seconds=time.perf_counter() - start,
        errors=dict(errors),
        latencies_ms=latencies,
        client_cpu_seconds=time.process_time() - cpu0,
    )


def spread_load(
    ports: Sequence[int],
    requests: Sequence[bytes],
    *,
    connections: int,
    duration: float,
    grace: float = 60.0,
) -> loadgen.LoadResult:
    result: loadgen.LoadResult = loadgen.run_async(
        _spread(ports, requests, connections=connections, duration=duration, grace=grace)
    )
    return result


# --- 1. limits -----------------------------------------------------------------------------

_LIMIT_TABLE = (
    "CREATE TABLE limit_events(pk bigserial PRIMARY KEY, dataset_id text NOT NULL,"
    " event_name text NOT NULL, event_id text NOT NULL, event_time int8 NOT NULL,"
    " received_at float8 NOT NULL, source text NOT NULL, test_event_code text,"
    " payload bytea NOT NULL)"
)
_LIMIT_INDEX = "CREATE INDEX limit_events_dataset_received ON limit_events(dataset_id, received_at)"
_LIMIT_COLUMNS = (
    "dataset_id, event_name, event_id, event_time, received_at, source, test_event_code, payload"
)
_LIMIT_EXECUTEMANY = f"INSERT INTO limit_events({_LIMIT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"
_LIMIT_UNNEST = (
    f"INSERT INTO limit_events({_LIMIT_COLUMNS}) SELECT d, n, i, t, $5, s, c, p FROM"
    " unnest($1::text[], $2::text[], $3::text[], $4::int8[], $6::text[], $7::text[],"
    " $8::bytea[]) AS e(d, n, i, t, s, c, p)"
)


def cleaned_events(count: int) -> list[AcceptedEvent]:
    """``count`` workload events through the package's pipeline (what the store receives)."""
    now = time.time()
    return [
        clean_event(
            raw,
            dataset_id=DATASET,
            default_country="US",
            now=now,
            new_id=lambda: uuid.uuid4().hex,
        )
        for raw in workload.make_events(f"limit{int(now)}", 0, count)
    ]


async def _asyncpg_limit(url: str, payloads: list[bytes], seconds: float) -> dict[str, Any]:
    conn = await asyncpg.connect(url, timeout=30)
    out: dict[str, Any] = {}
    try:
        await conn.execute(_LIMIT_TABLE)
        await conn.execute(_LIMIT_INDEX)
        n = len(payloads)
        names, datasets, sources = ["Purchase"] * n, [DATASET] * n, ["graph_api"] * n
        codes: list[str | None] = [None] * n
        for mode in ("executemany", "unnest"):
            rows = 0
            batch = 0
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                ids = [f"{mode}-{batch}-{i}" for i in range(n)]
                now = time.time()
                event_time = int(now) - 60
                async with conn.transaction():
                    if mode == "executemany":
                        await conn.executemany(
                            _LIMIT_EXECUTEMANY,
                            [
                                (DATASET, "Purchase", ids[i], event_time, now, "graph_api", None, p)
                                for i, p in enumerate(payloads)
                            ],
                        )
                    else:
                        await conn.execute(
                            _LIMIT_UNNEST,
                            datasets,
                            names,
                            ids,
                            [event_time] * n,
                            now,
                            sources,
                            codes,
                            payloads,
                        )
                rows += n
                batch += 1
            elapsed = time.perf_counter() - start
            out[mode] = {
                "rows": rows,
                "seconds": round(elapsed, 3),
                "rows_per_second": rows / elapsed,
            }
    finally:
        await conn.close()
    return out


async def _store_alone(db: Database, events: list[AcceptedEvent], seconds: float) -> dict[str, Any]:
    """The store's ``ingest`` in this process, one 1000-event call after the other."""
    store = make_store(load_settings(environ={}, database_url=db.url))
    await store.open()
    try:
        stored = 0
        calls = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            batch = [replace(e, event_id=f"alone-{calls}-{i}") for i, e in enumerate(events)]
            stored += sum(await store.ingest(batch, now=time.time()))
            calls += 1
        elapsed = time.perf_counter() - start
    finally:
        await store.close()
    if stored != calls * len(events):
        raise RuntimeError(f"{db.backend} store alone: {stored} of {calls * len(events)} stored")
    return {
        "events": stored,
        "calls": calls,
        "seconds": round(elapsed, 3),
        "events_per_second": stored / elapsed,
    }


def limits(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    out: dict[str, Any] = {"loadavg_before": _loadavg()}
    events = cleaned_events(EVENTS_PER_REQUEST)
    payloads = [e.payload_json() for e in events]
    out["payload_bytes_mean"] = round(sum(map(len, payloads)) / len(payloads), 1)
    db = ctx.dbs.create(PG, "limit")
    try:
        log(f"asyncpg limit: 1000-row transactions, {plan.limit_seconds:.0f}s per mode")
        out["asyncpg"] = asyncio.run(_asyncpg_limit(db.url, payloads, plan.limit_seconds))
    finally:
        ctx.dbs.drop(db)
    best = max(out["asyncpg"].values(), key=lambda m: m["rows_per_second"])
    out["asyncpg_limit_rows_per_second"] = best["rows_per_second"]
    for mode, m in out["asyncpg"].items():
        log(f"  {mode}: {m['rows_per_second']:,.0f} rows/s")

    log(f"SQLite limit (bench/hardware.py, {plan.limit_seconds:.0f}s per mode)")
    out["sqlite_limit"] = hardware.sqlite_limit(ctx.workdir, plan.limit_seconds).summary()
    log(
        f"  {out['sqlite_limit']['rows_per_second_in_1000_row_transactions']:,.0f} rows/s in"
        " 1000-row transactions"
    )
    for backend in (PG, SQLITE):
        db = ctx.dbs.create(backend, "alone")
        try:
            prepare(db, ctx.key)
            out[f"{backend}_store_alone"] = asyncio.run(
                _store_alone(db, events, plan.limit_seconds)
            )
        finally:
            ctx.dbs.drop(db)
        rate = out[f"{backend}_store_alone"]["events_per_second"]
        log(f"  {backend} store alone: {rate:,.0f} events/s (1000 pre-cleaned events per call)")
    return out


# --- 2. ingest -----------------------------------------------------------------------------


def ingest_run(
    ctx: Context, backend: str, processes: int, *, one_port: bool, connections: int = 0
) -> dict[str, Any]:
    plan = ctx.plan
    how = f"serve --workers {processes}" if one_port else f"{processes} x serve"
    connections = connections or plan.connections_per_process * processes
    tag = f"ingest_{processes}{'w' if one_port else 'p'}{connections}"
    out: dict[str, Any] = {
        "backend": backend,
        "processes": processes,
        "mode": "one port, serve --workers" if one_port else "one port per process",
        "connections": connections,
        "loadavg_before": _loadavg(),
    }
    log(f"ingest, {backend}, {how}, {connections} connections, {plan.ingest_seconds:.0f}s")
    db = ctx.dbs.create(backend, tag)
    try:
        prepare(db, ctx.key)
        acked = 0
        with serving(ctx, db, processes, one_port=one_port, name=f"{backend}-{tag}") as served:
            ports = [port for port, _ in served]
            warm = spread_load(ports, ctx.pool[:connections], connections=connections, duration=120)
            acked += warm.requests_ok
            if warm.errors:
                raise RuntimeError(f"warm-up failed: {warm.errors}\n{served[0][1].tail()}")
            measured = ctx.pool[connections:]
            before = snapshot()
            result = spread_load(
                ports, measured, connections=connections, duration=plan.ingest_seconds
            )
            after = snapshot()
            acked += result.requests_ok
            summary = result.summary()
            summary["exhausted"] = result.requests_ok + sum(result.errors.values()) >= len(measured)
            summary["cpu"] = cpu_use(before, after, {"signalyard": [c.pid for _, c in served]})
            out["exit_codes"] = [child.stop() for _, child in served]
        out["run"] = summary
        events = int(query(db, "SELECT count(*) FROM events")[0][0])
        outbox = outbox_counts(db)
        expected = acked * EVENTS_PER_REQUEST
        out["durability_check"] = {
            "acknowledged_events": expected,
            "events": events,
            "outbox": outbox,
            "ok": events == expected and sum(outbox.values()) == expected,
        }
    finally:
        ctx.dbs.drop(db)
    cores = summary["cpu"]["cores"]
    lat = summary["latency_ms"]
    log(
        f"  {summary['events_per_second']:,.0f} events/s (p50 {lat['p50']:.0f} ms, p99"
        f" {lat['p99']:.0f} ms, errors {sum(result.errors.values())}); cores: signalyard"
        f" {cores['signalyard']:.2f} {summary['cpu']['per_process']['signalyard']}, postgres"
        f" {cores['postgres']:.2f}, load generator {cores['load_generator']:.2f}; machine"
        f" {summary['cpu']['machine_busy_share']:.0%} busy"
    )
    check = out["durability_check"]
    log(
        f"  acknowledged {check['acknowledged_events']} events; the database holds"
        f" {check['events']} events, outbox {check['outbox']}"
        f"{'' if check['ok'] else '  <-- MISMATCH'}"
    )
    return out


# --- 3. delivery ---------------------------------------------------------------------------


def prefill(ctx: Context, backend: str) -> tuple[Database, dict[str, Any]]:
    """A database whose outbox holds ``plan.delivery_events`` queued events, ingested
    through ``serve`` with the worker off."""
    requests = ctx.pool[: ctx.plan.delivery_events // EVENTS_PER_REQUEST]
    processes = 2 if backend == PG else 1
    log(f"delivery, {backend}: queueing {len(requests) * EVENTS_PER_REQUEST} events")
    db = ctx.dbs.create(backend, "deliver_source")
    prepare(db, ctx.key)
    with serving(ctx, db, processes, one_port=False, name=f"{backend}-prefill") as served:
        ports = [port for port, _ in served]
        result = spread_load(ports, requests, connections=3 * processes, duration=600)
        for _, child in served:
            child.stop()
    if result.errors or result.requests_ok != len(requests):
        raise RuntimeError(f"pre-filling the queue failed: {result.errors}")
    outbox = outbox_counts(db)
    expected = len(requests) * EVENTS_PER_REQUEST
    if outbox != {"queued": expected}:
        raise RuntimeError(f"pre-filled outbox is {outbox}, expected {expected} queued")
    return db, {"events": expected, "ingest_events_per_second": result.events_per_second}


async def _wait_drained(
    db: Database, children: Sequence[server.Child], timeout: float
) -> tuple[float, int]:
    """Poll the queued count every 50 ms until zero; returns (time.time() then, polls)."""
    sql = "SELECT count(*) FROM outbox WHERE status='queued'"
    count: Callable[[], Awaitable[int]]
    close: Callable[[], Awaitable[None]]
    if db.backend == PG:
        conn = await asyncpg.connect(db.url, timeout=30)

        async def pg_count() -> int:
            return int(await conn.fetchval(sql, timeout=60))

        count, close = pg_count, conn.close
    else:
        lite = sqlite3.connect(db.name, timeout=60)

        async def lite_count() -> int:
            return int(lite.execute(sql).fetchone()[0])

        async def lite_close() -> None:
            lite.close()

        count, close = lite_count, lite_close
    try:
        deadline = time.monotonic() + timeout
        polls = 0
        while True:
            polls += 1
            if await count() == 0:
                return time.time(), polls
            for child in children:
                if child.process.poll() is not None:
                    raise RuntimeError(f"{child.name} exited:\n{child.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the queue was not drained in {timeout:.0f}s")
            await asyncio.sleep(0.05)
    finally:
        await close()


def _get_json(url: str) -> Any:
    response = httpx.get(url, timeout=60)
    response.raise_for_status()
    return response.json()


def delivery_run(ctx: Context, source: Database, workers: int, queued: int) -> dict[str, Any]:
    backend = source.backend
    out: dict[str, Any] = {
        "backend": backend,
        "workers": workers,
        "events": queued,
        "loadavg_before": _loadavg(),
    }
    log(f"delivery, {backend}, {workers} x signalyard worker, {queued} queued events")
    db = ctx.dbs.create(backend, f"deliver_{workers}", template=source)
    try:
        with contextlib.ExitStack() as stack:
            port = server.free_port()
            sandbox_url = f"http://127.0.0.1:{port}"
            sandbox = stack.enter_context(
                server.Child(
                    f"{backend}-sandbox-{workers}",
                    [*server._signalyard_command(), "sandbox", "meta", "--port", str(port)],
                    env=child_env(db),
                    workdir=ctx.workdir,
                    cpu=None,
                )
            )
            sandbox.wait_http("127.0.0.1", port, "/sandbox/meta/_sandbox/summary", timeout=60.0)
            env = child_env(db, SIGNALYARD_SANDBOX_URL=sandbox_url)
            before = snapshot()
            launched = time.time()
            children = [
                stack.enter_context(
                    server.Child(
                        f"{backend}-worker-{workers}-{i}",
                        [*server._signalyard_command(), "worker"],
                        env=env,
                        workdir=ctx.workdir,
                        cpu=None,
                    )
                )
                for i in range(workers)
            ]
            drained, polls = asyncio.run(_wait_drained(db, children, ctx.plan.delivery_timeout))
            after = snapshot()
            summary = _get_json(f"{sandbox_url}/sandbox/meta/_sandbox/summary")
            requests = _get_json(f"{sandbox_url}/sandbox/meta/_sandbox/requests?limit=10000")[
                "requests"
            ]
            out["exit_codes"] = [child.stop() for child in children]
            out["cpu"] = cpu_use(
                before,
                after,
                {"workers": [c.pid for c in children], "sandbox": [sandbox.pid]},
            )
        outbox = outbox_counts(db)
    finally:
        ctx.dbs.drop(db)
    accepted = [r for r in requests if r.get("status") == 200]
    first = min((float(r["received_at"]) for r in accepted), default=drained)
    totals = summary.get("totals", {})
    names = summary.get("datasets", {}).get(DATASET, {}).get("events", {})
    distinct = sum(int(n.get("distinct_event_ids", 0)) for n in names.values())
    steady = drained - first
    out.update(
        seconds_from_launch=round(drained - launched, 3),
        seconds_from_first_request=round(steady, 3),
        start_up_seconds=round(first - launched, 3),
        events_per_second=queued / steady if steady > 0 else 0.0,
        events_per_second_with_start_up=queued / (drained - launched),
        polls=polls,
        sandbox={
            "requests": len(requests),
            "accepted_requests": len(accepted),
            "events_in_requests": sum(int(r.get("events") or 0) for r in accepted),
            "totals": totals,
            "distinct_event_ids": distinct,
        },
        outbox=outbox,
    )
    out["check"] = {
        "ok": outbox == {"delivered": queued}
        and totals.get("events_received") == queued
        and totals.get("deduplicated") == 0
        and totals.get("rejected") == 0
        and distinct == queued,
        "outbox_delivered": outbox.get("delivered", 0),
        "sandbox_events_received": totals.get("events_received"),
        "sandbox_distinct_event_ids": distinct,
        "sandbox_deduplicated": totals.get("deduplicated"),
        "sandbox_rejected_requests": totals.get("rejected"),
    }
    cores = out["cpu"]["cores"]
    log(
        f"  {out['events_per_second']:,.0f} events/s from the first request"
        f" ({steady:.2f}s; start-up {out['start_up_seconds']:.2f}s,"
        f" {out['events_per_second_with_start_up']:,.0f} events/s with it); cores: workers"
        f" {cores['workers']:.2f}, sandbox {cores['sandbox']:.2f}, postgres"
        f" {cores['postgres']:.2f}; machine {out['cpu']['machine_busy_share']:.0%} busy"
    )
    check = out["check"]
    log(
        f"  outbox {outbox}; sandbox received {check['sandbox_events_received']} events,"
        f" {distinct} distinct ids, {check['sandbox_deduplicated']} duplicates,"
        f" {check['sandbox_rejected_requests']} rejected requests"
        f"{'' if check['ok'] else '  <-- MISMATCH'}"
    )
    return out


# --- report --------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}x" if reference else ""


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _cores(cpu: dict[str, Any], own: str) -> str:
    cores = cpu["cores"]
    per = cpu["per_process"].get(own, [])
    spread = f" ({' + '.join(f'{x:.2f}' for x in per)})" if len(per) > 1 else ""
    extra = f", sandbox {cores['sandbox']:.2f}" if "sandbox" in cores else ""
    return (
        f"{cores[own]:.2f}{spread}{extra}, PostgreSQL {cores['postgres']:.2f};"
        f" machine {cpu['machine_busy_share']:.0%}"
    )


def report(results: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    lim = results.get("limits", {})
    limit = lim.get("asyncpg_limit_rows_per_second")
    rows = [
        "| measure | processes | events/s | vs asyncpg limit | vs SQLite, same processes"
        " | cores used: Signalyard, PostgreSQL; machine busy | check |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode, m in lim.get("asyncpg", {}).items():
        rows.append(
            f"| asyncpg, events-shaped rows, 1000-row transactions, {mode}"
            f"{' (**the limit**)' if m['rows_per_second'] == limit else ''} | 1 connection"
            f" | {_fmt(m['rows_per_second'])} rows/s | {_ratio(m['rows_per_second'], limit)}"
            " | | | |"
        )
    sqlite_alone = lim.get("sqlite_store_alone", {}).get("events_per_second")
    if "postgresql_store_alone" in lim:
        rate = lim["postgresql_store_alone"]["events_per_second"]
        rows.append(
            "| PostgresStore.ingest alone (in-process, 1000 pre-cleaned events per call)"
            f" | 1 caller | {_fmt(rate)} | {_ratio(rate, limit)} | {_ratio(rate, sqlite_alone)}"
            " | | |"
        )
    if "sqlite_limit" in lim:
        rate = lim["sqlite_limit"]["rows_per_second_in_1000_row_transactions"]
        rows.append(
            "| SQLite, 900-byte rows, 1000-row transactions (bench/hardware.py) | 1 connection"
            f" | {_fmt(rate)} rows/s | {_ratio(rate, limit)} | | | |"
        )
    if sqlite_alone is not None:
        rows.append(
            "| SQLiteStore.ingest alone (in-process, 1000 pre-cleaned events per call)"
            f" | 1 caller | {_fmt(sqlite_alone)} | {_ratio(sqlite_alone, limit)} | 1 | | |"
        )

    verdicts: dict[str, Any] = {}
    ingest = results.get("ingest", [])
    sqlite_ingest = {
        (r["mode"], r["processes"], r["connections"]): r["run"]["events_per_second"]
        for r in ingest
        if r["backend"] == SQLITE
    }
    pg_clean = [
        r
        for r in ingest
        if r["backend"] == PG and not r["run"]["errors"] and r["durability_check"]["ok"]
    ]
    best = max(pg_clean, key=lambda r: r["run"]["events_per_second"], default=None)
    if best is not None:
        verdicts["pg_ingest_10k"] = best["run"]["events_per_second"] >= TARGET_PG_EVENTS
        verdicts["pg_ingest_10k_one_process"] = any(
            r["processes"] == 1 and r["run"]["events_per_second"] >= TARGET_PG_EVENTS
            for r in pg_clean
        )
    for r in ingest:
        run = r["run"]
        eps = run["events_per_second"]
        errors = sum(run["errors"].values())
        lat = run["latency_ms"]
        one_port = r["mode"] != "one port per process"
        label = (
            f"ingest, {r['backend']}, `serve --workers {r['processes']}` (one port)"
            if one_port
            else f"ingest, {r['backend']}, {r['processes']} x `serve` (a port each)"
        )
        same = (r["mode"], r["processes"], r["connections"])
        check = r["durability_check"]
        check_text = (
            f"{check['events']:,} of {check['acknowledged_events']:,} acknowledged stored"
            if check["ok"]
            else f"**MISMATCH** {check['events']:,} stored, {check['acknowledged_events']:,}"
            " acknowledged"
        )
        if r["backend"] == PG:
            meets = eps >= TARGET_PG_EVENTS and not errors and check["ok"]
            check_text += f"; ≥ {TARGET_PG_EVENTS:,.0f}/s: {'yes' if meets else 'no'}"
        rows.append(
            f"| {label}, {r['connections']} connections | {r['processes']}"
            f" | {_fmt(eps)} (p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms"
            f"{f', {errors} errors' if errors else ''}"
            f"{', requests ran out: a lower bound' if run.get('exhausted') else ''})"
            f" | {_ratio(eps, limit)}"
            f" | {_ratio(eps, sqlite_ingest.get(same)) if r['backend'] == PG else ''}"
            f" | {_cores(run['cpu'], 'signalyard')} | {check_text} |"
        )
    delivery = results.get("delivery", [])
    sqlite_delivery = {
        r["workers"]: r["events_per_second"] for r in delivery if r["backend"] == SQLITE
    }
    for r in delivery:
        eps = r["events_per_second"]
        check = r["check"]
        check_text = (
            f"{check['outbox_delivered']:,} delivered; sandbox:"
            f" {_n(check['sandbox_events_received'])} received,"
            f" {_n(check['sandbox_distinct_event_ids'])} distinct,"
            f" {check['sandbox_deduplicated']} duplicates"
        )
        if not check["ok"]:
            check_text = "**MISMATCH** " + check_text
        rows.append(
            f"| delivery, {r['backend']}, {r['workers']} x `signalyard worker`,"
            f" {r['events']:,} queued, standalone sandbox | {r['workers']}"
            f" | {_fmt(eps)} ({_fmt(r['events_per_second_with_start_up'])} with"
            f" {r['start_up_seconds']:.1f} s start-up) | {_ratio(eps, limit)}"
            f" | {_ratio(eps, sqlite_delivery.get(r['workers'])) if r['backend'] == PG else ''}"
            f" | {_cores(r['cpu'], 'workers')} | {check_text} |"
        )
    if best is not None:
        eps = best["run"]["events_per_second"]
        verdicts["pg_ingest_best"] = {
            "processes": best["processes"],
            "mode": best["mode"],
            "events_per_second": round(eps, 1),
        }
    verdicts["all_checks_ok"] = all(r["durability_check"]["ok"] for r in ingest) and all(
        r["check"]["ok"] for r in delivery
    )
    return "\n".join(rows), verdicts


# --- main ----------------------------------------------------------------------------------


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _revision() -> dict[str, Any]:
    changed = [line[3:] for line in _git("status", "--porcelain", "--", "signalyard").splitlines()]
    commit = _git("rev-parse", "--short", "HEAD").strip()
    return {"commit": commit or "unknown", "package_changes": changed}


async def _pg_info(admin_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(admin_url, timeout=30)
    try:
        info: dict[str, Any] = {"version": await conn.fetchval("SHOW server_version")}
        for name in (
            "synchronous_commit",
            "fsync",
            "wal_sync_method",
            "full_page_writes",
            "shared_buffers",
            "commit_delay",
            "max_connections",
        ):
            info[name] = await conn.fetchval(f"SHOW {name}")
        return info
    finally:
        await conn.close()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds: children stopped, databases dropped


def build_pool(plan: Plan, key: NewKey) -> list[bytes]:
    """Enough 1000-event requests for the longest ingest run (and the delivery queue)."""
    per_run = math.ceil(plan.ingest_seconds * plan.max_events_per_second / EVENTS_PER_REQUEST)
    processes = max(
        (*plan.pg_ingest, *plan.sqlite_ingest, *plan.pg_one_port, *plan.sqlite_one_port, 1)
    )
    most = max(
        (plan.connections_per_process * processes, *(c for _, _, c in plan.concurrency_probes))
    )
    count = max(per_run + most, plan.delivery_events // EVENTS_PER_REQUEST)
    log(f"building {count} requests of 1000 events (distinct ids, full customer data)")
    return list(
        workload.requests(
            "127.0.0.1",
            0,
            key.secret,
            run=f"scale{int(time.time())}",
            start=0,
            count=count,
            events_per_request=EVENTS_PER_REQUEST,
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    parser.add_argument("--admin-url", default=ADMIN_URL, help="PostgreSQL to create databases on")
    parser.add_argument("--pg-ingest", type=int, nargs="*", help="process counts")
    parser.add_argument("--sqlite-ingest", type=int, nargs="*", help="process counts")
    parser.add_argument("--pg-one-port", type=int, nargs="*", help="serve --workers N counts")
    parser.add_argument("--sqlite-one-port", type=int, nargs="*", help="serve --workers N")
    parser.add_argument("--pg-delivery", type=int, nargs="*", help="worker counts")
    parser.add_argument("--sqlite-delivery", type=int, nargs="*", help="worker counts")
    parser.add_argument("--connections-per-process", type=int, help="ingest connections")
    parser.add_argument("--ingest-seconds", type=float, help="length of each ingest run")
    parser.add_argument("--delivery-events", type=int, help="events queued for delivery runs")
    parser.add_argument("--skip-limits", action="store_true", help="no hardware limits")
    parser.add_argument(
        "--output",
        type=Path,
        help="JSON results (default bench/results/scale.json, scale-quick.json with --quick)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    plan = plan_for(args)
    if args.output is None:
        args.output = RESULTS / ("scale-quick.json" if plan.quick else "scale.json")
    signal.signal(signal.SIGTERM, _on_sigterm)

    try:
        postgresql = asyncio.run(_pg_info(args.admin_url))
    except (OSError, asyncpg.PostgresError) as error:
        raise SystemExit(f"cannot use PostgreSQL at {args.admin_url}: {error}") from None
    workdir = Path(tempfile.mkdtemp(prefix="signalyard-scale-"))
    dbs = Databases(args.admin_url, workdir)
    key = new_key()
    command = COMMAND + (" --quick" if plan.quick else "")
    results: dict[str, Any] = {
        "command": command,
        "argv": sys.argv[1:] if argv is None else argv,
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "revision": _revision(),
        "plan": plan.__dict__,
        "machine": hardware.machine_info(workdir),
        "postgresql": postgresql,
        "asyncpg": metadata.version("asyncpg"),
        "pinning": "none: PostgreSQL, the Signalyard processes and the load generator share"
        " every CPU",
        "loadavg_start": _loadavg(),
    }
    machine = results["machine"]
    pg = results["postgresql"]
    changes = results["revision"]["package_changes"]
    log(
        f"{machine['nproc']} CPUs ({machine['cpu_model']}), PostgreSQL {pg['version']}"
        f" (synchronous_commit {pg['synchronous_commit']}, fsync {pg['fsync']}), SQLite"
        f" {machine['sqlite']}, revision {results['revision']['commit']}"
        f"{' with uncommitted changes to ' + ', '.join(changes) if changes else ''};"
        f" load average {results['loadavg_start']}"
    )
    failed = False
    try:
        ctx = Context(plan, workdir, dbs, key, build_pool(plan, key))
        if not args.skip_limits:
            results["limits"] = limits(ctx)
        results["ingest"] = []
        for backend, counts in ((PG, plan.pg_ingest), (SQLITE, plan.sqlite_ingest)):
            for n in counts:
                results["ingest"].append(ingest_run(ctx, backend, n, one_port=False))
        for backend, counts in ((PG, plan.pg_one_port), (SQLITE, plan.sqlite_one_port)):
            for n in counts:
                results["ingest"].append(ingest_run(ctx, backend, n, one_port=True))
        for backend, n, connections in plan.concurrency_probes:
            results["ingest"].append(
                ingest_run(ctx, backend, n, one_port=False, connections=connections)
            )
        results["delivery"] = []
        for backend, counts in ((PG, plan.pg_delivery), (SQLITE, plan.sqlite_delivery)):
            if not counts:
                continue
            source, filled = prefill(ctx, backend)
            results[f"{backend}_delivery_queue"] = filled
            for n in counts:
                results["delivery"].append(delivery_run(ctx, source, n, filled["events"]))
            dbs.drop(source)
    except BaseException:
        failed = True
        raise
    finally:
        leftovers = dbs.drop_all()
        if leftovers:
            log(f"could not drop: {leftovers}")
        results["loadavg_end"] = _loadavg()
        results["finished_at"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        if args.keep or failed:
            log(f"kept {workdir} (children's output: *.out, *.err)")
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)

    table, verdicts = report(results)
    results["verdicts"] = verdicts
    results["markdown"] = table
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    print()
    print(
        f"Results ({command}, revision {results['revision']['commit']}; load average"
        f" {results['loadavg_start']} at start, {results['loadavg_end']} at end; written to"
        f" {args.output}):"
    )
    print()
    print(table)
    print()
    best = verdicts.get("pg_ingest_best")
    if best is not None:
        ok = verdicts["pg_ingest_10k"]
        print(
            f"Target ≥ {TARGET_PG_EVENTS:,.0f} durable events/s on PostgreSQL in 1000-event"
            f" requests: {'PASS' if ok else 'FAIL'} (best {best['events_per_second']:,.0f}"
            f" with {best['processes']} processes, {best['mode']}; with one process:"
            f" {'met' if verdicts['pg_ingest_10k_one_process'] else 'not met'})."
        )
    checks = "all ok" if verdicts["all_checks_ok"] else "FAILED"
    print(f"Checks (durability, each event delivered once): {checks}")
    return 0 if verdicts["all_checks_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
