"""Request bodies over real connections: a key outside the body is checked before the body is
read, the process holds a bounded number of body bytes, a body that stops arriving is
answered 408 and its connection closed, and a client that goes away is one debug line.

The gateway runs under uvicorn on a free port; the client is a plain socket, so that a test
can send part of a body and decide when (or whether) to send the rest."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson
import pytest

from signalyard.app import create_app
from signalyard.clock import SystemClock
from signalyard.secret import Secret
from signalyard.settings import Settings
from signalyard.sources import webhook_store as ws
from signalyard.sources.auth import new_key
from signalyard.sources.origins import set_allowed_origins
from signalyard.store.sqlite import SQLiteStore

from .conftest import DATASET, OTHER_DATASET, V

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
ORIGIN = "https://shop.example.com"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"


@dataclass
class Served:
    port: int
    key: str
    other_key: str

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def request_head(path: str, length: int, **headers: str) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: gateway",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(sock: socket.socket, timeout: float) -> Answer:
    """One HTTP answer; fails (socket.timeout) when none comes within ``timeout``."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return Answer(int(status_line.split()[1]), headers, body)


def closed_by_server(sock: socket.socket, timeout: float = 2.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def padded(document: dict[str, Any], size: int) -> bytes:
    """``document`` as JSON of exactly ``size`` bytes (trailing whitespace is valid JSON)."""
    raw = orjson.dumps(document)
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def lead_body(size: int, event_id: str) -> bytes:
    event = {
        "event_name": "Lead",
        "event_time": int(time.time()) - 30,
        "event_id": event_id,
        "action_source": "email",
        "user_data": {"em": "7b17fb0bd173f625b58636fb796407c22b3d16fc78302d79f0fd30c2fc2fc068"},
    }
    return padded({"data": [event]}, size)


@pytest.fixture
async def gateway(
    sqlite_url: str, serve: Callable[..., str]
) -> AsyncIterator[Callable[..., Served]]:
    """Start the real app (its lifespan in uvicorn's thread) with Settings overrides."""
    setup = SQLiteStore(sqlite_url)
    await setup.open()
    now = time.time()
    await setup.add_dataset(DATASET, name="Shop", default_country="US", now=now)
    await setup.add_dataset(OTHER_DATASET, name="Other", default_country=None, now=now)
    key, other = new_key(), new_key()
    await setup.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="t", now=now)
    await setup.add_key(OTHER_DATASET, key_id=other.id, key_hash=other.key_hash, label="o", now=now)
    await set_allowed_origins(setup, DATASET, [ORIGIN], now=now)
    await ws.add_source(setup, DATASET, "shopify", [Secret("shpss_test")], {}, now=now)
    await setup.close()

    def start(**overrides: Any) -> Served:
        settings = replace(
            Settings(database_url=sqlite_url, sandbox=False, worker=False), **overrides
        )
        app = create_app(settings, SQLiteStore(sqlite_url), clock=SystemClock(), run_worker=False)
        base = serve(app, lifespan="on")
        return Served(int(base.rsplit(":", 1)[1]), key.secret, other.secret)

    yield start


# a key outside the body is checked before the body is read ---------------------------------


@pytest.mark.parametrize(
    ("where", "path", "status", "code", "subcode"),
    [
        ("query", f"/{V}/{DATASET}/events?access_token=sy_{'A' * 43}", 401, 190, 467),
        ("bearer", f"/{V}/{DATASET}/events", 401, 190, 467),
        ("query", f"/{V}/{OTHER_DATASET}/events?access_token=KEY", 401, 190, 467),
        ("query", f"/{V}/999999/events?access_token=KEY", 400, 100, 33),
    ],
    ids=["unknown-key-query", "unknown-key-bearer", "other-dataset", "missing-dataset"],
)
async def test_refused_before_an_8_mib_body_is_read(
    gateway: Callable[..., Served], where: str, path: str, status: int, code: int, subcode: int
) -> None:
    served = gateway()
    headers = {"Authorization": f"Bearer sy_{'B' * 43}"} if where == "bearer" else {}
    with served.connect() as sock:
        sock.sendall(request_head(path.replace("KEY", served.key), 8 * MiB, **headers))
        sock.sendall(b"{" + b" " * 65535)  # 64 KiB of the 8 MiB: the rest is never sent
        answer = read_answer(sock, timeout=3)  # before, the server waited for all 8 MiB
    assert answer.status == status, answer.body
    error = answer.json()["error"]
    assert (error["code"], error["error_subcode"]) == (code, subcode)
    assert error["type"] == "OAuthException" and error["fbtrace_id"]


async def test_a_refused_connection_stays_usable(gateway: Callable[..., Served]) -> None:
    """The unread rest of a refused body is discarded as it arrives (never buffered) and the
    connection serves the next request."""
    served = gateway()
    body = lead_body(200_000, "after-refusal")
    with served.connect() as sock:
        sock.sendall(request_head(f"/{V}/{DATASET}/events?access_token=sy_nope", len(body)))
        assert read_answer(sock, timeout=3).status == 401
        sock.sendall(body)  # the refused request's body, discarded
        path = f"/{V}/{DATASET}/events?access_token={served.key}"
        sock.sendall(request_head(path, len(body)) + body)
        answer = read_answer(sock, timeout=5)
    assert answer.status == 200, answer.body
    assert answer.json()["events_received"] == 1


# the in-flight budget ----------------------------------------------------------------------


