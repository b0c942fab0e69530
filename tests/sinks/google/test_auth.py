"""Access tokens from the Google sandbox's ``/token``, for both kinds of credential: cached,
fetched again before they expire (on the injected clock), and what a refused credential or
an unreachable token endpoint does to a send."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.outcome import Paused, Retry
from signalyard.sandbox.google import SandboxState
from signalyard.secret import Secret
from signalyard.sinks.google.auth import REFRESH_EARLY, TokenProblem, TokenSource

from .conftest import REFRESH_TOKEN, SA_EMAIL, make_config, user_secrets

pytestmark = pytest.mark.anyio


def token_requests(sandbox: SandboxState) -> list[int]:
    return [r.status for r in sandbox.requests() if r.route == "token"]


def source(
    client: httpx.AsyncClient, clock: FrozenClock, secrets: dict[str, Secret]
) -> TokenSource:
    config = make_config(secrets)
    return TokenSource(
        config.credential,
        token_endpoint=config.token_endpoint,
        client=client,
        clock=clock,
        timeout=5.0,
    )


@pytest.mark.parametrize("kind", ["user", "service_account"])
async def test_cached_then_refreshed_before_expiry(
    kind: str,
    client: httpx.AsyncClient,
    clock: FrozenClock,
    sandbox: SandboxState,
    key_file: str,
) -> None:
    secrets = user_secrets() if kind == "user" else {"service_account_key": Secret(key_file)}
    tokens = source(client, clock, secrets)
    first = await tokens.get()
    assert first.startswith("ya29.")
    assert await tokens.get() == first
    assert token_requests(sandbox) == [200]
    lifetime = sandbox.token_lifetime
    clock.advance(lifetime - REFRESH_EARLY - 1)  # still more than 5 minutes left
    assert await tokens.get() == first
    assert token_requests(sandbox) == [200]
    clock.advance(2)  # under 5 minutes left: replaced before it expires
    second = await tokens.get()
    assert second != first
    assert token_requests(sandbox) == [200, 200]
    issued = sandbox.tokens.lookup(second)
    assert issued is not None and issued.grant.endswith(
        "jwt-bearer" if kind == "service_account" else "refresh_token"
    )


async def test_one_fetch_for_concurrent_sends(
    client: httpx.AsyncClient, clock: FrozenClock, sandbox: SandboxState
) -> None:
    import asyncio

    tokens = source(client, clock, user_secrets())
    got = await asyncio.gather(*(tokens.get() for _ in range(5)))
    assert len(set(got)) == 1
    assert token_requests(sandbox) == [200]


async def test_a_revoked_refresh_token_pauses_with_the_fix(
    client: httpx.AsyncClient, clock: FrozenClock, sandbox: SandboxState
) -> None:
    sandbox.faults.add({"kind": "expired_credential", "refresh_token": REFRESH_TOKEN}, clock.now())
    with pytest.raises(TokenProblem) as caught:
        await source(client, clock, user_secrets()).get()
    outcome = caught.value.outcome
    assert isinstance(outcome, Paused)
    assert "invalid_grant" in outcome.reason and "expired or revoked" in outcome.reason
    assert "signalyard destinations set-secret <destination> refresh_token" in outcome.fix
    assert REFRESH_TOKEN not in outcome.reason + outcome.fix


async def test_a_revoked_service_account_pauses_with_the_fix(
    client: httpx.AsyncClient, clock: FrozenClock, sandbox: SandboxState, key_file: str
) -> None:
    sandbox.faults.add({"kind": "expired_credential", "client_email": SA_EMAIL}, clock.now())
    with pytest.raises(TokenProblem) as caught:
        await source(client, clock, {"service_account_key": Secret(key_file)}).get()
    outcome = caught.value.outcome
    assert isinstance(outcome, Paused)
    assert "set-secret <destination> service_account_key" in outcome.fix


async def test_a_wrong_client_secret_pauses(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    secrets = {**user_secrets(), "client_secret": Secret("GOCSPX-wrong")}
    with pytest.raises(TokenProblem) as caught:
        await source(client, clock, secrets).get()
    assert isinstance(caught.value.outcome, Paused)
    assert "invalid_client" in caught.value.outcome.reason


def _failing(respond: httpx.Response | Exception) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(respond, Exception):
            raise respond
        return respond

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    "respond",
    [
        httpx.Response(503, text="unavailable"),
        httpx.Response(500, json={"error": "internal_failure"}),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
    ],
)
async def test_an_unreachable_token_endpoint_is_retried(
    respond: httpx.Response | Exception, clock: FrozenClock
) -> None:
    with pytest.raises(TokenProblem) as caught:
        await source(_failing(respond), clock, user_secrets()).get()
    assert isinstance(caught.value.outcome, Retry)
