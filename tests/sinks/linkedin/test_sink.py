"""The LinkedIn sink on the wire. Against the LinkedIn sandbox in process for what LinkedIn
answers (its own bodies and faults); over ``httpx.MockTransport`` for what the sandbox cannot
do: transport failures, a token echoed back, the exact request."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.outcome import Delivered, Paused, Rejected, Retry, SendResult
from signalyard.sandbox.linkedin import SandboxState, create_app
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.linkedin import LinkedInConfig, LinkedInSink
from signalyard.sinks.linkedin.config import API_VERSION
from tests.sinks import wire

from . import events

pytestmark = pytest.mark.anyio

TOKEN = "AQVlinkedinsupersecrettoken0123456789"


def config(**options: Any) -> LinkedInConfig:
    return LinkedInConfig(
        conversion_rule_id="104012",
        ad_account_id="512345678",
        access_token=Secret(options.pop("token", TOKEN)),
        **options,
    )


def against_sandbox(clock: FrozenClock, **options: Any) -> tuple[LinkedInSink, SandboxState]:
    state = SandboxState(clock=clock)
    client = wire.in_process(create_app(clock=clock, state=state))
    sink = LinkedInSink(config(api_url="http://sandbox", **options), client, clock)
    return sink, state


def mocked(handler: wire.Handler) -> tuple[LinkedInSink, list[httpx.Request]]:
    client, seen = wire.recording(handler)
    return LinkedInSink(config(), client, FrozenClock()), seen


def batch(n: int) -> list[dict[str, Any]]:
    return wire.numbered(events.full, n)


def assert_no_secret(result: SendResult, sink: LinkedInSink) -> None:
    wire.assert_no_secret(TOKEN, result, sink, sink.config)


def test_linkedin_sink_is_a_per_event_sink() -> None:
    sink, _ = mocked(lambda r: httpx.Response(200))
    typed: Sink = sink  # the Sink protocol, checked by mypy
    assert typed.per_event and typed.max_batch == 5000 and typed.kind == "linkedin"
    assert sink.max_age_seconds == 90 * 86400
    with pytest.raises(TypeError):
        LinkedInSink.build(object(), httpx.AsyncClient(), FrozenClock())


async def test_a_batch_is_delivered_to_the_sandbox(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    result = await sink.send(batch(3))
    assert result.outcomes == (Delivered(),) * 3
    assert result.attempt.http_status == 200 and result.attempt.trace_id
    assert [e.event_id for e in reversed(state.events())] == ["e0", "e1", "e2"]
    (request,) = state.requests()
    assert request.method == "BATCH_CREATE" and request.version == API_VERSION
    assert_no_secret(result, sink)


async def test_the_exact_request() -> None:
    sink, seen = mocked(lambda r: httpx.Response(200, json={"elements": [{"status": 201}]}))
    result = await sink.send([events.full()], test_event_code="IGNORED")
    assert result.outcomes == (Delivered(),)
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://api.linkedin.com/rest/conversionEvents"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["linkedin-version"] == API_VERSION
    assert request.headers["x-restli-protocol-version"] == "2.0.0"
    assert request.headers["x-restli-method"] == "BATCH_CREATE"
    body = orjson.loads(request.content)
    assert list(body) == ["elements"] and "IGNORED" not in request.content.decode()


async def test_an_event_without_user_id_is_rejected_alone_before_sending(
    clock: FrozenClock,
) -> None:
    sink, state = against_sandbox(clock)
    evs = batch(3)
    evs[1]["user_data"] = {}
    evs[1]["_click_ids"] = {}
    result = await sink.send(evs)
    ok0, bad, ok2 = result.outcomes
    assert ok0 == ok2 == Delivered()
    assert isinstance(bad, Rejected) and "no user id" in bad.reason
    (request,) = state.requests()
    assert request.elements == 2  # the unsendable one never left


async def test_a_batch_of_only_unsendable_events_sends_nothing() -> None:
    sink, seen = mocked(lambda r: httpx.Response(500))
    event = events.minimal()
    event["_click_ids"] = {}
    result = await sink.send([event, event])
    assert seen == [] and result.attempt.http_status is None
    assert all(isinstance(o, Rejected) for o in result.outcomes)


async def test_sandbox_faults(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "server_error", "status": 503, "count": 1}, clock.now())
    (retry,) = (await sink.send(batch(1))).outcomes
    assert isinstance(retry, Retry) and not retry.throttled
    state.faults.add({"kind": "throttle", "retry_after": 30, "count": 1}, clock.now())
    (throttled,) = (await sink.send(batch(1))).outcomes
    assert isinstance(throttled, Retry) and throttled.throttled and throttled.after == 30
    state.faults.add({"kind": "expired_token", "count": 1}, clock.now())
    result = await sink.send(batch(2))
    assert all(isinstance(o, Paused) and "access_token" in o.fix for o in result.outcomes)
    assert result.attempt.code == 65602
    state.faults.add({"kind": "invalid_event", "event_ids": ["e1"], "count": 1}, clock.now())
    result = await sink.send(batch(3))
    a, b, c = result.outcomes
    assert a == c == Delivered() and isinstance(b, Rejected) and "e1" in b.reason
    state.faults.add(
        {"kind": "invalid_event", "event_ids": ["e2"], "whole": True, "count": 1}, clock.now()
    )
    result = await sink.send(batch(3))
    a, b, c = result.outcomes
    assert isinstance(c, Rejected) and "/elements/2/eventId" in c.reason
    assert isinstance(a, Retry) and a.after == 0.0


async def test_a_rule_not_made_for_the_conversions_api_pauses(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.set_rule("104012", {"conversionMethod": "INSIGHT_TAG"})
    result = await sink.send(batch(2))
    assert all(isinstance(o, Paused) and "conversion_rule_id" in o.fix for o in result.outcomes)
    check = await sink.healthcheck()
    assert isinstance(check.outcomes[0], Paused)
    assert "not a Conversions API rule" in check.outcomes[0].reason


async def test_an_event_older_than_90_days_is_rejected_by_the_sandbox(clock: FrozenClock) -> None:
    sink, _ = against_sandbox(clock)
    evs = batch(2)
    evs[0]["event_time"] = int(clock.now()) - 91 * 86400
    old, ok = (await sink.send(evs)).outcomes
    assert isinstance(old, Rejected) and "90 days" in old.reason and ok == Delivered()


async def test_healthcheck_reads_the_rule(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    result = await sink.healthcheck()
    assert result.outcomes == (Delivered(),) and result.attempt.http_status == 200
    assert state.events() == []  # nothing sent, nothing counted
    (request,) = state.requests()
    assert request.method == "GET" and request.conversion_rule_id == "104012"
    state.set_rule("104012", {"enabled": False})
    (disabled,) = (await sink.healthcheck()).outcomes
    assert isinstance(disabled, Paused) and "disabled" in disabled.reason
    state.faults.add({"kind": "expired_token", "revoked": True}, clock.now())
    (revoked,) = (await sink.healthcheck()).outcomes
    assert isinstance(revoked, Paused) and "revoked" in revoked.reason


async def test_healthcheck_with_a_bad_token_pauses(clock: FrozenClock) -> None:
    sink, _ = against_sandbox(clock, token="short")
    result = await sink.healthcheck()
    (outcome,) = result.outcomes
    assert isinstance(outcome, Paused) and "set-secret" in outcome.fix
    assert result.attempt.http_status == 401


async def test_healthcheck_request_and_answers() -> None:
    rule = {"id": 104012, "conversionMethod": "CONVERSIONS_API", "enabled": True}
    sink, seen = mocked(lambda r: httpx.Response(200, json=rule))
    assert (await sink.healthcheck()).outcomes == (Delivered(),)
    (request,) = seen
    assert request.method == "GET"
    assert request.url.path == "/rest/conversions/104012"
    assert request.url.params["account"] == "urn:li:sponsoredAccount:512345678"
    assert "x-restli-method" not in request.headers
    sink, _ = mocked(lambda r: httpx.Response(200, content=b"[]"))
    assert isinstance((await sink.healthcheck()).outcomes[0], Retry)
    sink, _ = mocked(lambda r: httpx.Response(404, json={"status": 404, "message": "nope"}))
    assert isinstance((await sink.healthcheck()).outcomes[0], Paused)
    sink, _ = mocked(lambda r: httpx.Response(429))
    assert isinstance((await sink.healthcheck()).outcomes[0], Retry)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError("refused"), Retry),
        (httpx.ReadTimeout("slow"), Retry),
        (httpx.UnsupportedProtocol("gopher"), Paused),
    ],
)
async def test_transport_failures_never_raise(error: Exception, kind: type) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    sink, _ = mocked(fail)
    result = await sink.send(batch(2))
    assert all(isinstance(o, kind) for o in result.outcomes)
    assert result.attempt.http_status is None
    assert isinstance((await sink.healthcheck()).outcomes[0], kind)


async def test_a_token_echoed_back_is_masked() -> None:
    echo = {"status": 401, "code": "INVALID_ACCESS_TOKEN", "message": f"bad token {TOKEN}"}
    sink, _ = mocked(lambda r: httpx.Response(401, json=echo))
    result = await sink.send(batch(1))
    assert_no_secret(result, sink)
    assert "**********" in (result.attempt.message or "")


async def test_limits_of_send() -> None:
    sink, seen = mocked(lambda r: httpx.Response(500))
    with pytest.raises(ValueError, match="at most 5000"):
        await sink.send([events.full()] * 5001)
    result = await sink.send([])
    assert result.outcomes == () and seen == []
