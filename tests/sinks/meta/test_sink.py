"""The Meta sink on the wire, over ``httpx.MockTransport`` (no network)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.outcome import Delivered, Paused, Rejected, Retry, SendResult
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.meta import MetaConfig, MetaSink
from signalyard.sinks.meta.payload import appsecret_proof

from . import events

pytestmark = pytest.mark.anyio

TOKEN = "EAAGm0PX4ZCpsBAsupersecrettoken"
APP_SECRET = "0123456789abcdef0123456789abcdef"
Handler = Callable[[httpx.Request], httpx.Response]


def make_sink(
    handler: Handler, clock: FrozenClock | None = None, **options: Any
) -> tuple[MetaSink, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    config = MetaConfig(pixel_id="123456789012345", access_token=Secret(TOKEN), **options)
    client = httpx.AsyncClient(transport=httpx.MockTransport(record))
    return MetaSink(config, client, clock or FrozenClock()), seen


def ok(request: httpx.Request) -> httpx.Response:
    n = len(orjson.loads(request.content)["data"])
    return httpx.Response(200, json={"events_received": n, "messages": [], "fbtrace_id": "TR"})


def assert_no_secret(result: SendResult, sink: MetaSink) -> None:
    texts = [repr(result), str(result), repr(sink), str(sink), repr(sink.config)]
    for text in texts:
        assert TOKEN not in text and APP_SECRET not in text


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


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                         "error_subcode": 2804003, "is_transient": False,
                         "error_user_title": "Event Timestamp Too Old",
                         "error_user_msg": "The timestamp for this event is too far in the past.",
                         "fbtrace_id": "AbC"}}, Rejected),
        (401, {"error": {"message": "Invalid OAuth access token - Cannot parse access token",
                         "type": "OAuthException", "code": 190, "fbtrace_id": "AbC"}}, Paused),
        (400, {"error": {"message": "(#4) Application request limit reached",
                         "type": "OAuthException", "code": 4, "is_transient": True,
                         "fbtrace_id": "AbC"}}, Retry),
        (500, {"error": {"message": "An unknown error occurred", "type": "OAuthException",
                         "code": 1, "is_transient": True, "fbtrace_id": "AbC"}}, Retry),
    ],
)  # fmt: skip
async def test_error_answers_apply_to_every_event(
    status: int, body: dict[str, Any], kind: type
) -> None:
    sink, _ = make_sink(lambda request: httpx.Response(status, json=body))
    result = await sink.send([events.minimal()] * 3)
    assert len(result.outcomes) == 3 and len(set(result.outcomes)) == 1
    assert isinstance(result.outcomes[0], kind)
    assert result.attempt.http_status == status
    assert result.attempt.code == body["error"]["code"]
    assert result.attempt.trace_id == "AbC"
    assert_no_secret(result, sink)


async def test_throttled_answer() -> None:
    usage = '{"123":[{"type":"ads_management","estimated_time_to_regain_access":3}]}'

    def throttled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            headers={"X-Business-Use-Case-Usage": usage, "x-fb-trace-id": "HDR"},
            json={"error": {"message": "User request limit reached", "type": "OAuthException",
                            "code": 17, "error_subcode": 2446079, "is_transient": True}},
        )  # fmt: skip

    sink, _ = make_sink(throttled)
    result = await sink.send([events.minimal()])
    (outcome,) = result.outcomes
    assert isinstance(outcome, Retry)
    assert (outcome.after, outcome.throttled) == (180.0, True)
    assert result.attempt.trace_id == "HDR"


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
