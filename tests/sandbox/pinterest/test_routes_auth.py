"""The route, the bearer token and the ad account id, as Pinterest checks them."""

from __future__ import annotations

import httpx
import pytest

from signalyard.sandbox.pinterest import SandboxState

from .factory import ACCOUNT, EVENTS, HEADERS, TOKEN, body

pytestmark = pytest.mark.anyio


async def test_a_good_request_is_answered_per_event(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    response = await client.post(EVENTS, json=body(), headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["x-request-id"]
    assert response.json() == {
        "num_events_received": 1,
        "num_events_processed": 1,
        "events": [{"status": "processed", "error_message": None, "warning_message": None}],
    }
    (request,) = state.requests()
    assert request.ad_account_id == ACCOUNT and request.processed == 1
    assert request.token_sha256_prefix and TOKEN not in str(request.to_json())


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer short"}, {"Authorization": f"Basic {TOKEN}"}],
)
async def test_no_usable_token_is_401(
    client: httpx.AsyncClient, state: SandboxState, headers: dict[str, str]
) -> None:
    response = await client.post(EVENTS, json=body(), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": 2, "message": "Authentication failed."}
    assert state.events() == []


async def test_an_ad_account_that_is_not_digits_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/v5/ad_accounts/act_1/events", json=body(), headers=HEADERS)
    assert response.status_code == 404 and response.json()["code"] == 404


async def test_an_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v5/ad_accounts", headers=HEADERS)
    assert response.status_code == 404


async def test_test_true_answers_the_same_and_marks_the_events(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    response = await client.post(EVENTS + "?test=true", json=body(), headers=HEADERS)
    assert response.status_code == 200 and response.json()["num_events_processed"] == 1
    (recorded,) = state.events()
    assert recorded.test and recorded.dedup is None
    assert state.summary()["ad_accounts"][ACCOUNT]["events"]["checkout"]["test_events"] == 1
    bad = await client.post(EVENTS + "?test=maybe", json=body(), headers=HEADERS)
    assert bad.status_code == 400 and "test must be true or false" in bad.json()["message"]
