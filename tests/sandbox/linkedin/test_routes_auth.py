"""The edge: token, version, Rest.li protocol and method headers, in LinkedIn's order and with
LinkedIn's error bodies; the conversion rule read."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.linkedin import SandboxState
from signalyard.sandbox.linkedin.endpoint import version_active

from .factory import ACCOUNT, BATCH, EVENTS, HEADERS, RULE, TOKEN, element, post, read_rule

pytestmark = pytest.mark.anyio


async def test_a_batch_is_answered_per_element(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    response = await post(client, [element("a"), element("b")])
    assert response.status_code == 200
    assert response.json() == {"elements": [{"status": 201}, {"status": 201}]}
    assert response.headers["x-li-uuid"]
    assert [e.event_id for e in reversed(state.events())] == ["a", "b"]


async def test_a_single_create_is_201_without_body(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    response = await client.post(EVENTS, json=element("one"), headers=HEADERS)
    assert response.status_code == 201 and response.content == b""
    (request,) = state.requests()
    assert request.method == "CREATE"
    bad = await client.post(EVENTS, json=element("two", age=91 * 86400), headers=HEADERS)
    assert bad.status_code == 400 and "90 days" in bad.json()["message"]


@pytest.mark.parametrize(
    ("headers", "status", "code", "service"),
    [
        ({}, 401, "EMPTY_ACCESS_TOKEN", 65604),
        ({"Authorization": "Bearer short"}, 401, "INVALID_ACCESS_TOKEN", 65600),
        ({"Authorization": f"Basic {TOKEN}"}, 401, "INVALID_ACCESS_TOKEN", 65600),
    ],
)
async def test_token_errors(
    client: httpx.AsyncClient,
    state: SandboxState,
    headers: dict[str, str],
    status: int,
    code: str,
    service: int,
) -> None:
    sent = {k: v for k, v in BATCH.items() if k != "Authorization"} | headers
    response = await post(client, [element()], sent)
    assert response.status_code == status
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["serviceErrorCode"] == service
    assert state.events() == []
    (request,) = state.requests()
    assert request.status == status and TOKEN not in str(request.to_json())


async def test_a_missing_version_is_linkedin_s_error(client: httpx.AsyncClient) -> None:
    sent = {k: v for k, v in BATCH.items() if k != "LinkedIn-Version"}
    response = await post(client, [element()], sent)
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "VERSION_MISSING",
        "message": "A version must be present. Please specify a version by adding the"
        " LinkedIn-Version header.",
    }


@pytest.mark.parametrize("version", ["202511", "202401", "202702", "2026-03", "abcdef", "202613"])
async def test_an_inactive_version_is_426(client: httpx.AsyncClient, version: str) -> None:
    response = await post(client, [element()], {**BATCH, "LinkedIn-Version": version})
    assert response.status_code == 426
    assert response.json()["code"] == "NONEXISTENT_VERSION"


def test_active_versions_are_the_last_twelve_months() -> None:
    now = FrozenClock().now()  # 2027-01-15
    assert version_active("202701", now) and version_active("202601", now)
    assert not version_active("202512", now) and not version_active("202702", now)


async def test_the_restli_protocol_header_is_required(client: httpx.AsyncClient) -> None:
    sent = {k: v for k, v in BATCH.items() if k != "X-Restli-Protocol-Version"}
    response = await post(client, [element()], sent)
    assert response.status_code == 400 and "2.0.0" in response.json()["message"]
    response = await post(client, [element()], {**BATCH, "X-Restli-Protocol-Version": "1.0.0"})
    assert response.status_code == 400


async def test_methods(client: httpx.AsyncClient) -> None:
    response = await post(client, [element()], {**BATCH, "X-RestLi-Method": "batch_create"})
    assert response.status_code == 200
    response = await post(client, [element()], {**BATCH, "X-RestLi-Method": "PARTIAL_UPDATE"})
    assert response.status_code == 400 and "Unsupported" in response.json()["message"]
    # a batch body sent as a single create: its shape is wrong
    response = await post(client, [element()], HEADERS)
    assert response.status_code == 400
    assert "/elements :: unrecognized field" in response.json()["message"]
    assert (await client.get(EVENTS, headers=BATCH)).status_code == 405


async def test_the_rule_read(client: httpx.AsyncClient, state: SandboxState) -> None:
    response = await read_rule(client)
    assert response.status_code == 200
    rule = response.json()
    assert rule["id"] == int(RULE) and rule["account"] == ACCOUNT
    assert rule["conversionMethod"] == "CONVERSIONS_API" and rule["enabled"] is True
    state.set_rule(RULE, {"conversionMethod": "INSIGHT_TAG", "enabled": False})
    rule = (await read_rule(client)).json()
    assert rule["conversionMethod"] == "INSIGHT_TAG" and rule["enabled"] is False
    assert (await read_rule(client, "abc")).status_code == 404
    no_account = await client.get(f"/rest/conversions/{RULE}", headers=HEADERS)
    assert no_account.status_code == 400 and "account" in no_account.json()["message"]
    no_token = await read_rule(client, headers={"LinkedIn-Version": "202603"})
    assert no_token.status_code == 401
    with pytest.raises(ValueError, match="numeric id"):
        state.set_rule(RULE, {"unknown": 1})


async def test_a_rule_not_made_for_the_conversions_api_refuses_its_events(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    state.set_rule(RULE, {"conversionMethod": "INSIGHT_TAG"})
    response = await post(client, [element()])
    assert response.status_code == 400
    assert response.json()["message"] == "Conversion's method should be CONVERSIONS_API"
    assert state.events() == []