async def test_bodies_past_the_in_flight_budget_get_503_with_retry_after(
    gateway: Callable[..., Served],
) -> None:
    served = gateway(
        max_body_bytes=60_000,
        bodies_in_flight_bytes=100_000,
        body_wait_seconds=0.3,
        body_read_timeout_seconds=10.0,
    )
    path = f"/{V}/{DATASET}/events?access_token={served.key}"
    first, second = lead_body(60_000, "first"), lead_body(60_000, "second")
    with served.connect() as holder, served.connect() as late:
        holder.sendall(request_head(path, len(first)) + first[:1000])  # 60 KB counted
        time.sleep(0.2)
        started = time.monotonic()
        late.sendall(request_head(path, len(second)) + second)  # does not fit beside it
        answer = read_answer(late, timeout=5)  # before: 200, bodies were never counted
        waited = time.monotonic() - started
        assert answer.status == 503, answer.body
        assert answer.headers["retry-after"] == "1"
        error = answer.json()["error"]
        assert error["code"] == 2 and error["is_transient"] is True
        assert "retry" in error["message"]
        assert 0.25 <= waited < 3  # it waited briefly for room first
        holder.sendall(first[1000:])
        assert read_answer(holder, timeout=5).status == 200
    with served.connect() as again:  # the budget was given back
        again.sendall(request_head(path, len(second)) + second)
        assert read_answer(again, timeout=5).status == 200


async def test_a_body_waits_for_room_and_then_is_read(gateway: Callable[..., Served]) -> None:
    served = gateway(max_body_bytes=60_000, bodies_in_flight_bytes=100_000, body_wait_seconds=5.0)
    path = f"/{V}/{DATASET}/events?access_token={served.key}"
    first, second = lead_body(60_000, "first"), lead_body(60_000, "second")
    with served.connect() as holder, served.connect() as waiting:
        holder.sendall(request_head(path, len(first)) + first[:1000])
        time.sleep(0.2)
        waiting.sendall(request_head(path, len(second)) + second)
        time.sleep(0.3)
        holder.sendall(first[1000:])
        assert read_answer(holder, timeout=5).status == 200
        assert read_answer(waiting, timeout=5).status == 200


# a body that stops arriving ----------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["graph", "collect", "shopify"])
async def test_a_stalled_body_gets_408_and_its_connection_closed(
    gateway: Callable[..., Served], endpoint: str
) -> None:
    served = gateway(body_read_timeout_seconds=0.5)
    if endpoint == "graph":
        head = request_head(f"/{V}/{DATASET}/events?access_token={served.key}", 1000)
    elif endpoint == "collect":
        head = request_head(f"/collect/{DATASET}", 1000, Origin=ORIGIN, User_Agent=BROWSER)
    else:
        head = request_head(f"/webhooks/shopify/{DATASET}", 1000)
    with served.connect() as sock:
        started = time.monotonic()
        sock.sendall(head + b'{"data": [')  # 10 of 1000 bytes, then nothing
        answer = read_answer(sock, timeout=4)  # before: no answer, ever
        elapsed = time.monotonic() - started
        assert closed_by_server(sock)
    assert answer.status == 408, answer.body
    assert 0.4 <= elapsed < 3
    assert answer.headers["connection"] == "close"
    assert "stopped arriving" in answer.body.decode()
    if endpoint == "graph":
        assert answer.json()["error"]["code"] == 100


async def test_a_body_that_keeps_arriving_is_not_timed_out(
    gateway: Callable[..., Served],
) -> None:
    """The timeout is per read: a body that takes longer in total, but never pauses for
    the timeout, is read."""
    served = gateway(body_read_timeout_seconds=0.5)
    body = lead_body(4000, "slow-but-steady")
    with served.connect() as sock:
        sock.sendall(request_head(f"/{V}/{DATASET}/events?access_token={served.key}", len(body)))
        for i in range(0, len(body), 1000):
            sock.sendall(body[i : i + 1000])
            time.sleep(0.25)  # 1 s in all, 0.25 s between reads
        answer = read_answer(sock, timeout=5)
    assert answer.status == 200, answer.body


# a client that goes away -------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["graph", "collect"])
async def test_an_aborted_upload_is_one_debug_line(
    gateway: Callable[..., Served], caplog: pytest.LogCaptureFixture, endpoint: str
) -> None:
    served = gateway()
    caplog.set_level(logging.DEBUG, logger="signalyard")
    uvicorn_errors = logging.getLogger("uvicorn.error")  # it does not propagate to the root
    uvicorn_errors.addHandler(caplog.handler)
    try:
        if endpoint == "graph":
            head = request_head(f"/{V}/{DATASET}/events?access_token={served.key}", 100_000)
        else:
            head = request_head(f"/collect/{DATASET}", 60_000, Origin=ORIGIN, User_Agent=BROWSER)
        with served.connect() as sock:
            sock.sendall(head + b'{"data": [' + b" " * 5000)
            time.sleep(0.1)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not _gone(caplog):
            await asyncio.sleep(0.05)
        time.sleep(0.2)  # anything logged after it shows too
    finally:
        uvicorn_errors.removeHandler(caplog.handler)
    gone = _gone(caplog)
    assert len(gone) == 1, caplog.text
    assert gone[0].levelno == logging.DEBUG
    assert gone[0].getMessage().count("\n") == 0
    assert all(r.exc_info is None for r in caplog.records), caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def _gone(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "went away" in r.getMessage()]
