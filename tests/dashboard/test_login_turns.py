"""Past the limit of failed logins for everyone together, passwords are checked one at a time,
one per simulated second, however many attempts arrive at once from however many addresses;
a small line waits its turn and an attempt beyond it is answered 429 at once (and counts as
a failure of its client); the right password still gets in, at once from a browser holding a
known-device cookie. Failures are counted per IPv4 address and per IPv6 /64. Time is the
test's: ``sleep`` waits until the test moves the clock, as a real sleep waits for real time,
so concurrent attempts wait together."""

from __future__ import annotations

import asyncio
import base64
import heapq
from collections import Counter

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.clock import FrozenClock
from signalyard.dashboard import auth, create_dashboard
from signalyard.dashboard.session import LoginLimiter, Session, SessionCodec
from signalyard.dashboard.web import COOKIE, DEVICE_COOKIE
from signalyard.secret import Secret
from signalyard.settings import DashboardSettings
from signalyard.store.sqlite import SQLiteStore

from .conftest import PASSWORD, client_for, csrf_of

pytestmark = pytest.mark.anyio
THRESHOLD = 10
LINE = 4


class SteppedClock:
    """Moves only with :meth:`step`; ``sleep`` returns once the clock has passed its end."""

    def __init__(self) -> None:
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._made = 0

    def now(self) -> float:
        return 1_800_000_000.0 + self._mono

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._made += 1
        heapq.heappush(self._sleepers, (self._mono + seconds, self._made, done))
        await done

    def step(self, seconds: float = 1.0) -> None:
        self._mono += seconds
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, done = heapq.heappop(self._sleepers)
            if not done.done():
                done.set_result(None)


async def settle() -> None:
    """Let every request run until it waits for the clock or is answered (no I/O here: the
    login path reads nothing from the store)."""
    for _ in range(200):
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch, clock: SteppedClock) -> list[float]:
    """When each password was checked (simulated seconds)."""
    made: list[float] = []
    real = auth.passwords_match

    def counted(given: str, expected: str) -> bool:
        made.append(clock.monotonic())
        return real(given, expected)

    monkeypatch.setattr(auth, "passwords_match", counted)
    return made


@pytest.fixture
def app(sqlite_store: SQLiteStore, clock: SteppedClock) -> Starlette:
    limiter = LoginLimiter(clock, overall=THRESHOLD, queue=LINE)
    dashboard = create_dashboard(
        sqlite_store,
        clock,
        DashboardSettings(password=Secret(PASSWORD)),
        client_ip=lambda r: r.headers.get("x-client", "none"),
        limiter=limiter,
    )
    return Starlette(routes=[Mount("/dashboard", app=dashboard)])


async def attempt(app: Starlette, address: str, password: str, device: str = "") -> httpx.Response:
    """One browser's login: its own cookies (``device``: a known-device cookie it holds),
    the form's token, then the password."""
    async with client_for(app) as client:
        if device:
            client.cookies.set(DEVICE_COOKIE, device)
        page = await client.get("/dashboard/login")
        return await client.post(
            "/dashboard/login",
            data={"csrf": csrf_of(page.text), "password": password, "next": ""},
            headers={"X-Client": address},
        )


def device_of(response: httpx.Response) -> str:
    """The known-device cookie a successful login set."""
    value = response.cookies.get(DEVICE_COOKIE)
    assert value, f"no {DEVICE_COOKIE} cookie set at login"
    return value


def flood(app: Starlette, first: int, count: int) -> list[asyncio.Task[httpx.Response]]:
    """``count`` wrong passwords at once, each from its own address."""
    return [
        asyncio.create_task(attempt(app, f"198.51.100.{first + i}", "guess")) for i in range(count)
    ]


async def run_out(clock: SteppedClock, tasks: list[asyncio.Task[httpx.Response]]) -> None:
    """Move the clock a second at a time until every attempt is answered."""
    await settle()
    for _ in range(100):
        if all(t.done() for t in tasks):
            return
        clock.step()
        await settle()
    raise AssertionError("attempts still waiting after 100 simulated seconds")


async def at_once(app: Starlette, address: str, password: str, device: str = "") -> httpx.Response:
    """An attempt that must be answered without the clock moving."""
    task = asyncio.create_task(attempt(app, address, password, device))
    await settle()
    if not task.done():
        task.cancel()
        raise AssertionError(f"the attempt from {address} waited for the clock")
    return task.result()


async def past_threshold(app: Starlette, checks: list[float]) -> None:
    for i in range(THRESHOLD):  # under the limit: answered at once
        assert (await at_once(app, f"192.0.2.{i}", "guess")).status_code == 401
    assert checks == [0.0] * THRESHOLD
    checks.clear()


