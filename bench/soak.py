"""Soak: does one ``signalyard serve`` hold steady memory under hours of steady traffic?

For each store asked for (SQLite, PostgreSQL; run side by side), a fresh database, a
standalone Meta sandbox (``signalyard sandbox meta``) as the destination and one
``signalyard serve`` (ingest, delivery worker, dashboard) on loopback. Then, for
``--minutes``, a steady load of ``--rate`` events/s with plaintext customer data:

- every second 50 single-event requests, and a 1000-event request 19 seconds in 20
  (so ``--rate 1000`` is 20,000 events each 20 s);
- once a minute one event of a 1000-event request is made invalid at the sandbox
  (``invalid_event`` fault): the worker isolates it and dead-letters it alone;
- once a minute the dashboard's five pages are read (logged in once at the start).

Every ``--sample-seconds`` the server's RSS (``/proc``) and its Python heap (allocated
blocks and GC-tracked objects, written by ``_serverhooks/sitecustomize.py``) are sampled.
At the end the load stops, the outbox drains, and every acknowledged event is checked in
the database: delivered, or dead-lettered if it was one of the invalid ones. Pass/fail:
after ``--warmup-minutes`` RSS grows by at most 5 % to the end and stays under 256 MB;
no acknowledged event is lost.

Loopback only, bounded in time and count; it stops by itself. Usage::

    python bench/soak.py --store sqlite,postgres --minutes 30 --rate 1000
    python bench/soak.py --store sqlite --minutes 3 --warmup-minutes 1   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import server
from scale import PG, SQLITE, Database, Databases, prepare, query

from signalyard.sources.auth import new_key

DATASET = "1234567890"
PASSWORD = "soak-dashboard-password"
RSS_LIMIT_MB = 256.0
GROWTH_LIMIT = 0.05
SINGLES_PER_SECOND = 50
MAX_IN_FLIGHT = 200
"""Requests of the load in flight at most; past it the load waits (and counts a late tick)."""
DASHBOARD_PAGES = tuple(
    "/dashboard" + page for page in ("/", "/quality", "/dedup", "/delivery", "/diagnostics")
)
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


def event(event_id: str, now: float, seq: int) -> dict[str, Any]:
    """A Purchase with plaintext customer data (normalized and hashed by the gateway)."""
    return {
        "event_name": "Purchase",
        "event_time": int(now),
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": f"https://shop.example/checkout/thanks?o={seq}",
        "user_data": {
            "em": [f"Customer.{seq % 50_000}@Example.com"],
            "ph": [f"+1 650 555 {seq % 10_000:04d}"],
            "fn": "Jane",
            "ln": "Doe",
            "ct": "Menlo Park",
            "zp": "94025",
            "country": "US",
            "external_id": f"customer-{seq % 50_000}",
            "client_ip_address": f"203.0.113.{seq % 250 + 1}",
            "client_user_agent": UA,
            "fbp": f"fb.1.1700000000000.{1_000_000 + seq % 900_000}",
        },
        "custom_data": {
            "currency": "USD",
            "value": round(10 + seq % 200 * 0.5, 2),
            "contents": [{"id": f"SKU-{seq % 300}", "quantity": 1, "item_price": 10.0}],
            "order_id": f"order-{seq}",
        },
    }


class RawPool:
    """Keep-alive HTTP/1.1 connections over raw asyncio streams: a load generator that costs
    a fraction of an HTTP library's CPU, so the machine's cores go to the server."""

    def __init__(self, base: str, connections: int) -> None:
        host_port = base.removeprefix("http://")
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = (
            asyncio.Queue()
        )
        for _ in range(connections):
            self._idle.put_nowait(None)  # opened on first use

    async def post(self, path: str, body: bytes, timeout: float = 60.0) -> int:
        conn = await self._idle.get()
        try:
            if conn is None:
                conn = await asyncio.open_connection(self.host, self.port)
            reader, writer = conn
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            status, close = await asyncio.wait_for(_answer(reader), timeout)
            if close:
                writer.close()
                conn = None
            return status
        except BaseException:
            if conn is not None:
                conn[1].close()
            conn = None
            raise
        finally:
            self._idle.put_nowait(conn)

    async def close(self) -> None:
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None:
                conn[1].close()


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status of one answer (its body read and dropped) and whether the server closes."""
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        raise ValueError("not an HTTP/1.1 answer")
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        raise ValueError("answer without content-length")
    end = lower.index(b"\r\n", at + 2)
    await reader.readexactly(int(lower[at + 17 : end]))
    return int(head[9:12]), b"\r\nconnection: close" in lower


