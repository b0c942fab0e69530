"""The Reddit sink on the wire. Against the Reddit sandbox in process for what Reddit
answers (its own bodies and faults: server_error, throttle, expired_token, invalid_event,
token errors); over ``httpx.MockTransport`` for what the sandbox cannot do: transport
failures, a token echoed back, the exact request."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.outcome import Delivered, Paused, Rejected, Retry, SendResult
from signalyard.sandbox.reddit import SandboxState, create_app
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.reddit import RedditConfig, RedditSink
from signalyard.sinks.reddit.sink import CHECK_EVENT
from tests.sinks import wire

from . import events

pytestmark = pytest.mark.anyio

TOKEN = "redditsupersecrettoken0123456789"


def against_sandbox(
    clock: FrozenClock, token: str = TOKEN, **options: Any
) -> tuple[RedditSink, SandboxState]:
    state = SandboxState(clock=clock)
    client = wire.in_process(create_app(clock=clock, state=state))
    config = RedditConfig(
        ad_account_id=events.ACCOUNT,
        access_token=Secret(token),
        api_url="http://sandbox",
        **options,
    )
    return RedditSink(config, client, clock), state


def mocked(handler: wire.Handler) -> tuple[RedditSink, list[httpx.Request]]:
    config = RedditConfig(ad_account_id=events.ACCOUNT, access_token=Secret(TOKEN))
    client, seen = wire.recording(handler)
    return RedditSink(config, client, FrozenClock()), seen


def batch(n: int) -> list[dict[str, Any]]:
    return wire.numbered(events.full, n)


def assert_no_secret(result: SendResult, sink: RedditSink) -> None:
    wire.assert_no_secret(TOKEN, result, sink, sink.config)


def test_reddit_sink_is_a_per_event_sink() -> None:
    sink, _ = mocked(lambda r: httpx.Response(200))
    as_sink: Sink = sink
    assert (as_sink.kind, as_sink.max_batch, as_sink.max_age_seconds) == ("reddit", 1000, 604800)
    assert as_sink.per_event is True


async def test_a_batch_is_accepted_by_the_sandbox(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    result = await sink.send(batch(3))
    assert result.outcomes == (Delivered(),) * 3
    assert result.attempt.http_status == 200 and result.attempt.trace_id
    assert [e.conversion_id for e in reversed(state.events())] == ["e0", "e1", "e2"]
    assert not any(e.test for e in state.events())
    assert_no_secret(result, sink)


async def test_test_mode_and_a_test_event_code_send_test_mode(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock, test_mode=True)
    await sink.send(batch(1))
    plain, state2 = against_sandbox(clock)
    await plain.send(batch(1), test_event_code="TEST123")
    assert state.events()[0].test and state2.events()[0].test


async def test_one_invalid_event_is_rejected_alone(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    sent = batch(3)
    sent[1]["event_time"] = clock.now() - 8 * 86400  # older than 168 h
    result = await sink.send(sent)
    first, bad, last = result.outcomes
    assert isinstance(bad, Rejected) and "168h0m0s" in bad.reason and bad.code == 400
    assert isinstance(first, Retry) and first.after == 0.0 and first == last
    assert state.events() == []  # none were processed
    retried = await sink.send([sent[0], sent[2]])
    assert retried.outcomes == (Delivered(),) * 2


async def test_the_sandbox_faults(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "server_error", "status": 503, "count": 1}, clock.now())
    (outcome,) = (await sink.send(batch(1))).outcomes
    assert isinstance(outcome, Retry) and not outcome.throttled
    state.faults.add({"kind": "throttle", "retry_after": 42, "count": 1}, clock.now())
    (outcome,) = (await sink.send(batch(1))).outcomes
    assert isinstance(outcome, Retry) and outcome.throttled and outcome.after == 42
    state.faults.add({"kind": "invalid_event", "conversion_ids": ["e1"], "count": 1}, clock.now())
    outcomes = (await sink.send(batch(2))).outcomes
    assert isinstance(outcomes[0], Retry) and isinstance(outcomes[1], Rejected)
    state.faults.add({"kind": "expired_token"}, clock.now())
    result = await sink.send(batch(2))
    paused = result.outcomes[0]
    assert isinstance(paused, Paused) and result.attempt.http_status == 401
    assert "set-secret <destination> access_token" in paused.fix
    assert_no_secret(result, sink)


async def test_a_malformed_token_pauses(clock: FrozenClock) -> None:
    sink, _ = against_sandbox(clock, token="short")
    (outcome,) = (await sink.send(batch(1))).outcomes
    assert isinstance(outcome, Paused) and "UNAUTHORIZED" in outcome.reason


async def test_healthcheck_is_a_test_event(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    result = await sink.healthcheck()
    assert result.outcomes == (Delivered(),)
    (check,) = state.events()
    assert check.test and check.event_name == CHECK_EVENT
    state.faults.add({"kind": "expired_token"}, clock.now())
    (outcome,) = (await sink.healthcheck()).outcomes
    assert isinstance(outcome, Paused)


async def test_the_exact_request() -> None:
    sink, seen = mocked(lambda r: httpx.Response(200, json={"message": "ok"}))
    await sink.send([events.full()])
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == (
        f"https://ads-api.reddit.com/api/v2.0/conversions/events/{events.ACCOUNT}"
    )
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    body = orjson.loads(request.content)
    assert body["test_mode"] is False and len(body["events"]) == 1


async def test_transport_failures_are_retried_and_never_raise() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused with {TOKEN}")

    sink, _ = mocked(fail)
    result = await sink.send(batch(2))
    assert all(isinstance(o, Retry) for o in result.outcomes)
    assert_no_secret(result, sink)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    sink, _ = mocked(slow)
    (outcome,) = (await sink.send(batch(1))).outcomes
    assert isinstance(outcome, Retry) and "within 10s" in outcome.reason


async def test_a_token_echoed_back_is_masked() -> None:
    body = {"success": False, "error": {"reason": "UNAUTHORIZED", "explanation": f"bad {TOKEN}"}}
    sink, _ = mocked(lambda r: httpx.Response(401, json=body))
    result = await sink.send(batch(1))
    assert_no_secret(result, sink)
    assert "**********" in (result.attempt.message or "")


async def test_a_bad_url_pauses() -> None:
    config = RedditConfig(
        ad_account_id=events.ACCOUNT, access_token=Secret(TOKEN), api_url="gopher://x"
    )
    sink = RedditSink(config, httpx.AsyncClient(), FrozenClock())
    (outcome,) = (await sink.send(batch(1))).outcomes
    assert isinstance(outcome, Paused) and "api_url" in outcome.fix


async def test_limits_of_a_batch() -> None:
    sink, seen = mocked(lambda r: httpx.Response(200))
    with pytest.raises(ValueError, match="at most 1000"):
        await sink.send(batch(1001))
    empty = await sink.send([])
    assert empty.outcomes == () and seen == []


async def test_an_unencodable_event_is_refused_alone() -> None:
    sink, seen = mocked(lambda r: httpx.Response(200))
    bad = events.full()
    bad["_click_ids"] = {"rdt_cid": "ok"}
    bad["custom_data"] = {"contents": [{"id": "a", "title": "\ud800"}]}
    result = await sink.send([bad, events.full()])
    assert isinstance(result.outcomes[0], Rejected) and isinstance(result.outcomes[1], Retry)
    assert seen == []


def test_build_refuses_another_config() -> None:
    with pytest.raises(TypeError, match="RedditConfig"):
        RedditSink.build(object(), httpx.AsyncClient(), FrozenClock())