def statuses(tasks: list[asyncio.Task[httpx.Response]]) -> Counter[int]:
    return Counter(t.result().status_code for t in tasks)


async def test_concurrent_wrong_attempts_are_checked_one_per_second(
    app: Starlette, clock: SteppedClock, checks: list[float]
) -> None:
    await past_threshold(app, checks)
    tasks = flood(app, 0, 12)
    await settle()
    at_once = [t.result() for t in tasks if t.done()]
    unchecked = list(checks)
    await run_out(clock, tasks)
    # one password checked per simulated second, never two in the same one
    assert max(Counter(int(t) for t in checks).values()) == 1, checks
    assert checks == [1.0, 2.0, 3.0, 4.0]
    # a line of LINE waited its turn; the others were answered at once, their password
    # unchecked, with when to come back
    assert statuses(tasks) == {401: LINE, 429: 12 - LINE}
    assert unchecked == []
    assert len(at_once) == 12 - LINE
    for r in at_once:
        assert r.status_code == 429
        assert r.headers["Retry-After"] == str(LINE)
        assert f"Too many login attempts right now: try again in {LINE} s." in r.text


async def test_the_right_password_still_gets_in_during_a_flood(
    app: Starlette, clock: SteppedClock, checks: list[float]
) -> None:
    await past_threshold(app, checks)
    tasks = flood(app, 0, 2 * LINE)
    await settle()
    # the admin, from a new address, finds the line full: told when to come back
    r = await at_once(app, "203.0.113.1", PASSWORD)
    assert r.status_code == 429
    retry = int(r.headers["Retry-After"])
    assert retry == LINE
    for _ in range(retry):
        clock.step()
        await settle()
    # and, coming back then, gets in after its turn
    admin = asyncio.create_task(attempt(app, "203.0.113.1", PASSWORD))
    more = flood(app, 100, 2 * LINE)  # the flood goes on behind the admin
    await run_out(clock, [*tasks, admin, *more])
    assert admin.result().status_code == 303
    assert max(Counter(int(t) for t in checks).values()) == 1
    # that browser now holds a known-device cookie: it passes ahead of the line at once
    tasks = flood(app, 200, 2 * LINE)
    await settle()
    r = await at_once(app, "203.0.113.1", PASSWORD, device_of(admin.result()))
    assert r.status_code == 303
    await run_out(clock, tasks)
    assert max(Counter(int(t) for t in checks).values()) <= 2  # the admin's check beside one


async def test_a_known_device_skips_a_full_line(
    app: Starlette, clock: SteppedClock, checks: list[float]
) -> None:
    # the admin logged in once, from home; the cookie is all that is kept of it
    device = device_of(await at_once(app, "192.0.2.200", PASSWORD))
    checks.clear()
    await past_threshold(app, checks)
    tasks = flood(app, 0, 3 * LINE)  # the line is full of attackers, and more wait
    await settle()
    # from a new address (a phone, a train), with the right password: in at once
    r = await at_once(app, "203.0.113.77", PASSWORD, device)
    assert r.status_code == 303
    assert r.cookies.get(COOKIE) and r.cookies.get(DEVICE_COOKIE)  # renewed
    # a wrong password with the cookie is checked at once, and counted: the cookie skips the
    # line, not the client's own limit
    for _ in range(5):
        assert (await at_once(app, "203.0.113.88", "guess", device)).status_code == 401
    r = await at_once(app, "203.0.113.88", PASSWORD, device)
    assert r.status_code == 429 and "Too many failed logins" in r.text
    # no cookie, or a forged or tampered one: in line like anyone (here: the line is full)
    forged = SessionCodec(b"another key" * 3).dumps_device(expires=clock.now() + 86400)
    for cookie in ("", forged, device[:-2] + "AA", "d1.e30.x", "x" * 300):
        r = await at_once(app, "203.0.113.99", PASSWORD, cookie)
        assert r.status_code == 429, cookie
    await run_out(clock, tasks)


