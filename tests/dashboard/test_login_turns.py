"""Past the limit of failed logins for everyone together, passwords are checked one at a time,
one per simulated second, however many attempts arrive at once from however many addresses;
a small line waits its turn and an attempt beyond it is answered 429 at once; the right
password still gets in. Time is the test's: ``sleep`` waits until the test moves the clock,
as a real sleep waits for real time, so concurrent attempts wait together."""

from __future__ import annotations

import asyncio
import heapq
from collections import Counter

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.clock import FrozenClock
from signalyard.dashboard import auth, create_dashboard
from signalyard.dashboard.session import LoginLimiter
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


async def attempt(app: Starlette, address: str, password: str) -> httpx.Response:
    """One browser's login: its own cookies, the form's token, then the password."""
    async with client_for(app) as client:
        page = await client.get("/dashboard/login")
        return await client.post(
            "/dashboard/login",
            data={"csrf": csrf_of(page.text), "password": password, "next": ""},
            headers={"X-Client": address},
        )


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


async def at_once(app: Starlette, address: str, password: str) -> httpx.Response:
    """An attempt that must be answered without the clock moving."""
    task = asyncio.create_task(attempt(app, address, password))
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
    # from the address it logged in from, the admin passes ahead of the line at once
    tasks = flood(app, 200, 2 * LINE)
    await settle()
    r = await at_once(app, "203.0.113.1", PASSWORD)
    assert r.status_code == 303
    await run_out(clock, tasks)
    assert max(Counter(int(t) for t in checks).values()) <= 2  # the admin's check beside one


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


def test_addresses_that_logged_in_are_few_and_forgotten() -> None:
    clock = FrozenClock()
    limiter = LoginLimiter(clock, trusted_clients=2, trusted_seconds=100)
    for address in ("a", "b", "c"):
        limiter.succeeded(address)
    assert [limiter.trusted(a) for a in ("a", "b", "c", "d")] == [False, True, True, False]
    clock.advance(100)
    assert not limiter.trusted("c")
