"""The Meta sink on the wire. Against the Meta sandbox (in process, or over loopback for
timeouts) for what Meta answers: success, its error bodies and headers (the sandbox's own
faults); over ``httpx.MockTransport`` for what the sandbox cannot do: transport failures,
secrets echoed back, hooks that raise, the exact request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from signalyard.clock import FrozenClock, SystemClock
from signalyard.outcome import Delivered, Paused, Rejected, Retry, SendResult
from signalyard.sandbox.meta import SandboxState
from signalyard.sandbox.meta import create_app as create_sandbox
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.meta import MetaConfig, MetaSink
from signalyard.sinks.meta.payload import appsecret_proof
from tests.sinks import wire

from . import events

pytestmark = pytest.mark.anyio

TOKEN = "EAAGm0PX4ZCpsBAsupersecrettoken"
APP_SECRET = "0123456789abcdef0123456789abcdef"


def make_sink(
    handler: wire.Handler, clock: FrozenClock | None = None, **options: Any
) -> tuple[MetaSink, list[httpx.Request]]:
    config = MetaConfig(pixel_id="123456789012345", access_token=Secret(TOKEN), **options)
    client, seen = wire.recording(handler)
    return MetaSink(config, client, clock or FrozenClock()), seen


def ok(request: httpx.Request) -> httpx.Response:
    n = len(orjson.loads(request.content)["data"])
    return httpx.Response(200, json={"events_received": n, "messages": [], "fbtrace_id": "TR"})


def assert_no_secret(result: SendResult, sink: MetaSink) -> None:
    wire.assert_no_secret(TOKEN, result, sink, sink.config)
    wire.assert_no_secret(APP_SECRET, result, sink, sink.config)


def test_meta_sink_is_a_sink() -> None:
    sink, _ = make_sink(ok)
    assert isinstance(sink.kind, str)
    as_sink: Sink = sink
    assert (as_sink.kind, as_sink.max_batch, as_sink.max_age_seconds) == ("meta", 1000, 604800)


async def test_send_posts_the_body_to_the_events_url() -> None:
    sink, seen = make_sink(ok)
    result = await sink.send([events.minimal(), events.full()])
    assert result.outcomes == (Delivered(), Delivered())
    assert result.attempt.http_status == 200 and result.attempt.trace_id == "TR"
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://graph.facebook.com/v26.0/123456789012345/events"
    assert request.headers["content-type"] == "application/json"
    body = orjson.loads(request.content)
    assert body["access_token"] == TOKEN
    assert body["partner_agent"] == "signalyard"
    assert "appsecret_proof" not in body and "test_event_code" not in body
    assert [e["event_name"] for e in body["data"]] == ["PageView", "Purchase"]
    assert TOKEN not in str(request.url)
    assert_no_secret(result, sink)


async def test_path_prefix_app_secret_and_test_code() -> None:
    sink, seen = make_sink(
        ok,
        graph_url="http://127.0.0.1:8088/sandbox/meta",
        api_version="v25.0",
        app_secret=Secret(APP_SECRET),
        test_event_code="TEST111",
        partner_agent=None,
    )
    await sink.send([events.minimal()])
    await sink.send([events.minimal()], test_event_code="TEST222")
    first, second = seen
    assert str(first.url) == "http://127.0.0.1:8088/sandbox/meta/v25.0/123456789012345/events"
    body = orjson.loads(first.content)
    assert body["appsecret_proof"] == appsecret_proof(TOKEN, APP_SECRET)
    assert body["test_event_code"] == "TEST111"
    assert "partner_agent" not in body
    assert orjson.loads(second.content)["test_event_code"] == "TEST222"


async def test_timeout_is_passed_and_duration_measured() -> None:
    clock = FrozenClock()

    def slow(request: httpx.Request) -> httpx.Response:
        assert request.extensions["timeout"] == {
            "connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5,
        }  # fmt: skip
        clock.advance(0.25)
        return ok(request)

    sink, _ = make_sink(slow, clock, timeout_seconds=2.5)
    result = await sink.send([events.minimal()])
    assert result.attempt.duration_ms == pytest.approx(250.0)


def sandbox_sink(
    *faults: dict[str, Any], token: str = TOKEN, **options: Any
) -> tuple[MetaSink, SandboxState, FrozenClock]:
    """A sink whose requests go to the Meta sandbox app (in this process), which fails the
    way Meta does with the given faults (``signalyard.sandbox.meta.faults``)."""
    clock = FrozenClock()
    state = SandboxState(clock=clock)
    for fault in faults:
        state.faults.add(fault, clock.now())
    client = wire.in_process(create_sandbox(clock=clock, state=state))
    config = MetaConfig(
        pixel_id="123456789012345",
        access_token=Secret(token),
        graph_url="http://sandbox",
        **options,
    )
    return MetaSink(config, client, clock), state, clock


async def test_the_sandbox_accepts_what_the_sink_sends() -> None:
    sink, state, _ = sandbox_sink(app_secret=Secret(APP_SECRET))
    result = await sink.send([events.minimal(), events.full()])
    assert result.outcomes == (Delivered(), Delivered())
    (request,) = state.requests()
    assert (request.status, request.events) == (200, 2)
    assert result.attempt.trace_id == request.fbtrace_id
    assert [e.event_name for e in state.events()] == ["Purchase", "PageView"]


@pytest.mark.parametrize(
    ("fault", "code", "kind"),
    [
        ({"kind": "invalid_event", "event_ids": ["order-1001"]}, 100, Rejected),
        ({"kind": "expired_token", "token": TOKEN}, 190, Paused),
        ({"kind": "throttle", "code": 4}, 4, Retry),
        ({"kind": "throttle", "code": 613}, 613, Retry),
        ({"kind": "server_error", "status": 500}, 1, Retry),
        ({"kind": "server_error", "status": 503}, 2, Retry),
    ],
)
async def test_the_sandboxs_error_answers_apply_to_every_event(
    fault: dict[str, Any], code: int, kind: type
) -> None:
    sink, state, _ = sandbox_sink(fault)
    result = await sink.send([events.full(), events.minimal(), events.minimal()])
    (request,) = state.requests()
    assert len(result.outcomes) == 3 and len(set(result.outcomes)) == 1
    assert isinstance(result.outcomes[0], kind)
    assert result.attempt.http_status == request.status >= 400
    assert result.attempt.code == request.code == code
    assert result.attempt.subcode == request.subcode
    assert result.attempt.trace_id == request.fbtrace_id
    assert_no_secret(result, sink)


async def test_a_token_the_sandbox_cannot_parse_pauses() -> None:
    sink, state, _ = sandbox_sink(token="EAAB x")
    result = await sink.send([events.minimal()])
    (outcome,) = result.outcomes
    assert isinstance(outcome, Paused) and (outcome.code, outcome.subcode) == (190, 467)
    (request,) = state.requests()
    assert (result.attempt.http_status, request.status) == (401, 401)


async def test_the_sandboxs_throttling_says_when_to_come_back() -> None:
    sink, state, _ = sandbox_sink({"kind": "throttle", "code": 80004, "regain_minutes": 3})
    result = await sink.send([events.minimal()])
    (outcome,) = result.outcomes
    assert isinstance(outcome, Retry)
    assert (outcome.after, outcome.throttled) == (180.0, True)
    (request,) = state.requests()
    assert result.attempt.trace_id == request.fbtrace_id


async def test_the_sandboxs_timeout_is_a_retry(serve: Callable[[Any], str]) -> None:
    """Over a real socket: the sandbox records the events, then answers after the sink gave
    up; the sink's answer is a retry (the platform will deduplicate the resend)."""
    clock = FrozenClock()
    state = SandboxState(clock=clock)
    state.faults.add({"kind": "timeout", "delay": 1.0, "count": 1}, clock.now())
    url = serve(create_sandbox(clock=SystemClock(), state=state))
    config = MetaConfig(
        pixel_id="123456789012345", access_token=Secret(TOKEN), graph_url=url, timeout_seconds=0.2
    )
    async with httpx.AsyncClient() as client:
        sink = MetaSink(config, client, clock)
        result = await sink.send([events.full()])
        (outcome,) = result.outcomes
        assert isinstance(outcome, Retry) and not outcome.throttled
        assert "ReadTimeout" in (result.attempt.message or "")
        assert [e.event_id for e in state.events()] == ["order-1001"]  # it did arrive
        again = await sink.send([events.full()])
    assert again.outcomes == (Delivered(),)
    assert [e.dedup for e in state.events()] == ["deduplicated", "kept"]


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.WriteTimeout("timed out"),
        httpx.PoolTimeout("timed out"),
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ProxyError("proxy said no"),
        httpx.DecodingError("bad gzip"),
    ],
)
async def test_network_failures_are_retries(error: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    sink, _ = make_sink(fail)
    result = await sink.send([events.minimal(), events.minimal()])
    assert len(result.outcomes) == 2
    outcome = result.outcomes[0]
    assert isinstance(outcome, Retry) and not outcome.throttled and outcome.after is None
    assert result.attempt.http_status is None
    assert type(error).__name__ in (result.attempt.message or "")
    health = await sink.healthcheck()
    assert isinstance(health.outcomes[0], Retry)


async def test_connection_refused_for_real() -> None:
    """A real socket that nobody listens on: the transport's own error becomes a Retry."""
    config = MetaConfig(
        pixel_id="1", access_token=Secret(TOKEN), graph_url="http://127.0.0.1:9", timeout_seconds=2
    )
    async with httpx.AsyncClient() as client:
        sink = MetaSink(config, client, FrozenClock())
        result = await sink.send([events.minimal()])
        health = await sink.healthcheck()
    for outcome in (result.outcomes[0], health.outcomes[0]):
        assert isinstance(outcome, Retry)
    assert "ConnectError" in (result.attempt.message or "")
    assert_no_secret(result, sink)
    assert_no_secret(health, sink)


async def test_secrets_echoed_back_are_masked() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {
            "message": f"Malformed access token {TOKEN} with proof for {APP_SECRET}",
            "type": "OAuthException", "code": 190, "fbtrace_id": "X"}})  # fmt: skip

    sink, _ = make_sink(echo, app_secret=Secret(APP_SECRET))
    result = await sink.send([events.minimal()])
    assert isinstance(result.outcomes[0], Paused)
    assert "**********" in (result.attempt.message or "")
    assert_no_secret(result, sink)
    health = await sink.healthcheck()
    assert_no_secret(health, sink)


