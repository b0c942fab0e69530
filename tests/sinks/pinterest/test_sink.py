"""The Pinterest sink on the wire. Against the Pinterest sandbox in process for what
Pinterest answers (its own bodies and faults); over ``httpx.MockTransport`` for what the
sandbox cannot do: transport failures, a token echoed back, the exact request."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.outcome import Delivered, Paused, Rejected, Retry, SendResult
from signalyard.sandbox.pinterest import SandboxState, create_app
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.pinterest import PinterestConfig, PinterestSink
from signalyard.sinks.pinterest.sink import CHECK_ID_PREFIX
from tests.sinks import wire

from . import events

pytestmark = pytest.mark.anyio

TOKEN = "pinterestsupersecrettoken0123456789"
ACCOUNT = "549755885175"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(events.NOW)


def against_sandbox(
    clock: FrozenClock, token: str = TOKEN, **options: Any
) -> tuple[PinterestSink, SandboxState]:
    state = SandboxState(clock=clock)
    client = wire.in_process(create_app(clock=clock, state=state))
    config = PinterestConfig(
        ad_account_id=ACCOUNT, access_token=Secret(token), api_url="http://sandbox", **options
    )
    return PinterestSink(config, client, clock), state


def mocked(handler: wire.Handler) -> tuple[PinterestSink, list[httpx.Request]]:
    config = PinterestConfig(ad_account_id=ACCOUNT, access_token=Secret(TOKEN))
    client, seen = wire.recording(handler)
    return PinterestSink(config, client, FrozenClock(events.NOW)), seen


def batch(n: int) -> list[dict[str, Any]]:
    return wire.numbered(events.full, n)


def assert_no_secret(result: SendResult, sink: PinterestSink) -> None:
    wire.assert_no_secret(TOKEN, result, sink, sink.config)


def test_pinterest_sink_is_a_per_event_sink() -> None:
    sink, _ = mocked(lambda r: httpx.Response(200))
    as_sink: Sink = sink
    assert (as_sink.kind, as_sink.max_batch, as_sink.max_age_seconds) == (
        "pinterest",
        1000,
        604800,
    )
    assert as_sink.per_event is True


async def test_a_batch_is_processed_by_the_sandbox(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    result = await sink.send(batch(3))
    assert result.outcomes == (Delivered(),) * 3
    assert result.attempt.http_status == 200 and result.attempt.trace_id
    recorded = state.events()
    assert sorted(str(e.event_id) for e in recorded) == ["e0", "e1", "e2"]
    assert all(e.accepted and not e.test and not e.diagnostics for e in recorded)
    assert_no_secret(result, sink)


async def test_test_mode_sends_test_true(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock, test=True)
    await sink.send(batch(1))
    assert [e.test for e in state.events()] == [True]
    sink2, state2 = against_sandbox(clock)
    await sink2.send(batch(1), test_event_code="TEST123")  # Meta's test events: test mode too
    await sink2.send(batch(1))
    assert sorted(e.test for e in state2.events()) == [False, True]


async def test_a_failed_event_is_rejected_alone(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "invalid_event", "event_ids": ["e1"]}, clock.now())
    result = await sink.send(batch(3))
    assert result.outcomes[0] == result.outcomes[2] == Delivered()
    bad = result.outcomes[1]
    assert isinstance(bad, Rejected) and bad.code == 400 and "e1" in bad.reason
    assert sorted(str(e.event_id) for e in state.events()) == ["e0", "e2"]


async def test_an_event_pinterest_refuses_is_rejected_with_its_reason(clock: FrozenClock) -> None:
    sink, _ = against_sandbox(clock)
    old = events.full()
    old["event_time"] = int(clock.now()) - 8 * 86400
    result = await sink.send([old, *batch(1)])
    assert isinstance(result.outcomes[0], Rejected)
    assert "event_time" in result.outcomes[0].reason and result.outcomes[1] == Delivered()


async def test_server_errors_are_retried(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "server_error", "status": 503}, clock.now())
    result = await sink.send(batch(2))
    assert all(isinstance(o, Retry) and not o.throttled for o in result.outcomes)
    assert result.attempt.http_status == 503 and state.events() == []


async def test_throttling_is_a_throttled_retry(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "throttle", "retry_after": 30}, clock.now())
    result = await sink.send(batch(2))
    assert all(isinstance(o, Retry) and o.throttled and o.after == 30 for o in result.outcomes)


async def test_an_expired_token_pauses_with_the_fix(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "expired_token", "token": TOKEN}, clock.now())
    result = await sink.send(batch(2))
    (paused,) = set(result.outcomes)
    assert isinstance(paused, Paused) and paused.code == 401
    assert "set-secret shop access_token" in paused.fix_for("shop")
    assert_no_secret(result, sink)


async def test_a_malformed_token_pauses(clock: FrozenClock) -> None:
    sink, _ = against_sandbox(clock, token="short")
    (paused,) = set((await sink.send(batch(1))).outcomes)
    assert isinstance(paused, Paused) and paused.code == 401


async def test_healthcheck_sends_one_test_event(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    result = await sink.healthcheck()
    assert result.outcomes == (Delivered(),)
    (check,) = state.events()
    assert check.test and str(check.event_id).startswith(CHECK_ID_PREFIX)
    assert check.event_name == "custom"
    assert state.events(test=False) == []


async def test_the_exact_request() -> None:
    def ok(request: httpx.Request) -> httpx.Response:
        n = len(orjson.loads(request.content)["data"])
        body = {"num_events_received": n, "num_events_processed": n,
                "events": [{"status": "processed"}] * n}  # fmt: skip
        return httpx.Response(200, json=body)

    sink, seen = mocked(ok)
    result = await sink.send(batch(2))
    assert result.outcomes == (Delivered(), Delivered())
    (request,) = seen
    assert str(request.url) == f"https://api.pinterest.com/v5/ad_accounts/{ACCOUNT}/events"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert [e["event_id"] for e in orjson.loads(request.content)["data"]] == ["e0", "e1"]


async def test_a_token_echoed_back_is_masked() -> None:
    sink, _ = mocked(lambda r: httpx.Response(400, json={"code": 1, "message": f"bad {TOKEN}"}))
    result = await sink.send(batch(1))
    assert isinstance(result.outcomes[0], Rejected)
    assert_no_secret(result, sink)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("refused"), Retry),
        (httpx.ReadTimeout("slow"), Retry),
        (httpx.UnsupportedProtocol("bad scheme"), Paused),
    ],
)
async def test_transport_failures(error: Exception, expected: type) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    sink, _ = mocked(fail)
    result = await sink.send(batch(2))
    assert all(isinstance(o, expected) for o in result.outcomes) and len(result.outcomes) == 2
    assert result.attempt.http_status is None


async def test_batch_limits_and_an_unencodable_event() -> None:
    sink, seen = mocked(lambda r: httpx.Response(200))
    with pytest.raises(ValueError, match="at most 1000"):
        await sink.send([events.minimal()] * 1001)
    assert (await sink.send([])).outcomes == ()
    odd = events.minimal()
    odd["event_source_url"] = "https://shop.example/\ud800"
    result = await sink.send([events.minimal(), odd])
    assert isinstance(result.outcomes[1], Rejected) and isinstance(result.outcomes[0], Retry)
    assert seen == []


def test_build_refuses_another_kind_s_config() -> None:
    with pytest.raises(TypeError, match="PinterestConfig"):
        PinterestSink.build(object(), httpx.AsyncClient(), FrozenClock())
