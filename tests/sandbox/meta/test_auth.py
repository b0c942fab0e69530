"""Access token and appsecret_proof checks (reference §1.1, §1.6, §11.2-3)."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.meta import SandboxState, create_app

from .factory import EVENTS_PATH, TOKEN, body, event

pytestmark = pytest.mark.anyio

ERROR_KEYS = {
    "message",
    "type",
    "code",
    "error_subcode",
    "is_transient",
    "error_user_title",
    "error_user_msg",
    "fbtrace_id",
}


def graph_error(
    r: httpx.Response, status: int, code: int, subcode: int | None
) -> dict[str, object]:
    assert r.status_code == status, r.text
    err: dict[str, object] = r.json()["error"]
    assert set(err) == ERROR_KEYS
    assert err["code"] == code
    assert err["error_subcode"] == subcode
    assert err["type"] == "OAuthException"
    assert err["fbtrace_id"] == r.headers["x-fb-trace-id"]
    return err


async def test_missing_token(client: httpx.AsyncClient, state: SandboxState) -> None:
    r = await client.post(EVENTS_PATH, json={"data": [event()]})
    err = graph_error(r, 400, 104, None)
    assert err["message"] == "An access token is required to request this resource."
    assert err["is_transient"] is False
    assert state.events() == []


@pytest.mark.parametrize("token", ["", "   ", "short", "has space in the middle"])
async def test_malformed_token(client: httpx.AsyncClient, token: str) -> None:
    r = await client.post(EVENTS_PATH, json=body(event(), access_token=token))
    err = graph_error(r, 401, 190, 467)
    assert err["message"] == "Invalid OAuth access token - Cannot parse access token"


async def test_malformed_bearer(client: httpx.AsyncClient) -> None:
    r = await client.post(
        EVENTS_PATH, json={"data": [event()]}, headers={"Authorization": "Bearer abc"}
    )
    graph_error(r, 401, 190, 467)


def proof(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
async def secured(clock: FrozenClock, state: SandboxState) -> httpx.AsyncClient:
    app = create_app(clock=clock, state=state, app_secret="s3cret")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


async def test_appsecret_proof_required_and_checked(secured: httpx.AsyncClient) -> None:
    async with secured as c:
        ok = await c.post(EVENTS_PATH, json=body(event(), appsecret_proof=proof("s3cret", TOKEN)))
        assert ok.status_code == 200

        missing = await c.post(EVENTS_PATH, json=body(event("b")))
        err = graph_error(missing, 400, 100, None)
        assert "appsecret_proof" in str(err["message"])

        wrong = await c.post(
            EVENTS_PATH, json=body(event("c"), appsecret_proof=proof("other", TOKEN))
        )
        err = graph_error(wrong, 400, 100, None)
        assert err["message"] == "Invalid appsecret_proof provided in the API argument"

        in_query = await c.post(
            EVENTS_PATH,
            params={"access_token": TOKEN, "appsecret_proof": proof("s3cret", TOKEN)},
            data={
                "data": '[{"event_name": "Lead", "event_time": 1799999990, '
                '"action_source": "email", "user_data": {"external_id": "42"}}]'
            },
        )
        assert in_query.status_code == 200, in_query.text