async def test_exception_text_with_the_token_is_masked() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    sink, _ = make_sink(fail)
    health = await sink.healthcheck()
    assert isinstance(health.outcomes[0], Retry)
    assert_no_secret(health, sink)


async def test_unsupported_scheme_pauses() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'htp://'.")

    sink, _ = make_sink(fail)
    result = await sink.send([events.minimal()])
    assert isinstance(result.outcomes[0], Paused)


async def test_raise_for_status_hooks_are_tolerated() -> None:
    async def raise_for_status(response: httpx.Response) -> None:
        await response.aread()
        response.raise_for_status()

    config = MetaConfig(pixel_id="1", access_token=Secret(TOKEN))
    transport = httpx.MockTransport(lambda request: httpx.Response(503, text="busy"))
    async with httpx.AsyncClient(
        transport=transport, event_hooks={"response": [raise_for_status]}
    ) as client:
        result = await MetaSink(config, client, FrozenClock()).send([events.minimal()])
    assert isinstance(result.outcomes[0], Retry) and result.attempt.http_status == 503


async def test_unencodable_event_is_rejected_without_a_request() -> None:
    sink, seen = make_sink(ok)
    bad = events.minimal() | {"custom_data": {"value": {1, 2}}}
    result = await sink.send([bad])
    assert seen == []
    assert isinstance(result.outcomes[0], Rejected)