@dataclass
class Soak:
    backend: str
    db: Database
    workdir: Path
    args: argparse.Namespace
    key: str = ""
    serve: server.Child | None = None
    sandbox: server.Child | None = None
    base: str = ""
    sandbox_base: str = ""
    seq: int = 0
    acked: list[str] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)
    refused: dict[str, int] = field(default_factory=dict)
    dashboard: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    late_ticks: int = 0
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return "sqlite" if self.backend == SQLITE else "postgres"

    def start(self) -> None:
        new = new_key()
        prepare(self.db, new)
        self.key = new.secret
        sandbox_port, port = server.free_port(), server.free_port()
        command = server._signalyard_command()
        self.sandbox = server.Child(
            f"{self.name}-sandbox",
            [*command, "sandbox", "meta", "--port", str(sandbox_port)],
            env=dict(os.environ),
            workdir=self.workdir,
            cpu=None,
        )
        self.sandbox_base = f"http://127.0.0.1:{sandbox_port}"
        self.sandbox.wait_http(
            "127.0.0.1", sandbox_port, "/sandbox/meta/_sandbox/summary", timeout=60
        )
        hooks = str(server.HOOKS)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALYARD_")}
        env.update(
            SIGNALYARD_DATABASE_URL=self.db.url,
            SIGNALYARD_HOST="127.0.0.1",
            SIGNALYARD_PORT=str(port),
            SIGNALYARD_SANDBOX="false",
            SIGNALYARD_SANDBOX_URL=self.sandbox_base,
            SIGNALYARD_DEFAULT_COUNTRY="US",
            SIGNALYARD_LOG_LEVEL="warning",
            SIGNALYARD_DASHBOARD_PASSWORD=PASSWORD,
            SIGNALYARD_BENCH_HEAP=str(self.workdir / f"{self.name}.heap.jsonl"),
            SIGNALYARD_BENCH_GC_STATS=str(self.workdir / f"{self.name}.gc.json"),
            PYTHONPATH=os.pathsep.join(p for p in (hooks, os.environ.get("PYTHONPATH")) if p),
            PYTHONUNBUFFERED="1",
        )
        self.serve = server.Child(
            f"{self.name}-serve", [*command, "serve"], env=env, workdir=self.workdir, cpu=None
        )
        self.base = f"http://127.0.0.1:{port}"
        self.serve.wait_http("127.0.0.1", port, "/readyz", timeout=60)

    def stop(self) -> None:
        for child in (self.serve, self.sandbox):
            if child is not None:
                child.stop()

    # --- load ----------------------------------------------------------------------------

    def _ids(self, n: int) -> tuple[int, list[str]]:
        first = self.seq
        self.seq += n
        return first, [f"soak-{self.name}-{i}" for i in range(first, first + n)]

    async def _post(self, pool: RawPool, batch: tuple[int, list[str]], now: float) -> None:
        first, ids = batch
        body = orjson.dumps(
            {
                "data": [event(i, now, first + n) for n, i in enumerate(ids)],
                "access_token": self.key,
            }
        )
        started = time.perf_counter()
        try:
            status = await pool.post(f"/v21.0/{DATASET}/events", body)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
            kind = type(error).__name__
            self.refused[kind] = self.refused.get(kind, 0) + len(ids)
            return
        if len(ids) == 1:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if status == 200:
            self.acked.extend(ids)
        else:
            label = f"HTTP {status}"
            self.refused[label] = self.refused.get(label, 0) + len(ids)

    async def _invalid_next(self, client: httpx.AsyncClient, event_id: str) -> None:
        response = await client.post(
            f"{self.sandbox_base}/sandbox/meta/_sandbox/faults",
            json={"kind": "invalid_event", "event_ids": [event_id]},
        )
        response.raise_for_status()
        self.invalid.add(event_id)

    async def _read_dashboard(self, client: httpx.AsyncClient) -> None:
        for path in DASHBOARD_PAGES:
            try:
                response = await client.get(self.base + path)
                key = f"HTTP {response.status_code}"
            except httpx.HTTPError as error:
                key = type(error).__name__
            self.dashboard[key] = self.dashboard.get(key, 0) + 1

    async def _login(self, client: httpx.AsyncClient) -> None:
        page = await client.get(self.base + "/dashboard/login")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, "no CSRF field on the dashboard's login page"
        response = await client.post(
            self.base + "/dashboard/login",
            data={"csrf": found.group(1), "password": PASSWORD, "next": ""},
        )
        assert response.status_code == 303, f"dashboard login: HTTP {response.status_code}"

    def _sample(self, started: float) -> None:
        assert self.serve is not None
        heap: dict[str, Any] = {}
        path = self.workdir / f"{self.name}.heap.jsonl"
        with contextlib.suppress(OSError, ValueError, IndexError):
            heap = json.loads(path.read_text().splitlines()[-1])
        sample = {
            "minute": round((time.monotonic() - started) / 60, 2),
            "rss_mb": round(rss_mb(self.serve.pid), 1),
            "blocks": heap.get("blocks"),
            "gc_objects": heap.get("gc_objects"),
            "acked": len(self.acked),
        }
        self.samples.append(sample)
        log(f"{self.name}: {sample}")

    async def run(self) -> None:
        rate, seconds = self.args.rate, self.args.minutes * 60
        batch = (rate - SINGLES_PER_SECOND) * 20 // 19
        pool = RawPool(self.base, connections=32)
        async with httpx.AsyncClient(timeout=60) as client, httpx.AsyncClient(timeout=60) as dash:
            await self._login(dash)
            started = time.monotonic()
            self._sample(started)
            next_sample = started + self.args.sample_seconds
            tick = 0
            in_flight: set[asyncio.Task[None]] = set()
            while time.monotonic() - started < seconds:
                tick_at = started + tick
                await asyncio.sleep(max(0.0, tick_at - time.monotonic()))
                now = time.time()
                work = [self._post(pool, self._ids(1), now) for _ in range(SINGLES_PER_SECOND)]
                if tick % 20 != 19:
                    first, ids = self._ids(batch)
                    if tick % 60 == 30:
                        await self._invalid_next(client, ids[len(ids) // 2])
                    work.append(self._post(pool, (first, ids), now))
                if tick % 60 == 45:
                    work.append(self._read_dashboard(dash))
                for coro in work:
                    task = asyncio.ensure_future(coro)
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if len(in_flight) > MAX_IN_FLIGHT:  # behind: wait rather than pile up
                    self.late_ticks += 1
                    while len(in_flight) > MAX_IN_FLIGHT // 2:
                        await asyncio.wait(set(in_flight), return_when=asyncio.FIRST_COMPLETED)
                if time.monotonic() >= next_sample:
                    self._sample(started)
                    next_sample += self.args.sample_seconds
                tick += 1
            if in_flight:
                await asyncio.gather(*in_flight)
            await pool.close()
            self.seconds = time.monotonic() - started
            self._sample(started)

    # --- the end ---------------------------------------------------------------------------

    def drain(self, timeout: float) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            counts = {
                str(s): int(n)
                for s, n in query(self.db, "SELECT status, count(*) FROM outbox GROUP BY status")
            }
            if not counts.get("queued"):
                break
            time.sleep(2)
        return counts

    def check(self) -> dict[str, Any]:
        rows = query(
            self.db,
            "SELECT e.event_id, o.status FROM events e JOIN outbox o ON o.event_pk = e.pk",
        )
        status = dict(rows)
        lost = wrong = 0
        for event_id in self.acked:
            got = status.get(event_id)
            want = "dead" if event_id in self.invalid else "delivered"
            if got is None:
                lost += 1
            elif got != want:
                wrong += 1
        return {"acked": len(self.acked), "stored": len(status), "lost": lost, "wrong": wrong}

    def verdict(self, check: dict[str, Any]) -> dict[str, Any]:
        warm = [s for s in self.samples if s["minute"] >= self.args.warmup_minutes]
        base = warm[0]["rss_mb"] if warm else self.samples[0]["rss_mb"]
        end = self.samples[-1]["rss_mb"]
        peak = max(s["rss_mb"] for s in self.samples)
        growth = (end - base) / base if base else 0.0
        # The same, robust to where a sample falls in the minute's collect-and-trim cycle: the
        # median of the first five samples after the warm-up against the last five's.
        first, last = warm[:5] or self.samples[:1], warm[-5:] or self.samples[-1:]
        median_first = statistics.median(s["rss_mb"] for s in first)
        median_last = statistics.median(s["rss_mb"] for s in last)
        windowed = (median_last - median_first) / median_first if median_first else 0.0
        gc_stats: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            gc_stats = json.loads((self.workdir / f"{self.name}.gc.json").read_text())
        lat = sorted(self.latencies_ms)
        return {
            "store": self.name,
            "minutes": self.args.minutes,
            "rate": self.args.rate,
            "achieved_rate": round(len(self.acked) / self.seconds) if self.seconds else 0,
            "late_ticks": self.late_ticks,
            "rss_after_warmup_mb": base,
            "rss_end_mb": end,
            "rss_peak_mb": peak,
            "growth": round(growth, 4),
            "growth_windowed": round(windowed, 4),
            "single_p50_ms": round(lat[len(lat) // 2], 1) if lat else None,
            "single_p99_ms": round(lat[int(len(lat) * 0.99)], 1) if lat else None,
            "invalid_injected": len(self.invalid),
            "refused": self.refused,
            "dashboard": self.dashboard,
            "gc": gc_stats,
            **check,
            "pass": growth <= GROWTH_LIMIT
            and peak < RSS_LIMIT_MB
            and check["lost"] == 0
            and check["wrong"] == 0
            and not self.refused,
        }


def table(results: list[dict[str, Any]], samples: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        "| store | minutes | events/s (asked / acked) | acked | lost | RSS after warm-up |"
        " RSS end | growth | peak | single-event p99 | full GC max | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        gc_max = r["gc"].get("gen2", {}).get("max_ms", "n/a")
        lines.append(
            f"| {r['store']} | {r['minutes']} | {r['rate']} / {r['achieved_rate']} |"
            f" {r['acked']:,} | {r['lost']} |"
            f" {r['rss_after_warmup_mb']:.1f} MB | {r['rss_end_mb']:.1f} MB |"
            f" {r['growth'] * 100:+.1f} % | {r['rss_peak_mb']:.1f} MB |"
            f" {r['single_p99_ms']} ms | {gc_max} ms | {'PASS' if r['pass'] else 'FAIL'} |"
        )
    for store, rows in samples.items():
        lines.append("")
        lines.append(f"{store}, per sample: minute, RSS MB, heap blocks, GC-tracked objects")
        lines.append("")
        lines.append(
            "    "
            + "; ".join(
                f"{s['minute']:.0f}: {s['rss_mb']:.0f} / {s['blocks']} / {s['gc_objects']}"
                for s in rows
            )
        )
    return "\n".join(lines)


async def soak_all(soaks: list[Soak]) -> None:
    await asyncio.gather(*(s.run() for s in soaks))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=1000, help="events per second per store")
    parser.add_argument("--sample-seconds", type=float, default=60.0)
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("SIGNALYARD_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test"),
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.rate <= SINGLES_PER_SECOND or args.minutes <= 0 or args.minutes > 24 * 60:
        parser.error("--rate must exceed 50 and --minutes lie in (0, 1440]")
    stores = [s.strip() for s in args.store.split(",") if s.strip()]
    workdir = Path(tempfile.mkdtemp(prefix="signalyard-soak-"))
    dbs = Databases(args.pg_admin_url, workdir)
    soaks: list[Soak] = []
    try:
        for store in stores:
            backend = {"sqlite": SQLITE, "postgres": PG}[store]
            soaks.append(Soak(backend, dbs.create(backend, f"soak_{store}"), workdir, args))
        for soak in soaks:
            soak.start()
        log(f"soaking {', '.join(stores)} for {args.minutes} min at {args.rate} events/s each")
        asyncio.run(soak_all(soaks))
        results = []
        for soak in soaks:
            counts = soak.drain(timeout=300)
            log(f"{soak.name}: outbox after the load {counts}")
            soak.stop()  # the GC statistics are written at exit
            results.append(soak.verdict(soak.check()))
    finally:
        for soak in soaks:
            soak.stop()
        failed = dbs.drop_all()
        if failed:
            log(f"could not drop: {failed}")
    print(table(results, {s.name: s.samples for s in soaks}))
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(
            json.dumps(
                {"results": results, "samples": {s.name: s.samples for s in soaks}}, indent=2
            )
        )
    return 0 if all(r["pass"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