async def test_the_known_device_cookie(sqlite_store: SQLiteStore, clock: SteppedClock) -> None:
    for secure in (False, True):
        dashboard = create_dashboard(
            sqlite_store,
            clock,
            DashboardSettings(password=Secret(PASSWORD), secure_cookies=secure),
        )
        app = Starlette(routes=[Mount("/dashboard", app=dashboard)])
        base = "https://dash.test" if secure else "http://dash.test"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as c:
            page = await c.get("/dashboard/login")
            r = await c.post(
                "/dashboard/login",
                data={"csrf": csrf_of(page.text), "password": PASSWORD, "next": ""},
            )
        assert r.status_code == 303
        header = next(
            h for h in r.headers.get_list("set-cookie") if h.startswith(f"{DEVICE_COOKIE}=")
        )
        attributes = {a.strip().lower() for a in header.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/dashboard", "max-age=7776000"} <= attributes
        assert ("secure" in attributes) is secure
        # nothing but its expiry in it
        payload = device_of(r).split(".")[1]
        assert orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == {
            "e": clock.now() + 90 * 86400
        }


def test_a_known_device_cookie_expires_and_is_not_a_session() -> None:
    codec = SessionCodec(b"k" * 32)
    device = codec.dumps_device(expires=1000.0)
    assert codec.known_device(device, now=999.0)
    assert not codec.known_device(device, now=1000.0)
    assert not SessionCodec(b"j" * 32).known_device(device, now=0.0)
    assert codec.loads(device, now=0.0) is None  # neither passes for the other
    session = codec.dumps(Session.logged_in(now=0.0, seconds=1000.0))
    assert not codec.known_device(session, now=0.0)


async def test_addresses_in_one_ipv6_64_share_one_limit(
    app: Starlette, checks: list[float]
) -> None:
    # five failures from five addresses of one /64 (one subscriber's usual allocation)
    for i in range(1, 6):
        r = await at_once(app, f"2001:db8:aa:bb::{i:x}", "guess")
        assert r.status_code == 401
    # a sixth address of that /64, even with the right password: refused
    r = await at_once(app, "2001:db8:aa:bb:ffff:ffff:ffff:ffff", PASSWORD)
    assert r.status_code == 429 and "Too many failed logins" in r.text
    assert len(checks) == 5
    # the next /64 is another client
    assert (await at_once(app, "2001:db8:aa:bc::1", PASSWORD)).status_code == 303


def test_clients_are_ipv4_addresses_and_ipv6_64s() -> None:
    limiter = LoginLimiter(FrozenClock(), per_client=2)
    for address in ("2001:db8::1", "2001:db8::ffff:1", "192.0.2.1", "::ffff:192.0.2.1"):
        limiter.failed(address)
    refused = ("2001:db8:0:0:abcd::9", "192.0.2.1", "::ffff:c000:201")
    allowed = ("2001:db8:0:1::1", "2001:db9::1", "192.0.2.2", "::ffff:192.0.2.2", "unknown")
    assert [limiter.wait_seconds(a) > 0 for a in refused] == [True] * len(refused)
    assert [limiter.wait_seconds(a) for a in allowed] == [0.0] * len(allowed)
    limiter.succeeded("2001:db8::5")  # a login from the /64 clears its failures
    assert limiter.wait_seconds("2001:db8::1") == 0


async def test_refusals_for_a_full_line_count_as_failures(
    app: Starlette, clock: SteppedClock, checks: list[float]
) -> None:
    await past_threshold(app, checks)
    tasks = flood(app, 0, LINE)  # the line is full
    await settle()
    # one address floods the full line: each attempt refused at once, unchecked, and counted;
    # the one that uses up its limit is told so
    for expected in ["login attempts right now: try again in 4 s."] * 4 + ["failed logins"]:
        r = await at_once(app, "198.51.100.250", "guess")
        assert r.status_code == 429 and f"Too many {expected}" in r.text
    r = await at_once(app, "198.51.100.250", "guess")
    assert r.status_code == 429 and "Too many failed logins" in r.text
    await run_out(clock, tasks)
    checked = len(checks)
    # so, the line empty again, that address has used up its own limit (5 in 5 minutes):
    # refused at once, even with the right password, its password unchecked
    r = await at_once(app, "198.51.100.250", PASSWORD)
    assert r.status_code == 429 and "Too many failed logins: try again in 5 min." in r.text
    assert len(checks) == checked


async def test_an_address_in_line_is_still_held_to_its_own_limit(
    app: Starlette, clock: SteppedClock, checks: list[float]
) -> None:
    await past_threshold(app, checks)
    # LINE attempts from one address, all in line before any of them failed: its limit of 5
    # failures is checked again at its turn
    tasks = [asyncio.create_task(attempt(app, "198.51.100.7", "guess")) for _ in range(LINE)]
    await run_out(clock, tasks)
    assert statuses(tasks) == {401: LINE}
    extra = [asyncio.create_task(attempt(app, "198.51.100.7", "guess")) for _ in range(LINE)]
    await run_out(clock, extra)
    assert statuses(extra) == {401: 1, 429: LINE - 1}
    assert len(checks) == 5