async def test_empty_and_oversized_batches() -> None:
    sink, seen = make_sink(ok)
    assert (await sink.send([])).outcomes == ()
    with pytest.raises(ValueError, match="1000"):
        await sink.send([events.minimal()] * 1001)
    assert seen == []


async def test_healthcheck_gets_the_dataset() -> None:
    def dataset(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "123456789012345"})

    sink, seen = make_sink(
        dataset, graph_url="http://sandbox.local/sandbox/meta/", app_secret=Secret(APP_SECRET)
    )
    result = await sink.healthcheck()
    assert result.outcomes == (Delivered(),)
    (request,) = seen
    assert request.method == "GET"
    assert (
        request.url.copy_with(query=None)
        == "http://sandbox.local/sandbox/meta/v26.0/123456789012345"
    )
    assert dict(request.url.params) == {
        "fields": "id",
        "access_token": TOKEN,
        "appsecret_proof": appsecret_proof(TOKEN, APP_SECRET),
    }
    assert request.content == b""


async def test_healthcheck_pauses_on_an_expired_token() -> None:
    # Hand-typed: the sandbox's dataset object leaves injected faults to the events edge.
    def expired(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {
            "message": "Error validating access token: Session has expired.",
            "type": "OAuthException", "code": 190, "error_subcode": 463,
            "fbtrace_id": "EXP"}})  # fmt: skip

    sink, _ = make_sink(expired)
    result = await sink.healthcheck()
    (outcome,) = result.outcomes
    assert isinstance(outcome, Paused) and outcome.subcode == 463
    assert "set-token" in outcome.fix
    assert result.attempt.trace_id == "EXP"
    assert_no_secret(result, sink)


async def test_no_partial_secret_survives_the_cut() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        text = "x" * 280 + TOKEN
        return httpx.Response(400, json={"error": {"message": text, "code": 100}})

    sink, _ = make_sink(echo)
    result = await sink.send([events.minimal()])
    assert isinstance(result.outcomes[0], Rejected)
    for text in (result.attempt.message or "", result.outcomes[0].reason):
        assert TOKEN[:8] not in text


@pytest.mark.parametrize("app_secret", [None, "not-the-app-secret"])
async def test_an_app_that_requires_a_secret_proof_pauses_the_destination(
    app_secret: str | None,
) -> None:
    """Meta's answer to a missing or wrong appsecret_proof (code 100, no subcode) is about the
    request's credentials: the destination pauses with the fix, the events stay queued (it
    was a Rejected once, and every event of a batch was dead-lettered one by one)."""
    clock = FrozenClock()
    state = SandboxState(clock=clock)
    app = create_sandbox(clock=clock, state=state, app_secret=APP_SECRET)
    config = MetaConfig(
        pixel_id="123456789012345",
        access_token=Secret(TOKEN),
        graph_url="http://sandbox",
        app_secret=Secret(app_secret) if app_secret else None,
    )
    sink = MetaSink(config, httpx.AsyncClient(transport=httpx.ASGITransport(app=app)), clock)
    result = await sink.send([events.minimal(), events.full()])
    assert all(isinstance(o, Paused) for o in result.outcomes), result
    paused = result.outcomes[0]
    assert isinstance(paused, Paused) and paused.code == 100
    assert "appsecret_proof" in paused.reason
    assert "set-secret" in paused.fix and "app_secret" in paused.fix
    assert state.events() == []
