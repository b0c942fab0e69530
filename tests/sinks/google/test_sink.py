"""The Google sink against the Google sandbox (its token endpoint, its validator, its error
bodies), and the cases the sandbox cannot make, with a scripted transport."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.outcome import Delivered, Paused, Rejected, Retry
from signalyard.sandbox.google import SandboxState
from signalyard.secret import Secret
from signalyard.sinks.google import GoogleSink
from signalyard.sinks.google.sink import HEALTHCHECK_TRANSACTION
from tests.sinks import wire

from . import events
from .conftest import CLIENT_SECRET, REFRESH_TOKEN, make_config, make_sink, user_secrets

pytestmark = pytest.mark.anyio


def batch(n: int) -> list[dict[str, Any]]:
    return wire.numbered(events.full, n, prefix="order-")


@pytest.mark.parametrize("kind", ["user", "service_account"])
async def test_delivers_a_batch(
    kind: str, client: httpx.AsyncClient, clock: FrozenClock, sandbox: SandboxState, key_file: str
) -> None:
    secrets = user_secrets() if kind == "user" else {"service_account_key": Secret(key_file)}
    sink = make_sink(client, clock, secrets)
    result = await sink.send(batch(3))
    assert result.outcomes == (Delivered(),) * 3
    assert result.attempt.http_status == 200 and result.attempt.trace_id
    recorded = sandbox.events(conversion_action="987654321")
    assert sorted(str(e.transaction_id) for e in recorded) == ["order-0", "order-1", "order-2"]
    assert {e.status for e in recorded} == {"kept"}
    assert recorded[0].event["userData"]["userIdentifiers"][0] == {
        "emailAddress": events.EM_GMAIL_GOOGLE
    }


async def test_a_refused_access_token_is_replaced_once(
    client: httpx.AsyncClient, clock: FrozenClock, sandbox: SandboxState
) -> None:
    sink = make_sink(client, clock, user_secrets())
    assert (await sink.send(batch(1))).outcomes == (Delivered(),)
    sandbox.tokens.clear()  # Google forgot the token (revoked, rotated)
    result = await sink.send(batch(1))
    assert result.outcomes == (Delivered(),)
    statuses = [(r.route, r.status) for r in reversed(sandbox.requests())]
    assert statuses == [
        ("token", 200),
        ("ingest", 200),
        ("ingest", 401),
        ("token", 200),
        ("ingest", 200),
    ]


async def test_a_revoked_credential_pauses_without_sending(
    client: httpx.AsyncClient, clock: FrozenClock, sandbox: SandboxState
) -> None:
    sandbox.faults.add({"kind": "expired_credential", "refresh_token": REFRESH_TOKEN}, clock.now())
    sink = make_sink(client, clock, user_secrets())
    result = await sink.send(batch(2))
    assert all(isinstance(o, Paused) for o in result.outcomes)
    paused = result.outcomes[0]
    assert isinstance(paused, Paused)
    assert "set-secret <destination> refresh_token" in paused.fix
    assert result.attempt.http_status == 400
    assert not [r for r in sandbox.requests() if r.route == "ingest"]
    text = repr(result)
    assert REFRESH_TOKEN not in text and CLIENT_SECRET not in text


async def test_a_401_that_persists_pauses(clock: FrozenClock) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "ya29.x", "expires_in": 3599})
        return httpx.Response(
            401,
            json={"error": {"code": 401, "message": "invalid", "status": "UNAUTHENTICATED"}},
        )

    sink = GoogleSink(
        make_config(user_secrets()),
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        clock,
    )
    result = await sink.send(batch(1))
    assert isinstance(result.outcomes[0], Paused)
    assert [p.rsplit("/", 1)[-1] for p in seen] == ["token", "events:ingest"] * 2


async def test_an_event_without_identifiers_is_refused_before_sending(
    client: httpx.AsyncClient, clock: FrozenClock, sandbox: SandboxState
) -> None:
    lonely = events.minimal()
    del lonely["_click_ids"]
    sink = make_sink(client, clock, user_secrets())
    result = await sink.send([*batch(2), lonely])
    assert all(isinstance(o, Rejected) for o in result.outcomes)
    assert "events[2]" in result.outcomes[0].reason  # type: ignore[union-attr]
    assert result.attempt.http_status is None
    assert not sandbox.requests()


async def test_throttled_and_server_errors(
    client: httpx.AsyncClient, clock: FrozenClock, sandbox: SandboxState
) -> None:
    sink = make_sink(client, clock, user_secrets())
    sandbox.faults.add({"kind": "throttle", "retry_after": 30, "count": 1}, clock.now())
    (throttled,) = (await sink.send(batch(1))).outcomes
    assert isinstance(throttled, Retry) and throttled.throttled and throttled.after == 30
    sandbox.faults.add({"kind": "server_error", "status": 503, "count": 1}, clock.now())
    (retry,) = (await sink.send(batch(1))).outcomes
    assert isinstance(retry, Retry) and not retry.throttled
    assert (await sink.send(batch(1))).outcomes == (Delivered(),)


async def test_healthcheck_validates_only(
    client: httpx.AsyncClient, clock: FrozenClock, sandbox: SandboxState
) -> None:
    sink = make_sink(client, clock, user_secrets())
    result = await sink.healthcheck()
    assert result.outcomes == (Delivered(),)
    assert sandbox.events() == []  # validateOnly: nothing recorded
    (request,) = [r for r in sandbox.requests() if r.route == "ingest"]
    assert request.validate_only and request.status == 200
    assert sandbox.summary()["conversion_actions"]["987654321"]["validated_only"] == 1


async def test_healthcheck_reports_a_wrong_destination(
    client: httpx.AsyncClient, clock: FrozenClock, sandbox: SandboxState
) -> None:
    sandbox.faults.add(
        {"kind": "invalid_event", "transaction_ids": [HEALTHCHECK_TRANSACTION]}, clock.now()
    )
    (outcome,) = (await make_sink(client, clock, user_secrets()).healthcheck()).outcomes
    assert isinstance(outcome, Rejected) and "INVALID_EVENT" in outcome.reason


async def test_validate_only_option_records_nothing(
    client: httpx.AsyncClient, clock: FrozenClock, sandbox: SandboxState
) -> None:
    sink = make_sink(client, clock, user_secrets(), validate_only=True)
    assert (await sink.send(batch(2))).outcomes == (Delivered(),) * 2
    assert sandbox.events() == []


async def test_the_request_carries_the_bearer_token(clock: FrozenClock) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "ya29.abc", "expires_in": 3599})
        return httpx.Response(200, json={"requestId": "r1"})

    sink = GoogleSink(
        make_config(user_secrets(), login_account_id="5550001111"),
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        clock,
    )
    await sink.send(batch(1))
    token_request, ingest = sent
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert ingest.headers["authorization"] == "Bearer ya29.abc"
    body = orjson.loads(ingest.content)
    assert body["destinations"][0]["loginAccount"]["accountId"] == "5550001111"
    assert len(await_free(sink)) == 0


def await_free(sink: GoogleSink) -> list[str]:
    """Nothing secret in the sink's repr."""
    return [s for s in (CLIENT_SECRET, REFRESH_TOKEN) if s in repr(sink)]
