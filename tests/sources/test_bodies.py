"""Request bodies over real connections: a key outside the body is checked before the body is
read, the process holds a bounded number of body bytes (counted as they arrive; bodies read
before any key is checked hold at most their share, so that keyed clients always have room),
a body that stops arriving or trickles in is answered 408 and its connection closed, and a
client that goes away is one debug line. The mounted sandbox's bodies go through the same
reader.

The gateway runs under uvicorn on a free port; the client is a plain socket, so that a test
can send part of a body and decide when (or whether) to send the rest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson
import pytest

from signalyard.app import UNREAD_CLOSE_BYTES, create_app
from signalyard.clock import SystemClock
from signalyard.secret import Secret
from signalyard.settings import CollectSettings, Settings
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

    def connect(self, source: str | None = None) -> socket.socket:
        """A connection, from ``source`` (another loopback address: another peer) if given."""
        where = (source, 0) if source else None
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5, source_address=where)
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


def trickle_until_answered(sock: socket.socket, step: bytes, rounds: int = 60) -> None:
    """Send ``step`` every 0.1 s (never pausing for a read timeout) until the server answers,
    at most ``rounds`` times (the caller then reads the answer, or finds none)."""
    for _ in range(rounds):
        readable, _, _ = select.select([sock], [], [], 0.1)
        if readable:
            return
        try:
            sock.sendall(step)
        except OSError:
            return


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


def lead_body(size: int, event_id: str, **params: str) -> bytes:
    event = {
        "event_name": "Lead",
        "event_time": int(time.time()) - 30,
        "event_id": event_id,
        "action_source": "email",
        "user_data": {"em": "7b17fb0bd173f625b58636fb796407c22b3d16fc78302d79f0fd30c2fc2fc068"},
    }
    return padded({"data": [event], **params}, size)


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
    """The unread rest of a refused body, when small, is discarded as it arrives (never
    buffered) and the connection serves the next request."""
    served = gateway()
    body = lead_body(30_000, "after-refusal")
    assert len(body) <= UNREAD_CLOSE_BYTES
    with served.connect() as sock:
        sock.sendall(request_head(f"/{V}/{DATASET}/events?access_token=sy_nope", len(body)))
        refused = read_answer(sock, timeout=3)
        assert refused.status == 401
        assert refused.headers.get("connection") != "close"
        sock.sendall(body)  # the refused request's body, discarded
        path = f"/{V}/{DATASET}/events?access_token={served.key}"
        sock.sendall(request_head(path, len(body)) + body)
        answer = read_answer(sock, timeout=5)
    assert answer.status == 200, answer.body
    assert answer.json()["events_received"] == 1


async def test_a_refusal_before_a_large_body_closes_the_connection(
    gateway: Callable[..., Served],
) -> None:
    """Refused before most of an announced 8 MiB body arrived, the answer closes the
    connection: the server does not read and throw away the rest to reach a next request."""
    served = gateway()
    with served.connect() as sock:
        sock.sendall(request_head(f"/{V}/{DATASET}/events?access_token=sy_nope", 8 * 1024 * 1024))
        refused = read_answer(sock, timeout=3)
        assert refused.status == 401
        assert refused.headers.get("connection") == "close"
        sock.settimeout(3)
        assert sock.recv(1) == b""  # closed by the server


# the in-flight budget ----------------------------------------------------------------------


async def test_bodies_past_the_in_flight_budget_get_503_with_retry_after(
    gateway: Callable[..., Served],
) -> None:
    # 150 KB: the smallest budget that keeps one 60 KB body's room past the unkeyed share
    served = gateway(
        max_body_bytes=60_000,
        bodies_in_flight_bytes=150_000,
        body_wait_seconds=0.3,
        body_read_timeout_seconds=10.0,
        collect=CollectSettings(max_body_bytes=10_000),
    )
    path = f"/{V}/{DATASET}/events?access_token={served.key}"
    first, second = lead_body(60_000, "first"), lead_body(60_000, "second")
    beside = lead_body(60_000, "beside")
    with served.connect() as holder, served.connect() as other, served.connect() as late:
        holder.sendall(request_head(path, len(first)) + first[:59_000])  # 59 KB counted
        other.sendall(request_head(path, len(beside)) + beside[:59_000])  # 118 KB in all
        time.sleep(0.2)
        late.sendall(request_head(path, len(second)) + second)  # does not fit beside it
        answer = read_answer(late, timeout=5)  # before: 200, bodies were never counted
        assert answer.status == 503, answer.body
        assert answer.headers["retry-after"] == "1"
        error = answer.json()["error"]
        assert error["code"] == 2 and error["is_transient"] is True
        assert "retry" in error["message"]
        holder.sendall(first[59_000:])
        assert read_answer(holder, timeout=5).status == 200
    with served.connect() as again:  # the budget was given back
        again.sendall(request_head(path, len(second)) + second)
        assert read_answer(again, timeout=5).status == 200


async def test_a_body_waits_for_room_and_then_is_read(gateway: Callable[..., Served]) -> None:
    """A body that does not fit waits; the room a body held comes back when it ends (here:
    its client goes away), and the waiting body is read."""
    served = gateway(
        max_body_bytes=60_000,
        bodies_in_flight_bytes=150_000,
        body_wait_seconds=5.0,
        collect=CollectSettings(max_body_bytes=10_000),
    )
    path = f"/{V}/{DATASET}/events?access_token={served.key}"
    first, second = lead_body(60_000, "first"), lead_body(60_000, "second")
    with served.connect() as waiting:
        with served.connect() as holder, served.connect() as other:
            for sock in (holder, other):
                sock.sendall(request_head(path, len(first)) + first[:59_000])
            time.sleep(0.2)
            waiting.sendall(request_head(path, len(second)) + second)  # 32 KB in, then waits
            time.sleep(0.3)
        answer = read_answer(waiting, timeout=5)  # the holders went away: their bytes are free
        assert answer.status == 200, answer.body


async def test_trickling_bodies_do_not_lock_a_keyed_client_out(
    gateway: Callable[..., Served],
) -> None:
    """Eight connections announce the largest body and trickle a byte at a time, never
    pausing for the read timeout. A body counts with the bytes that have arrived, so keyed
    and unkeyed clients beside them are answered 200. Before, each held its announced
    length from the start: three filled the budget and every other body got 503 for as long
    as they went on."""
    served = gateway(
        max_body_bytes=60_000,
        bodies_in_flight_bytes=300_000,  # large unkeyed bodies: 90 KB of a 150 KB share
        body_wait_seconds=0.3,
        collect=CollectSettings(max_body_bytes=60_000),
    )
    keyed_path = f"/{V}/{DATASET}/events?access_token={served.key}"
    heads = [
        request_head(f"/{V}/{DATASET}/events", 60_000),  # its token would be in the body
        request_head(f"/collect/{DATASET}", 60_000, Origin=ORIGIN, User_Agent=BROWSER),
        request_head(f"/webhooks/shopify/{DATASET}", 60_000),
        request_head(keyed_path, 60_000),
    ]
    with contextlib.ExitStack() as stack:
        tricklers = [stack.enter_context(served.connect()) for _ in range(8)]
        for i, sock in enumerate(tricklers):
            sock.sendall(heads[i % len(heads)] + b"{")
        for _ in range(3):
            time.sleep(0.1)
            for sock in tricklers:
                with contextlib.suppress(OSError):
                    sock.sendall(b" ")
        keyed = lead_body(60_000, "keyed-beside-tricklers")
        unkeyed = lead_body(60_000, "unkeyed-beside-tricklers", access_token=served.key)
        with served.connect("127.0.0.2") as good:  # another peer than the tricklers
            good.sendall(request_head(keyed_path, len(keyed)) + keyed)
            answer = read_answer(good, timeout=5)  # before: 503
            assert answer.status == 200, answer.body
            assert answer.json()["events_received"] == 1
            good.sendall(request_head(f"/{V}/{DATASET}/events", len(unkeyed)) + unkeyed)
            answer = read_answer(good, timeout=5)
            assert answer.status == 200, answer.body


async def test_bodies_read_before_a_key_is_checked_hold_at_most_their_share(
    gateway: Callable[..., Served],
) -> None:
    """Unkeyed bodies that do arrive hold at most bodies_unkeyed_share (half) of the
    budget: the next unkeyed body gets 503, while a keyed one is read beside them."""
    served = gateway(max_body_bytes=60_000, bodies_in_flight_bytes=200_000, body_wait_seconds=0.3)
    unkeyed_path, keyed_path = f"/{V}/{DATASET}/events", f"/{V}/{DATASET}/events?access_token=K"
    keyed_path = keyed_path.replace("K", served.key)
    held = [lead_body(60_000, f"held-{i}", access_token=served.key) for i in range(2)]
    late = lead_body(60_000, "late-unkeyed", access_token=served.key)
    keyed = lead_body(60_000, "keyed")
    with served.connect() as first, served.connect() as second:
        for sock, body in ((first, held[0]), (second, held[1])):
            sock.sendall(request_head(unkeyed_path, len(body)) + body[:50_000])  # 100 KB held
        time.sleep(0.2)
        with served.connect() as other:
            other.sendall(request_head(unkeyed_path, len(late)) + late)
            answer = read_answer(other, timeout=5)  # before: 200 (180 KB fit in 200 KB)
        assert answer.status == 503, answer.body
        assert answer.headers["retry-after"] == "1"
        with served.connect() as good:
            good.sendall(request_head(keyed_path, len(keyed)) + keyed)
            assert read_answer(good, timeout=5).status == 200


# 200 KB unkeyed share; /collect keeps 12.5 KB of it (1/16, at least its 10 KB bodies), the
# large unkeyed bodies 187.5 KB; one peer holds at most one largest body (60 KB) of them.
SHARED = {
    "max_body_bytes": 60_000,
    "bodies_in_flight_bytes": 400_000,
    "body_wait_seconds": 0.3,
    "collect": CollectSettings(max_body_bytes=10_000),
}


def collect_request(event_id: str) -> bytes:
    event = {
        "event_name": "PageView",
        "event_id": event_id,
        "event_time": int(time.time()) - 5,
        "event_source_url": f"{ORIGIN}/",
        "user_data": {"fbp": "fb.1.1700000000000.1234567890"},
    }
    body = orjson.dumps({"events": [event]})
    head = request_head(f"/collect/{DATASET}", len(body), Origin=ORIGIN, User_Agent=BROWSER)
    return head + body


async def test_collect_is_answered_while_large_unkeyed_bodies_fill_their_share(
    gateway: Callable[..., Served],
) -> None:
    """Four peers trickle large unauthenticated bodies into the unkeyed share; /collect keeps
    a part of its own, so a browser's event is still answered 200. Before, /collect shared
    one pool with them: it waited body_wait_seconds and got 503."""
    served = gateway(**SHARED)
    path = f"/{V}/{DATASET}/events"  # the token is in the body: read before any key
    with contextlib.ExitStack() as stack:
        for i in range(4):  # 4 x 50 KB: the whole 200 KB share before
            sock = stack.enter_context(served.connect(f"127.0.0.{i + 2}"))
            body = lead_body(60_000, f"flood-{i}", access_token=served.key)
            sock.sendall(request_head(path, len(body)) + body[:50_000])
        time.sleep(0.2)
        with served.connect("127.0.0.9") as browser:
            browser.sendall(collect_request("browser-1"))
            answer = read_answer(browser, timeout=5)  # before: 503
        assert answer.status == 200, answer.body


async def test_one_peer_cannot_fill_the_unkeyed_share(gateway: Callable[..., Served]) -> None:
    """One address holds at most one largest body's worth of unkeyed bytes: its next body
    gets 503 at once, while another address's body is read. Before, its bodies were read
    until they filled the whole unkeyed share."""
    served = gateway(**SHARED)
    path = f"/{V}/{DATASET}/events"
    held = lead_body(60_000, "held", access_token=served.key)
    more = lead_body(60_000, "more-from-the-same-peer", access_token=served.key)
    other = lead_body(60_000, "another-peer", access_token=served.key)
    with served.connect("127.0.0.2") as first:
        first.sendall(request_head(path, len(held)) + held[:50_000])
        time.sleep(0.2)
        with served.connect("127.0.0.2") as same:
            same.sendall(request_head(path, len(more)) + more)
            answer = read_answer(same, timeout=5)  # before: 200
        assert answer.status == 503, answer.body
        assert answer.headers["retry-after"] == "1"
        with served.connect("127.0.0.3") as elsewhere:
            elsewhere.sendall(request_head(path, len(other)) + other)
            answer = read_answer(elsewhere, timeout=5)
        assert answer.status == 200, answer.body


async def test_the_mounted_sandboxs_bodies_count_in_the_gateways_budget(
    gateway: Callable[..., Served],
) -> None:
    """The mounted sandbox reads its bodies with the gateway's reader, as bodies read before
    any key is checked: two sandbox uploads in progress fill the unkeyed share, so the next
    sandbox upload gets Graph's 503 (code 2, transient, Retry-After) and so does an unkeyed
    gateway request, while a keyed one is read. Before, the sandbox read its bodies outside
    the budget."""
    served = gateway(
        sandbox=True, max_body_bytes=60_000, bodies_in_flight_bytes=200_000, body_wait_seconds=0.3
    )
    sandbox_path = f"/sandbox/meta/{V}/{DATASET}/events"
    token = "EAAB" + "t" * 40
    held = [lead_body(60_000, f"sandbox-{i}", access_token=token) for i in range(3)]
    with served.connect() as first, served.connect() as second:
        for sock, body in ((first, held[0]), (second, held[1])):
            sock.sendall(request_head(sandbox_path, len(body)) + body[:50_000])  # 100 KB held
        time.sleep(0.2)
        with served.connect() as other:
            other.sendall(request_head(sandbox_path, len(held[2])) + held[2])
            answer = read_answer(other, timeout=5)  # before: 200, never counted
        assert answer.status == 503, answer.body
        assert answer.headers["retry-after"] == "1"
        error = answer.json()["error"]
        assert error["code"] == 2 and error["is_transient"] is True and error["fbtrace_id"]
        unkeyed = lead_body(60_000, "gateway-unkeyed", access_token=served.key)
        keyed = lead_body(60_000, "gateway-keyed")
        with served.connect() as other:
            other.sendall(request_head(f"/{V}/{DATASET}/events", len(unkeyed)) + unkeyed)
            assert read_answer(other, timeout=5).status == 503
        with served.connect() as good:
            path = f"/{V}/{DATASET}/events?access_token={served.key}"
            good.sendall(request_head(path, len(keyed)) + keyed)
            assert read_answer(good, timeout=5).status == 200


# a body that stops arriving, or trickles in ------------------------------------------------


@pytest.mark.parametrize("endpoint", ["graph", "collect", "shopify", "sandbox"])
async def test_a_stalled_body_gets_408_and_its_connection_closed(
    gateway: Callable[..., Served], endpoint: str
) -> None:
    served = gateway(body_read_timeout_seconds=0.5, sandbox=True)
    if endpoint == "graph":
        head = request_head(f"/{V}/{DATASET}/events?access_token={served.key}", 1000)
    elif endpoint == "collect":
        head = request_head(f"/collect/{DATASET}", 1000, Origin=ORIGIN, User_Agent=BROWSER)
    elif endpoint == "shopify":
        head = request_head(f"/webhooks/shopify/{DATASET}", 1000)
    else:  # the mounted sandbox: before, its bodies were read without a timeout
        head = request_head(f"/sandbox/meta/{V}/{DATASET}/events", 1000)
    with served.connect() as sock:
        sock.sendall(head + b'{"data": [')  # 10 of 1000 bytes, then nothing
        answer = read_answer(sock, timeout=4)  # before: no answer, ever
        assert closed_by_server(sock)
    assert answer.status == 408, answer.body
    assert answer.headers["connection"] == "close"
    assert "stopped arriving" in answer.body.decode()
    if endpoint in ("graph", "sandbox"):
        assert answer.json()["error"]["code"] == 100


@pytest.mark.parametrize("endpoint", ["graph", "shopify", "sandbox"])
async def test_a_trickling_body_gets_408_and_its_connection_closed(
    gateway: Callable[..., Served], endpoint: str
) -> None:
    """A body that never pauses for the read timeout but arrives at about 100 bytes a
    second: past its first body_read_timeout_seconds it is below the default minimum rate
    (body_min_bytes_per_second) and is answered 408. Before, nothing ever timed it out."""
    served = gateway(body_read_timeout_seconds=0.5, sandbox=True)
    if endpoint == "graph":
        path = f"/{V}/{DATASET}/events?access_token={served.key}"
    elif endpoint == "shopify":
        path = f"/webhooks/shopify/{DATASET}"
    else:
        path = f"/sandbox/meta/{V}/{DATASET}/events"
    with served.connect() as sock:
        sock.sendall(request_head(path, 60_000) + b'{"data": [')
        trickle_until_answered(sock, b" " * 10)
        answer = read_answer(sock, timeout=2)  # before: no answer, ever
        assert closed_by_server(sock)
    assert answer.status == 408, answer.body
    assert answer.headers["connection"] == "close"
    assert "arrives too slowly" in answer.body.decode()


async def test_a_body_that_keeps_arriving_is_not_timed_out(
    gateway: Callable[..., Served],
) -> None:
    """The timeout is per read: a body that takes longer in total, but never pauses for
    the timeout and keeps the minimum rate, is read."""
    served = gateway(body_read_timeout_seconds=0.5, body_min_bytes_per_second=1000)
    body = lead_body(4000, "slow-but-steady")
    with served.connect() as sock:
        sock.sendall(request_head(f"/{V}/{DATASET}/events?access_token={served.key}", len(body)))
        for i in range(0, len(body), 1000):
            sock.sendall(body[i : i + 1000])
            time.sleep(0.25)  # 1 s in all, 0.25 s between reads
        answer = read_answer(sock, timeout=5)
    assert answer.status == 200, answer.body


# a client that goes away -------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["graph", "collect", "sandbox"])
async def test_an_aborted_upload_is_one_debug_line(
    gateway: Callable[..., Served], caplog: pytest.LogCaptureFixture, endpoint: str
) -> None:
    served = gateway(sandbox=True)
    caplog.set_level(logging.DEBUG, logger="signalyard")
    uvicorn_errors = logging.getLogger("uvicorn.error")  # it does not propagate to the root
    uvicorn_errors.addHandler(caplog.handler)
    try:
        if endpoint == "graph":
            head = request_head(f"/{V}/{DATASET}/events?access_token={served.key}", 100_000)
        elif endpoint == "collect":
            head = request_head(f"/collect/{DATASET}", 60_000, Origin=ORIGIN, User_Agent=BROWSER)
        else:  # before: the mounted sandbox logged a ClientDisconnect traceback
            head = request_head(f"/sandbox/meta/{V}/{DATASET}/events", 100_000)
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
