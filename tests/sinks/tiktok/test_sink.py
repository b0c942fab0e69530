"""The TikTok sink on the wire. Against the TikTok sandbox in process for what TikTok answers
(its own bodies and faults: server_error, throttle, expired_token, invalid_event with and
without partial, token errors); over ``httpx.MockTransport`` for what the sandbox cannot do:
transport failures, a token echoed back, the exact request."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.outcome import Delivered, Paused, Rejected, Retry, SendResult
from signalyard.sandbox.tiktok import SandboxState, create_app
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.tiktok import TikTokConfig, TikTokSink
from signalyard.sinks.tiktok.sink import CHECK_EVENT, CHECK_TEST_CODE
from tests.sinks import wire

from . import events

pytestmark = pytest.mark.anyio

TOKEN = "tiktoksupersecrettoken0123456789"
PIXEL = "CABC123DEF456GHI789J"


def against_sandbox(
    clock: FrozenClock, token: str = TOKEN, **options: Any
) -> tuple[TikTokSink, SandboxState]:
    state = SandboxState(clock=clock)
    client = wire.in_process(create_app(clock=clock, state=state))
    config = TikTokConfig(
        pixel_code=PIXEL, access_token=Secret(token), api_url="http://sandbox", **options
    )
    return TikTokSink(config, client, clock), state


def mocked(handler: wire.Handler) -> tuple[TikTokSink, list[httpx.Request]]:
    config = TikTokConfig(pixel_code=PIXEL, access_token=Secret(TOKEN))
    client, seen = wire.recording(handler)
    return TikTokSink(config, client, FrozenClock()), seen


def batch(n: int) -> list[dict[str, Any]]:
    return wire.numbered(events.full, n)


def assert_no_secret(result: SendResult, sink: TikTokSink) -> None:
    wire.assert_no_secret(TOKEN, result, sink, sink.config)


def test_tiktok_sink_is_a_per_event_sink() -> None:
    sink, _ = mocked(lambda r: httpx.Response(200))
    as_sink: Sink = sink
    assert (as_sink.kind, as_sink.max_batch, as_sink.max_age_seconds) == ("tiktok", 1000, 604800)
    assert as_sink.per_event is True


async def test_a_batch_is_accepted_by_the_sandbox(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    result = await sink.send(batch(3))
    assert result.outcomes == (Delivered(),) * 3
    assert result.attempt.http_status == 200 and result.attempt.code == 0
    assert result.attempt.trace_id  # TikTok's request_id
    recorded = state.events()
    assert sorted(str(e.event_id) for e in recorded) == ["e0", "e1", "e2"]
    assert all(e.accepted and not e.diagnostics for e in recorded)
    assert_no_secret(result, sink)


async def test_test_event_code_marks_the_events(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock, test_event_code="TEST111")
    await sink.send(batch(1))
    await sink.send(batch(1), test_event_code="TEST222")
    assert sorted(str(e.test_event_code) for e in state.events()) == ["TEST111", "TEST222"]


async def test_a_partial_answer_rejects_only_the_named_event(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "invalid_event", "event_ids": ["e1"], "partial": True}, clock.now())
    result = await sink.send(batch(3))
    assert result.outcomes[0] == result.outcomes[2] == Delivered()
    bad = result.outcomes[1]
    assert isinstance(bad, Rejected) and bad.code == 40002
    assert "Batch.1.event_id" in bad.reason and "e1" in bad.reason
    assert result.attempt.code == 20001
    assert sorted(str(e.event_id) for e in state.events(status="accepted")) == ["e0", "e2"]


async def test_a_refused_request_names_the_bad_event(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "invalid_event", "event_ids": ["e2"]}, clock.now())
    result = await sink.send(batch(4))
    assert isinstance(result.outcomes[2], Rejected) and result.outcomes[2].code == 40002
    assert all(isinstance(result.outcomes[i], Retry) for i in (0, 1, 3))
    assert state.events() == []


@pytest.mark.parametrize("spec", [{"status": 502}, {"status": 500, "json": True}])
async def test_server_errors_are_retried(clock: FrozenClock, spec: dict[str, Any]) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "server_error", **spec}, clock.now())
    result = await sink.send(batch(2))
    assert all(isinstance(o, Retry) and not o.throttled for o in result.outcomes)
    assert result.attempt.http_status == spec["status"]


@pytest.mark.parametrize("status", [200, 429])
async def test_throttling_is_a_throttled_retry(clock: FrozenClock, status: int) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "throttle", "status": status}, clock.now())
    result = await sink.send(batch(2))
    assert all(isinstance(o, Retry) and o.throttled for o in result.outcomes)
    assert result.attempt.code == 40100


async def test_an_expired_token_pauses_with_the_fix(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "expired_token", "token": TOKEN}, clock.now())
    result = await sink.send(batch(2))
    (paused,) = set(result.outcomes)
    assert isinstance(paused, Paused) and paused.code == 40001
    assert "set-secret <destination> access_token" in paused.fix
    assert_no_secret(result, sink)


@pytest.mark.parametrize(("token", "code"), [("short", 40105), ("has a space", 40105)])
async def test_a_malformed_token_pauses(clock: FrozenClock, token: str, code: int) -> None:
    sink, _ = against_sandbox(clock, token=token)
    result = await sink.send(batch(1))
    assert isinstance(result.outcomes[0], Paused) and result.outcomes[0].code == code


async def test_healthcheck_posts_one_test_event(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    result = await sink.healthcheck()
    assert result.outcomes == (Delivered(),)
    (recorded,) = state.events()
    assert recorded.event_name == CHECK_EVENT and recorded.test_event_code == CHECK_TEST_CODE
    assert recorded.is_test
    state.faults.add({"kind": "expired_token"}, clock.now())
    failed = await sink.healthcheck()
    assert isinstance(failed.outcomes[0], Paused) and failed.attempt.code == 40001


async def test_the_request_on_the_wire() -> None:
    def ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"code": 0, "message": "OK", "request_id": "R", "data": {}})

    sink, seen = mocked(ok)
    result = await sink.send([events.minimal()])
    assert result.outcomes == (Delivered(),)
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://business-api.tiktok.com/open_api/v1.3/event/track/"
    assert request.headers["access-token"] == TOKEN
    assert request.headers["content-type"] == "application/json"
    body = orjson.loads(request.content)
    assert (body["event_source"], body["event_source_id"]) == ("web", PIXEL)
    assert TOKEN not in request.content.decode() and TOKEN not in str(request.url)


async def test_an_echoed_token_is_masked() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        text = f"Access token {TOKEN} is incorrect or has been revoked."
        return httpx.Response(200, json={"code": 40105, "message": text, "request_id": "R"})

    sink, _ = mocked(echo)
    result = await sink.send([events.minimal()])
    assert isinstance(result.outcomes[0], Paused)
    assert_no_secret(result, sink)


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")],
)
async def test_transport_failures_are_retried(error: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    sink, _ = mocked(fail)
    result = await sink.send(batch(2))
    assert all(isinstance(o, Retry) for o in result.outcomes) and len(result.outcomes) == 2
    assert result.attempt.http_status is None


async def test_an_unusable_url_pauses() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.UnsupportedProtocol("no")

    sink, _ = mocked(fail)
    result = await sink.send(batch(1))
    assert isinstance(result.outcomes[0], Paused) and "api_url" in result.outcomes[0].fix


async def test_an_event_json_cannot_carry_is_rejected_alone() -> None:
    sink, seen = mocked(lambda r: httpx.Response(500))
    bad = events.full()
    bad["custom_data"]["contents"][0]["item_price"] = 2**70  # beyond what JSON encoders take
    result = await sink.send([events.full(), bad])
    assert seen == []
    assert isinstance(result.outcomes[0], Retry) and isinstance(result.outcomes[1], Rejected)


async def test_limits() -> None:
    sink, seen = mocked(lambda r: httpx.Response(500))
    assert (await sink.send([])).outcomes == () and seen == []
    with pytest.raises(ValueError, match="at most 1000"):
        await sink.send([events.minimal()] * 1001)
