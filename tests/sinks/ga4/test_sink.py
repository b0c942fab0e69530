"""The GA4 sink on the wire. Against the GA4 sandbox in process for what GA4 answers (204,
the validation server's messages, its faults); over ``httpx.MockTransport`` for what the
sandbox cannot do: transport failures, a secret echoed back, the exact request."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.outcome import Delivered, Paused, Rejected, Retry
from signalyard.sandbox.ga4 import SandboxState, create_app
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.ga4 import GA4Config, GA4Sink
from signalyard.sinks.ga4.sink import CHECK_EVENT, NO_CLIENT_ID, random_client_id
from tests.sinks import wire

from . import events

pytestmark = pytest.mark.anyio

SECRET = "ga4SuperSecretApiKey_0123"


def against_sandbox(clock: FrozenClock, **options: Any) -> tuple[GA4Sink, SandboxState]:
    state = SandboxState(clock=clock)
    client = wire.in_process(create_app(clock=clock, state=state))
    config = GA4Config(
        measurement_id=events.MEASUREMENT_ID,
        api_secret=Secret(SECRET),
        api_url="http://sandbox",
        **options,
    )
    return GA4Sink(config, client, clock), state


def mocked(handler: wire.Handler, **options: Any) -> tuple[GA4Sink, list[httpx.Request]]:
    config = GA4Config(measurement_id=events.MEASUREMENT_ID, api_secret=Secret(SECRET), **options)
    client, seen = wire.recording(handler)
    return GA4Sink(config, client, FrozenClock(events.NOW)), seen


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(events.NOW)


def test_it_keeps_the_sink_contract(clock: FrozenClock) -> None:
    made, _ = against_sandbox(clock)
    sink: Sink = made  # checked by mypy against the protocol
    assert (sink.kind, sink.max_batch, sink.per_event) == ("ga4", 25, True)
    assert SECRET not in repr(made) and SECRET not in repr(made.config)


async def test_an_event_is_validated_then_collected(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    result = await sink.send([events.full()])
    assert result.outcomes == (Delivered(),)
    assert result.attempt.http_status == 204
    assert [r.endpoint for r in reversed(state.requests())] == ["debug", "collect"]
    (recorded,) = state.events()
    assert recorded.accepted and recorded.event_name == "purchase"
    assert recorded.event_id == "evt-1001" and recorded.measurement_id == events.MEASUREMENT_ID
    assert recorded.event["client_id"] == events.CLIENT_ID
    assert all(r.secret_sha256_prefix for r in state.requests(endpoint="collect"))


async def test_without_prevalidate_one_request(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock, prevalidate=False)
    assert (await sink.send([events.minimal()])).outcomes == (Delivered(),)
    assert [r.endpoint for r in state.requests()] == ["collect"]


async def test_validate_only_never_reaches_collect(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock, validate_only=True)
    result = await sink.send([events.full()])
    assert result.outcomes == (Delivered(),) and result.attempt.http_status == 200
    assert [r.endpoint for r in state.requests()] == ["debug"]
    assert state.events() == []


async def test_an_event_without_client_id_gets_one_of_its_own(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    sink.new_client_id = lambda seconds: f"42.{seconds}"
    event = events.full()
    del event["_browser_ids"]
    assert (await sink.send([event])).outcomes == (Delivered(),)
    (recorded,) = state.events()
    assert recorded.event["client_id"] == f"42.{events.EVENT_TIME}"


def test_the_random_client_id_has_ga_s_form() -> None:
    made = {random_client_id(1700000000) for _ in range(50)}
    assert len(made) > 45
    for client_id in made:
        first, second = client_id.split(".")
        assert first.isdigit() and len(first) == 10 and second == "1700000000"


async def test_an_event_without_client_id_is_rejected_when_asked(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock, missing_client_id="reject")
    event = events.full()
    event["_browser_ids"] = {"ga": "not-a-ga-cookie"}
    result = await sink.send([event])
    (outcome,) = result.outcomes
    assert isinstance(outcome, Rejected) and "no client_id" in outcome.reason
    assert "install the browser script with the Google tag" in NO_CLIENT_ID
    assert result.attempt.http_status is None and state.requests() == []


async def test_an_event_breaking_a_rule_is_rejected_without_a_request(
    clock: FrozenClock,
) -> None:
    sink, state = against_sandbox(clock)
    for name, code in (("session_start", "NAME_RESERVED"), ("google_x", "NAME_RESERVED")):
        event = {**events.minimal(), "event_name": name}
        (outcome,) = (await sink.send([event])).outcomes
        assert isinstance(outcome, Rejected) and code in outcome.reason
        assert "GA4 would drop it silently" in outcome.reason
    event = events.full()
    event["custom_data"]["order_id"] = "o" * 101
    (outcome,) = (await sink.send([event])).outcomes
    assert isinstance(outcome, Rejected) and "transaction_id" in outcome.reason
    assert state.requests() == []


async def test_a_body_over_130_kb_is_rejected(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    event = events.full()
    event["custom_data"]["contents"] = [
        {"id": f"sku-{i}", "title": "t" * 100, "quantity": 1} for i in range(1200)
    ]
    (outcome,) = (await sink.send([event])).outcomes
    assert isinstance(outcome, Rejected) and "133120" in outcome.reason
    assert state.requests() == []


async def test_what_the_validation_server_refuses_is_rejected_and_not_collected(
    clock: FrozenClock,
) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "invalid_event", "event_ids": ["evt-1001"]}, clock.now())
    result = await sink.send([events.full()])
    (outcome,) = result.outcomes
    assert isinstance(outcome, Rejected)
    assert "VALUE_INVALID" in outcome.reason and "Event at index: [0]" in outcome.reason
    assert [r.endpoint for r in state.requests()] == ["debug"] and state.events() == []


async def test_server_errors_and_throttling_retry(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "server_error", "status": 503, "count": 1}, clock.now())
    (outcome,) = (await sink.send([events.full()])).outcomes
    assert isinstance(outcome, Retry) and not outcome.throttled
    state.faults.add({"kind": "throttle", "retry_after": 45, "count": 1}, clock.now())
    (outcome,) = (await sink.send([events.full()])).outcomes
    assert isinstance(outcome, Retry) and outcome.throttled and outcome.after == 45
    state.faults.add({"kind": "server_error", "endpoint": "collect", "count": 1}, clock.now())
    (outcome,) = (await sink.send([events.full()])).outcomes
    assert isinstance(outcome, Retry)  # validated, then collect failed: sent again whole
    assert (await sink.send([events.full()])).outcomes == (Delivered(),)


async def test_a_proxy_refusing_the_credential_pauses(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "proxy_denied", "status": 401}, clock.now())
    (outcome,) = (await sink.send([events.full()])).outcomes
    assert isinstance(outcome, Paused) and outcome.code == 401
    assert "set-secret <destination> api_secret" in outcome.fix


async def test_a_revoked_secret_cannot_be_heard(clock: FrozenClock) -> None:
    """GA4's own behaviour: 204, and the events are dropped. The sink reports Delivered:
    no sender can tell (docs/destinations/ga4.md says how to watch for it)."""
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "revoked_secret"}, clock.now())
    assert (await sink.send([events.full()])).outcomes == (Delivered(),)
    (recorded,) = state.events()
    assert recorded.status == "dropped" and "api_secret" in (recorded.error or "")


async def test_healthcheck_uses_the_validation_server_only(clock: FrozenClock) -> None:
    sink, state = against_sandbox(clock)
    result = await sink.healthcheck()
    assert result.outcomes == (Delivered(),) and result.attempt.http_status == 200
    assert [r.endpoint for r in state.requests()] == ["debug"] and state.events() == []
    summary = state.summary()["streams"][events.MEASUREMENT_ID]
    assert summary["events"][CHECK_EVENT]["validated"] == 1


async def test_healthcheck_with_a_wrong_measurement_id_pauses(clock: FrozenClock) -> None:
    sink, _ = against_sandbox(clock)
    sink.config = GA4Config(
        measurement_id="UA-1", api_secret=Secret(SECRET), api_url="http://sandbox"
    )
    (outcome,) = (await sink.healthcheck()).outcomes
    assert isinstance(outcome, Paused) and "measurement_id" in outcome.reason


async def test_the_request_on_the_wire() -> None:
    sink, seen = mocked(lambda r: httpx.Response(204), prevalidate=False)
    await sink.send([events.full()])
    (request,) = seen
    assert request.url.path == "/mp/collect"
    assert request.url.host == "www.google-analytics.com"
    assert dict(request.url.params) == {
        "measurement_id": events.MEASUREMENT_ID,
        "api_secret": SECRET,
    }
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content)["events"][0]["name"] == "purchase"


async def test_the_secret_is_masked_in_every_message() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    sink, _ = mocked(fail)
    result = await sink.send([events.full()])
    (outcome,) = result.outcomes
    assert isinstance(outcome, Retry)
    assert SECRET not in outcome.reason and SECRET not in (result.attempt.message or "")
    assert "**********" in outcome.reason

    echo = f"<html>denied for api_secret={SECRET}</html>".encode()
    sink, _ = mocked(lambda r: httpx.Response(403, content=echo))
    result = await sink.send([events.full()])
    (outcome,) = result.outcomes
    assert isinstance(outcome, Paused) and SECRET not in outcome.reason
    assert SECRET not in (result.attempt.message or "")


async def test_timeouts_retry_and_bad_urls_pause() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    sink, _ = mocked(slow)
    (outcome,) = (await sink.send([events.full()])).outcomes
    assert isinstance(outcome, Retry) and "within 10s" in outcome.reason

    def bad(request: httpx.Request) -> httpx.Response:
        raise httpx.UnsupportedProtocol("no", request=request)

    sink, _ = mocked(bad)
    (outcome,) = (await sink.send([events.full()])).outcomes
    assert isinstance(outcome, Paused) and "api_url" in outcome.fix


async def test_batch_limits() -> None:
    sink, seen = mocked(lambda r: httpx.Response(204))
    result = await sink.send([])
    assert result.outcomes == () and seen == []
    with pytest.raises(ValueError, match="at most 25"):
        await sink.send([events.full()] * 26)


async def test_each_event_of_a_batch_has_its_own_request_and_outcome(
    clock: FrozenClock,
) -> None:
    sink, state = against_sandbox(clock)
    reserved = {**events.minimal(), "event_name": "session_start", "event_id": "bad"}
    other = {**events.minimal(), "event_id": "pv-2", "_browser_ids": {"ga": "GA1.1.77.88"}}
    result = await sink.send([events.full(), reserved, other])
    first, second, third = result.outcomes
    assert first == third == Delivered()
    assert isinstance(second, Rejected) and second.code == 400
    assert "NAME_RESERVED" in second.reason
    assert len(state.requests(endpoint="collect")) == 2
    assert len(state.requests(endpoint="debug")) == 2
    sent = {e.event_id: e.event["client_id"] for e in state.events()}
    assert sent == {"evt-1001": events.CLIENT_ID, "pv-2": "77.88"}  # each its own client
    assert "2 request(s), one per event" in (result.attempt.message or "")


async def test_after_a_retry_or_a_pause_the_rest_of_the_batch_is_not_sent(
    clock: FrozenClock,
) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "proxy_denied", "count": 1}, clock.now())
    result = await sink.send([events.full(), events.minimal()])
    first, second = result.outcomes
    assert isinstance(first, Paused) and second == first
    assert len(state.requests()) == 1
    state.faults.add({"kind": "throttle", "count": 1}, clock.now())
    result = await sink.send([events.full(), events.minimal()])
    assert all(isinstance(o, Retry) and o.throttled for o in result.outcomes)
    assert result.attempt.http_status == 429


async def test_what_the_validation_server_refuses_in_a_batch_is_rejected_alone(
    clock: FrozenClock,
) -> None:
    sink, state = against_sandbox(clock)
    state.faults.add({"kind": "invalid_event", "event_ids": ["pv-1"]}, clock.now())
    result = await sink.send([events.minimal(), events.full()])
    bad, good = result.outcomes
    assert isinstance(bad, Rejected) and bad.code == 400 and good == Delivered()
    assert [e.event_id for e in state.events()] == ["evt-1001"]


def test_build_refuses_another_config() -> None:
    with pytest.raises(TypeError):
        GA4Sink.build(object(), httpx.AsyncClient(), FrozenClock())


async def test_a_batchs_requests_are_in_flight_together() -> None:
    """One request per event, but not one after the other: up to IN_FLIGHT at once (a batch
    of 25 one at a time took 50 round trips with the validation server)."""
    from signalyard.sinks.ga4.sink import IN_FLIGHT

    in_flight = most = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await anyio.sleep(0.01)
        in_flight -= 1
        if request.url.path.startswith("/debug/"):
            return httpx.Response(200, json={"validationMessages": []})
        return httpx.Response(204)

    config = GA4Config(measurement_id=events.MEASUREMENT_ID, api_secret=Secret(SECRET))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        sink = GA4Sink(config, client, FrozenClock(events.NOW))
        batch = [{**events.full(), "event_id": f"e-{i}"} for i in range(25)]
        result = await sink.send(batch)
    assert result.outcomes == (Delivered(),) * 25
    assert most == IN_FLIGHT
