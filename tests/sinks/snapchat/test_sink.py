"""The Snapchat sink on the wire. Against the Snapchat sandbox in process for what Snap
answers (its bodies and faults: server_error, throttle, expired_token, invalid_event, token
errors, validate); over ``httpx.MockTransport`` for what the sandbox cannot do: transport
failures, a token echoed back, the exact request."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.outcome import Delivered, Paused, Rejected, Retry, SendResult
from signalyard.sandbox.snapchat import SandboxState, create_app
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.snapchat import SnapchatConfig, SnapchatSink
from signalyard.sinks.snapchat.sink import CHECK_EVENT
from tests.sinks import wire

from . import events

pytestmark = pytest.mark.anyio

TOKEN = "snapsupersecrettoken+/0123456789"
PIXEL = "5bf81ee1-15b1-4dc1-b636-d7dae49b950e"


def against_sandbox(
    clock: FrozenClock, token: str = TOKEN, **options: Any
) -> tuple[SnapchatSink, SandboxState]:
    state = SandboxState(clock=clock)
    client = wire.in_process(create_app(clock=clock, state=state))
    config = SnapchatConfig(
        pixel_id=PIXEL, access_token=Secret(token), api_url="http://sandbox", **options
    )
    return SnapchatSink(config, client, clock), state


def mocked(handler: wire.Handler) -> tuple[SnapchatSink, list[httpx.Request]]:
    config = SnapchatConfig(pixel_id=PIXEL, access_token=Secret(TOKEN))
    client, seen = wire.recording(handler)
    return SnapchatSink(config, client, FrozenClock()), seen


def batch(n: int) -> list[dict[str, Any]]:
    out = wire.numbered(events.full, n)
    for event in out:
        event["event_time"] = int(events.NOW) - 60
    return out


def no_secret(result: SendResult) -> None:
    text = repr(result)
    assert TOKEN not in text and "snapsupersecret" not in text


def test_it_is_a_sink() -> None:
    sink: Sink = mocked(lambda r: httpx.Response(200))[0]
    assert sink.kind == "snapchat" and sink.per_event and sink.max_batch == 2000


async def test_a_batch_is_delivered_and_recorded_as_sent() -> None:
    clock = FrozenClock(events.NOW)
    sink, state = against_sandbox(clock)
    result = await sink.send(batch(3))
    assert result.outcomes == (Delivered(),) * 3 and result.attempt.http_status == 200
    recorded = state.events()
    assert [e.event_id for e in reversed(recorded)] == ["e0", "e1", "e2"]
    assert all(e.diagnostics == () for e in recorded), recorded[0].diagnostics
    assert not recorded[0].test
    no_secret(result)


async def test_one_invalid_event_is_rejected_alone_the_others_retried_at_once() -> None:
    clock = FrozenClock(events.NOW)
    sink, state = against_sandbox(clock)
    evs = batch(3)
    evs[1]["event_time"] = int(events.NOW) - 40 * 86400  # older than Snap's 37 days
    result = await sink.send(evs)
    assert isinstance(result.outcomes[1], Rejected) and "37 days" in result.outcomes[1].reason
    assert all(isinstance(result.outcomes[i], Retry) for i in (0, 2))
    assert state.events() == []  # Snap takes nothing of a refused request
    again = await sink.send([evs[0], evs[2]])
    assert again.outcomes == (Delivered(),) * 2


async def test_the_invalid_event_fault_names_the_event() -> None:
    clock = FrozenClock(events.NOW)
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "invalid_event", "event_ids": ["e2"]}, clock.now())
    result = await sink.send(batch(4))
    assert isinstance(result.outcomes[2], Rejected)
    assert [type(o) for i, o in enumerate(result.outcomes) if i != 2] == [Retry] * 3


@pytest.mark.parametrize(
    ("fault", "kind"),
    [({"kind": "server_error"}, Retry), ({"kind": "server_error", "page": True}, Retry),
     ({"kind": "throttle", "retry_after": 7}, Retry), ({"kind": "expired_token"}, Paused)],
)  # fmt: skip
async def test_faults(fault: dict[str, Any], kind: type) -> None:
    clock = FrozenClock(events.NOW)
    sink, state = against_sandbox(clock)
    state.faults.add(fault, clock.now())
    result = await sink.send(batch(2))
    assert all(isinstance(o, kind) for o in result.outcomes), result
    if fault["kind"] == "throttle":
        assert result.outcomes[0] == Retry(result.outcomes[0].reason, 7.0, True)  # type: ignore[union-attr]
    if kind is Paused:
        assert "set-secret" in result.outcomes[0].fix  # type: ignore[union-attr]
    no_secret(result)


@pytest.mark.parametrize("token", ["short", "has space inside it"])
async def test_a_malformed_token_pauses(token: str) -> None:
    sink, _ = against_sandbox(FrozenClock(events.NOW), token=token)
    result = await sink.send(batch(1))
    assert isinstance(result.outcomes[0], Paused) and result.attempt.http_status == 401


async def test_validate_only_sends_to_the_test_facility_with_per_event_answers() -> None:
    clock = FrozenClock(events.NOW)
    sink, state = against_sandbox(clock, validate_only=True)
    evs = batch(3)
    evs[2]["event_time"] = None
    result = await sink.send(evs)
    assert result.outcomes[:2] == (Delivered(), Delivered())
    assert isinstance(result.outcomes[2], Rejected)
    assert all(e.test for e in state.events())
    assert state.requests()[0].endpoint == "validate"


async def test_a_test_event_code_also_goes_to_validate() -> None:
    clock = FrozenClock(events.NOW)
    sink, state = against_sandbox(clock)
    await sink.send(batch(1), test_event_code="TEST123")
    assert state.requests()[0].endpoint == "validate"


async def test_healthcheck_validates_one_page_view_and_counts_nothing() -> None:
    clock = FrozenClock(events.NOW)
    sink, state = against_sandbox(clock)
    result = await sink.healthcheck()
    assert result.outcomes == (Delivered(),)
    (check,) = state.events()
    assert check.test and check.event_name == CHECK_EVENT
    state.faults.add({"kind": "expired_token"}, clock.now())
    assert isinstance((await sink.healthcheck()).outcomes[0], Paused)


async def test_the_request_carries_the_token_in_the_query_only() -> None:
    sink, seen = mocked(lambda r: httpx.Response(200, json={"status": "VALID"}))
    await sink.send(batch(1))
    (request,) = seen
    assert request.url.path == f"/v3/{PIXEL}/events"
    assert request.url.params["access_token"] == TOKEN
    assert TOKEN not in str(dict(request.headers))
    assert orjson.loads(request.content)["data"][0]["event_name"] == "PURCHASE"


async def test_a_token_echoed_back_is_masked() -> None:
    body = {"status": "INVALID", "reason": f"bad token {TOKEN}", "event": 0}
    sink, _ = mocked(lambda r: httpx.Response(401, json=body))
    result = await sink.send(batch(1))
    no_secret(result)
    assert "**********" in (result.attempt.message or "")


async def test_transport_failures_are_retried_without_the_token() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    sink, _ = mocked(fail)
    result = await sink.send(batch(2))
    assert all(isinstance(o, Retry) for o in result.outcomes)
    no_secret(result)
    assert "snapsupersecrettoken%2B%2F" not in repr(result)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    result = await mocked(slow)[0].send(batch(1))
    assert isinstance(result.outcomes[0], Retry) and "within 10s" in result.outcomes[0].reason


async def test_batch_limits() -> None:
    sink, seen = mocked(lambda r: httpx.Response(200, json={"status": "VALID"}))
    assert (await sink.send([])).outcomes == ()
    with pytest.raises(ValueError, match="at most 2000"):
        await sink.send([events.minimal()] * 2001)
    assert seen == []


async def test_an_event_json_cannot_carry_is_refused_alone() -> None:
    sink, seen = mocked(lambda r: httpx.Response(200, json={"status": "VALID"}))
    bad = events.minimal()
    bad["event_id"] = "x"
    bad["custom_data"] = {"content_type": "\ud800"}  # a lone surrogate: not JSON
    result = await sink.send([events.minimal(), bad])
    assert isinstance(result.outcomes[0], Retry) and isinstance(result.outcomes[1], Rejected)
    assert seen == []
