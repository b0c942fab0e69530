"""Limits: 2000 events, 10 identifiers, 10 destinations, the body size, and the sandbox's own
memory bounded whatever is sent."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.errors import InputError, TooLarge
from signalyard.sandbox.clip import MAX_STRING, TRUNCATED_KEY
from signalyard.sandbox.google import SandboxState, create_app
from signalyard.sandbox.google.body import body_error
from signalyard.sandbox.google.recorder import footprint
from signalyard.sources.body import Busy, SlowBody

from .factory import INGEST, body, destination, event, refresh_form, sha_hex
from .test_auth import error_info, google_error
from .test_validation import one_violation

pytestmark = pytest.mark.anyio


def _events(n: int, prefix: str = "e") -> list[dict[str, object]]:
    return [event(f"{prefix}{i}") for i in range(n)]


async def test_2000_events_pass_2001_do_not(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    ok = await client.post(INGEST, json=body(*_events(2000)), headers=auth)
    assert ok.status_code == 200, ok.text
    assert state.event_count == 2000
    over = await client.post(INGEST, json=body(*_events(2001, "x")), headers=auth)
    violation = one_violation(over)
    assert violation == {
        "field": "events",
        "description": "Maximum number of events allowed per request is 2000; "
        "this request has 2001.",
        "reason": "TOO_MANY_EVENTS",
    }
    assert state.event_count == 2000


async def test_10_identifiers_pass_11_do_not(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    ten = {"userIdentifiers": [{"emailAddress": sha_hex(str(i))} for i in range(10)]}
    assert (
        await client.post(INGEST, json=body(event(userData=ten)), headers=auth)
    ).status_code == 200
    eleven = {"userIdentifiers": [{"emailAddress": sha_hex(str(i))} for i in range(11)]}
    r = await client.post(INGEST, json=body(event("b", userData=eleven)), headers=auth)
    violation = one_violation(r)
    assert violation["field"] == "events[0].userData.userIdentifiers"
    assert violation["reason"] == "TOO_MANY_USER_IDENTIFIERS"


async def test_10_destinations_pass_11_do_not(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    ten = [destination(str(100 + i)) for i in range(10)]
    r = await client.post(INGEST, json=body(event(), destinations=ten), headers=auth)
    assert r.status_code == 200
    assert state.event_count == 10  # one record per destination
    eleven = [destination(str(100 + i)) for i in range(11)]
    r = await client.post(INGEST, json=body(event(), destinations=eleven), headers=auth)
    violation = one_violation(r)
    assert violation["field"] == "destinations"
    assert violation["reason"] == "TOO_MANY_DESTINATIONS"


async def test_a_body_over_the_limit(clock: FrozenClock) -> None:
    app = create_app(state=SandboxState(clock=clock), max_body_bytes=10_000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        token = (await c.post("/token", data=refresh_form())).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        r = await c.post(INGEST, json=body(*_events(100)), headers=headers)
        err = google_error(r, 400, "INVALID_ARGUMENT")
        assert err["message"] == "Request payload size exceeds the limit: 10000 bytes."
        assert (await c.post(INGEST, json=body(event()), headers=headers)).status_code == 200


async def test_the_byte_budget_holds(clock: FrozenClock) -> None:
    budget = 300_000
    state = SandboxState(clock=clock, max_bytes=budget)
    app = create_app(state=state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        token = (await c.post("/token", data=refresh_form())).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for r in range(10):
            events = [
                event(f"r{r}-{i}", cartData={"items": [{"itemId": "x" * 1000}] * 20})
                for i in range(50)
            ]
            answer = await c.post(INGEST, json=body(*events), headers=headers)
            assert answer.status_code == 200, answer.text
            assert 0 < state.bytes_held <= budget
            held = state.events()
            assert held[0].transaction_id == f"r{r}-49"
            assert state.bytes_held == sum(footprint(e) for e in held)
    totals = state.summary()["totals"]
    assert totals["events_received"] == 500
    assert totals["bytes_held"] == state.bytes_held and totals["max_bytes"] == budget
    assert state.event_count < 500


async def test_the_event_count_is_bounded(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock, max_events=5)
    app = create_app(state=state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        token = (await c.post("/token", data=refresh_form())).json()["access_token"]
        r = await c.post(
            INGEST, json=body(*_events(12)), headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200
    assert [e.transaction_id for e in state.events()] == [f"e{i}" for i in range(11, 6, -1)]
    assert state.summary()["conversion_actions"]["987654321"]["received"] == 12


async def test_long_strings_are_cut_in_what_is_stored(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    long_id = "t" * 5000
    ua = "Mozilla/5.0 " + "A" * 30_000
    ev = event(long_id, eventDeviceInfo={"userAgent": ua})
    assert (await client.post(INGEST, json=body(ev), headers=auth)).status_code == 200
    [rec] = state.events()
    stored = rec.event
    assert len(stored["eventDeviceInfo"]["userAgent"]) < MAX_STRING + 40
    assert TRUNCATED_KEY in stored
    # Dedup compares the full transaction id: one differing at the end is not a duplicate.
    other = event("t" * 4999 + "u")
    assert (await client.post(INGEST, json=body(other), headers=auth)).status_code == 200
    assert state.events()[0].status == "kept"
    assert (await client.post(INGEST, json=body(event(long_id)), headers=auth)).status_code == 200
    assert state.events()[0].status == "deduplicated"


async def test_error_info_of_a_limit(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post(INGEST, json=body(*_events(2001)), headers=auth)
    assert error_info(r.json()["error"])["reason"] == "TOO_MANY_EVENTS"


def test_refused_bodies_get_googles_shapes() -> None:
    too_large = body_error(TooLarge("body", "too large"), 100)
    assert (too_large.http, too_large.status) == (400, "INVALID_ARGUMENT")
    busy = body_error(Busy(3), 100)
    assert (busy.http, busy.status, busy.headers) == (503, "UNAVAILABLE", {"Retry-After": "3"})
    slow = body_error(SlowBody("body", "too slow"), 100)
    assert (slow.http, slow.status) == (408, "DEADLINE_EXCEEDED")
    assert slow.headers == {"Connection": "close"}
    other = body_error(InputError("body", "bad Content-Length"), 100)
    assert (other.http, other.status) == (400, "INVALID_ARGUMENT")
