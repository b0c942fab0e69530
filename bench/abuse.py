"""Abuse: does one gateway stay responsive, bounded and lossless while it is attacked?

One ``signalyard serve`` (SQLite, built-in sandbox, delivery on) on loopback, pinned to one
CPU; this process, on the other, runs for ``--seconds`` (60 by default):

- ``--abusers`` (50) clients in four kinds, round-robin, each repeating its attack:
  ``lists``    a keyed Graph request whose event carries 80,000 emails (1.1 MB), and a
               keyless ``/collect`` body of 64 KB full of emails;
  ``slow``     a keyless Graph request (its token would be in the body) announcing an 8 MiB
               body that then trickles in one byte every 2 s, never pausing for the read
               timeout: before body bytes were counted as they arrive, eight of them held
               the whole 64 MiB body budget and every other body got 503; now each holds a
               few bytes and is answered 408 once below ``body_min_bytes_per_second``;
  ``unauth``   8 MiB bodies with a wrong key in the query string (and in the body);
  ``sandbox``  floods of the mounted sandbox: 1000 events of 30 KB each.
- one well-behaved client, in a process of its own (as it would be on a machine of its own:
  the attackers' process is busy, and a latency measured in its event loop would be the
  attackers' own delay), sends single-event Purchases with its key in the body, as the
  attackers' keyless bodies do, one at a time (closed loop, a pause of 20 ms between them),
  and measures each request's latency.

Every second the server's RSS is sampled, and the CPU time both sides used is reported (a
server below 100 % of its CPU was not the limit: the attackers' CPU was). At the end every
event the well-behaved client got a 200 for is looked up in the database. Pass: its
single-event p99 under 100 ms, the server's RSS under 300 MB throughout, every acknowledged
event stored.

Loopback only, bounded in time (each connection has a deadline); it stops by itself::

    python bench/abuse.py                 # 60 s, 50 abusers
    python bench/abuse.py --seconds 20 --abusers 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import server
from loadgen import percentile, pin
from soak import event, rss_mb

DATASET = "1234567890"
RSS_LIMIT_MB = 300.0
P99_LIMIT_MS = 100.0
KINDS = ("lists", "slow", "unauth", "sandbox")


def _request(method: str, path: str, body: bytes, *, extra: str = "") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        await reader.readexactly(int(lower[at + 17 : end]))
    return status


class Abuse:
    def __init__(self, port: int, key: str, deadline: float) -> None:
        self.port = port
        self.key = key
        self.deadline = deadline
        self.answers: Counter[str] = Counter()
        emails = [f"user{i}@example.com" for i in range(80_000)]
        big = event(f"abuse-{uuid.uuid4().hex}", time.time(), 1)
        big["user_data"]["em"] = emails
        self.lists_graph = orjson.dumps({"data": [big], "access_token": key})
        collect_emails = [f"u{i}@example.com" for i in range(3_500)]
        self.lists_collect = orjson.dumps(
            {
                "events": [
                    {
                        "event_name": "Lead",
                        "event_id": "abuse-collect",
                        "event_source_url": "https://shop.example/",
                        "user_data": {"em": collect_emails},
                    }
                ]
            }
        )[: 64 * 1024]
        self.unauth_body = (
            b'{"access_token":"sy_wrong","data":[' + b" " * (8 * 1024 * 1024 - 64) + b"]}"
        )
        pad = "y" * 30_000
        flood = [
            {
                "event_name": "Purchase",
                "event_time": int(time.time()),
                "event_id": f"flood-{i}",
                "action_source": "website",
                "event_source_url": "https://shop.example/",
                "user_data": {"client_ip_address": "203.0.113.7", "client_user_agent": pad},
            }
            for i in range(1000)
        ]
        flood_body = orjson.dumps({"data": flood, "access_token": "EAAB" + "f" * 60})
        # Each request is built once: the attackers' process only sends.
        self.raw_lists = _request("POST", f"/v21.0/{DATASET}/events", self.lists_graph)
        self.raw_collect = _request(
            "POST",
            f"/collect/{DATASET}",
            self.lists_collect,
            extra="Origin: https://shop.example\r\nUser-Agent: Mozilla/5.0 Chrome/120\r\n",
        )
        self.raw_unauth_query = _request(
            "POST", f"/v21.0/{DATASET}/events?access_token=sy_wrong", self.unauth_body
        )
        self.raw_unauth_body = _request("POST", f"/v21.0/{DATASET}/events", self.unauth_body)
        self.raw_flood = _request("POST", f"/sandbox/meta/v21.0/{DATASET}/events", flood_body)

    async def _exchange(self, raw: bytes, label: str, *, timeout: float = 30.0) -> None:
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.write(raw)
            await writer.drain()
            status = await asyncio.wait_for(_read_answer(reader), timeout)
            self.answers[f"{label} {status}"] += 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
            self.answers[f"{label} {type(error).__name__}"] += 1
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    async def lists(self) -> None:
        await self._exchange(self.raw_lists, "lists")
        await self._exchange(self.raw_collect, "collect-lists")

    async def unauth(self) -> None:
        await self._exchange(self.raw_unauth_query, "unauth-query")
        await self._exchange(self.raw_unauth_body, "unauth-body")

    async def sandbox(self) -> None:
        await self._exchange(self.raw_flood, "sandbox")

    async def slow(self) -> None:
        writer = None
        label = "slow"
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            head = _request("POST", f"/v21.0/{DATASET}/events", b"")
            head = head.replace(b"Content-Length: 0", b"Content-Length: %d" % (8 * 1024 * 1024))
            writer.write(head + b"{")
            answer = asyncio.ensure_future(_read_answer(reader))
            while time.monotonic() < self.deadline and not answer.done():
                await asyncio.wait({answer}, timeout=2.0)
                if not answer.done():
                    writer.write(b" ")  # one byte every 2 s: under the 10 s read timeout
                    await writer.drain()
            if answer.done():
                self.answers[f"{label} {answer.result()}"] += 1
            else:
                answer.cancel()
                self.answers[f"{label} still open at the end"] += 1
        except (OSError, asyncio.IncompleteReadError) as error:
            self.answers[f"{label} {type(error).__name__}"] += 1
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    async def abuser(self, kind: str) -> None:
        attack = getattr(self, kind)
        while time.monotonic() < self.deadline:
            await attack()


async def well_behaved(port: int, key: str, deadline: float) -> tuple[list[float], list[str]]:
    """Single events, one at a time; a request that fails or waits 30 s counts with the time
    it took (and is not acknowledged), then the client reconnects."""
    latencies: list[float] = []
    acked: list[str] = []
    seq = 0
    writer: asyncio.StreamWriter | None = None
    while time.monotonic() < deadline:
        event_id = f"good-{uuid.uuid4().hex}"
        body = orjson.dumps({"data": [event(event_id, time.time(), seq)], "access_token": key})
        raw = _request("POST", f"/v21.0/{DATASET}/events", body)
        seq += 1
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(raw)
            await writer.drain()
            status = await asyncio.wait_for(_read_answer(reader), 30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            status = 0
            if writer is not None:
                writer.close()
            writer = None
        latencies.append((time.perf_counter() - started) * 1000)
        if status == 200:
            acked.append(event_id)
        await asyncio.sleep(0.02)
    if writer is not None:
        writer.close()
    return latencies, acked


async def sample_rss(pid: int, deadline: float, samples: list[float]) -> None:
    while time.monotonic() < deadline:
        samples.append(rss_mb(pid))
        await asyncio.sleep(1.0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def good_client(port: int, key: str, deadline: float) -> tuple[list[float], list[str]]:
    """:func:`well_behaved` in a process of its own (``time.monotonic`` is system-wide)."""
    return asyncio.run(well_behaved(port, key, deadline))


async def attack(args: argparse.Namespace, port: int, key: str, pid: int) -> dict[str, Any]:
    deadline = time.monotonic() + args.seconds
    abuse = Abuse(port, key, deadline)
    rss: list[float] = []
    tasks = [abuse.abuser(KINDS[i % len(KINDS)]) for i in range(args.abusers)]
    tasks.append(sample_rss(pid, deadline, rss))
    started, server_cpu, own_cpu = time.monotonic(), cpu_seconds(pid), time.process_time()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        good = pool.apply_async(good_client, (port, key, deadline))
        await asyncio.gather(*tasks)
        # The CPU each side used during the attack: a server below 100 % was not the limit.
        wall = time.monotonic() - started
        server_busy = (cpu_seconds(pid) - server_cpu) / wall
        attackers_busy = (time.process_time() - own_cpu) / wall
        await sample_rss(pid, time.monotonic() + 5, rss)  # and a few seconds after
        latencies, acked = await asyncio.get_running_loop().run_in_executor(None, good.get, 60.0)
    return {
        "latencies": sorted(latencies),
        "acked": acked,
        "rss": rss,
        "answers": abuse.answers,
        "server_cpu": server_busy,
        "attackers_cpu": attackers_busy,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--abusers", type=int, default=50)
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 600 or not 0 < args.abusers <= 500:
        parser.error("--seconds in (0, 600], --abusers in (0, 500]")
    workdir = Path(tempfile.mkdtemp(prefix="signalyard-abuse-"))
    port = server.free_port()
    pin(1)
    child, key = server.start_signalyard(workdir, port=port, cpu=0, worker=True)
    try:
        measured = asyncio.run(attack(args, port, key, child.pid))
        time.sleep(1.0)
        peak = max(measured["rss"])
    finally:
        child.stop()
    with contextlib.closing(sqlite3.connect(workdir / "signalyard-serve.db")) as conn:
        stored = {row[0] for row in conn.execute("SELECT event_id FROM events")}
    lost = [i for i in measured["acked"] if i not in stored]
    lat = measured["latencies"]
    p99 = percentile(lat, 99)
    result = {
        "seconds": args.seconds,
        "abusers": args.abusers,
        "good_requests": len(lat),
        "good_p50_ms": round(percentile(lat, 50), 1),
        "good_p99_ms": round(p99, 1),
        "good_max_ms": round(lat[-1], 1) if lat else None,
        "acked": len(measured["acked"]),
        "lost": len(lost),
        "rss_start_mb": measured["rss"][0],
        "rss_peak_mb": peak,
        "server_cpu_percent": round(measured["server_cpu"] * 100),
        "attackers_cpu_percent": round(measured["attackers_cpu"] * 100),
        "answers": dict(sorted(measured["answers"].items())),
        "pass": p99 < P99_LIMIT_MS and peak < RSS_LIMIT_MB and not lost and bool(lat),
    }
    print(json.dumps(result, indent=2))
    print(
        f"| {args.seconds:.0f} s | {args.abusers} | {len(lat):,} | {result['good_p50_ms']} ms |"
        f" {result['good_p99_ms']} ms | {result['rss_start_mb']:.0f} MB | {peak:.0f} MB |"
        f" {result['acked']:,} | {result['lost']} | {result['server_cpu_percent']} % |"
        f" {result['attackers_cpu_percent']} % | {'PASS' if result['pass'] else 'FAIL'} |"
    )
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
