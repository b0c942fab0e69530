"""A closed-loop HTTP/1.1 load generator that stays out of the way.

N keep-alive connections over raw asyncio streams (uvloop when installed), each sending the
next pre-built request (bytes made before the clock starts: no JSON or header work while
measuring) and waiting for its answer before sending another. Bounded by the number of
requests given and by a duration. Every answer is checked (status 200 and an expected
fragment of the body, e.g. ``"messages":[]``); latency is measured per request from the write
to the last byte of the answer.

Used by ``bench/run.py``; usable alone against a running server::

    python bench/loadgen.py --port 8088 --key sy_... --connections 32 --duration 10
    python bench/loadgen.py --static-server --port 9000   # a trivial server, for calibration
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import orjson

_LOOP_NAME = "asyncio"
try:
    import uvloop

    _LOOP_NAME = "uvloop"
except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
    uvloop = None  # type: ignore[assignment]


def loop_name() -> str:
    return _LOOP_NAME


def run_async(main: Coroutine[Any, Any, Any]) -> Any:
    """Run ``main`` on uvloop when available (as the server does), else on asyncio."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = (
        uvloop.new_event_loop if uvloop is not None else None
    )
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass
class LoadResult:
    connections: int
    requests_ok: int
    events_per_request: int
    seconds: float
    """From the first request written to the last answer read."""
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    client_cpu_seconds: float = 0.0
    """CPU time this process spent (all of it load generation while measuring)."""

    @property
    def requests_per_second(self) -> float:
        return self.requests_ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def events_per_second(self) -> float:
        return self.requests_per_second * self.events_per_request

    @property
    def client_cpu_share(self) -> float:
        """Share of one core the load generator used: near 1.0 would make it the limit."""
        return self.client_cpu_seconds / self.seconds if self.seconds > 0 else 0.0

    def latency(self, p: float) -> float:
        return percentile(sorted(self.latencies_ms), p)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        data = asdict(self)
        del data["latencies_ms"]
        data.update(
            requests_per_second=round(self.requests_per_second, 1),
            events_per_second=round(self.events_per_second, 1),
            client_cpu_share=round(self.client_cpu_share, 3),
            latency_ms={
                "p50": round(percentile(ordered, 50), 2),
                "p95": round(percentile(ordered, 95), 2),
                "p99": round(percentile(ordered, 99), 2),
                "max": round(ordered[-1], 2) if ordered else 0.0,
            },
        )
        return data


class ResponseError(Exception):
    pass


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        raise ResponseError("not an HTTP/1.1 answer")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        raise ResponseError("answer without content-length")
    end = lower.index(b"\r\n", at + 2)
    length = int(lower[at + 17 : end])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(
    host: str,
    port: int,
    requests: Sequence[bytes],
    indices: Iterator[int],
    deadline: float,
    expect: bytes | None,
    latencies: list[float],
    errors: Counter[str],
) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as error:
        errors[f"connect: {error.__class__.__name__}"] += 1
        return
    clock = time.perf_counter
    try:
        for i in indices:  # shared by every connection: each request is sent once
            if clock() >= deadline:
                return
            start = clock()
            writer.write(requests[i])
            try:
                status, body = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError, ResponseError) as error:
                errors[f"read: {error.__class__.__name__}"] += 1
                return
            elapsed = clock() - start
            if status != 200:
                errors[f"status {status}: {body[:160].decode(errors='replace')}"] += 1
            elif expect is not None and expect not in body:
                errors[f"unexpected body: {body[:160].decode(errors='replace')}"] += 1
            else:
                latencies.append(elapsed * 1000.0)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def run_load(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    connections: int,
    duration: float,
    events_per_request: int = 1,
    expect: bytes | None = None,
    grace: float = 30.0,
) -> LoadResult:
    """Send ``requests`` (each at most once) over ``connections`` connections for at most
    ``duration`` seconds; requests in flight at the deadline are waited for (``grace``
    seconds at most, after which the run is abandoned and counted as an error)."""
    indices = iter(range(len(requests)))
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + duration
    tasks = [
        asyncio.create_task(
            _connection(host, port, requests, indices, deadline, expect, latencies, errors)
        )
        for _ in range(connections)
    ]
    try:
        async with asyncio.timeout(duration + grace):
            await asyncio.gather(*tasks)
    except TimeoutError:
        errors["timeout: answers still missing after the grace period"] += 1
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    seconds = time.perf_counter() - start
    return LoadResult(
        connections=connections,
        requests_ok=len(latencies),
        events_per_request=events_per_request,
        seconds=seconds,
        errors=dict(errors),
        latencies_ms=latencies,
        client_cpu_seconds=time.process_time() - cpu0,
    )


# --- pinning -------------------------------------------------------------------------------


def pin(cpu: int | None, pid: int = 0) -> bool:
    """Pin ``pid`` (0: this process, every thread started afterwards) to one CPU."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(pid, {cpu})
    except OSError:
        return False
    return True


# --- a trivial server, to calibrate the load generator -------------------------------------

STATIC_BODY = b'{"events_received":1,"messages":[],"fbtrace_id":"static"}'
_STATIC_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(STATIC_BODY)).encode()
    + b"\r\n\r\n"
    + STATIC_BODY
)


class _StaticHTTP(asyncio.Protocol):
    """Answers every complete request (headers + Content-Length body) with a fixed 200."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            length = int(head[at + 17 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
            assert self.transport is not None
            self.transport.write(_STATIC_RESPONSE)


async def serve_static(host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM (handled explicitly: a child started from a background
    shell inherits SIGINT ignored)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = await loop.create_server(_StaticHTTP, host, port, backlog=1024)
    print(f"static server on {host}:{port}", flush=True)
    async with server:
        await stop.wait()


# --- command line --------------------------------------------------------------------------


def _main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import workload

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--key", help="ingest key of dataset 1234567890")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=50_000, help="requests built (bound)")
    parser.add_argument("--events-per-request", type=int, default=1)
    parser.add_argument("--cpu", type=int, default=None, help="pin the load generator")
    parser.add_argument("--static-server", action="store_true", help="serve, do not load")
    args = parser.parse_args(argv)
    if args.static_server:
        pin(args.cpu)
        run_async(serve_static(args.host, args.port))
        return 0
    if not args.key:
        parser.error("--key is required")
    run = f"lg{os.getpid()}-{int(time.time())}"
    built = list(
        workload.requests(
            args.host,
            args.port,
            args.key,
            run=run,
            start=0,
            count=args.requests,
            events_per_request=args.events_per_request,
        )
    )
    pinned = pin(args.cpu)
    expect = b'"events_received":%d,"messages":[]' % args.events_per_request
    result = run_async(
        run_load(
            args.host,
            args.port,
            built,
            connections=args.connections,
            duration=args.duration,
            events_per_request=args.events_per_request,
            expect=expect,
        )
    )
    summary = result.summary()
    summary["loop"] = loop_name()
    summary["pinned_cpu"] = args.cpu if pinned else None
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return 1 if result.errors else 0


if __name__ == "__main__":
    raise SystemExit(_main())
