"""Element validation: the shape refused whole with Rest.li's ``ERROR :: path :: why`` naming
the element, the meaning refused per element in the batch answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.sandbox.linkedin import SandboxState

from .factory import element, post, sha

pytestmark = pytest.mark.anyio

IDS = {"userIds": [{"idType": "SHA256_EMAIL", "idValue": sha("a@b.example")}]}


@pytest.mark.parametrize(
    ("bad", "path", "why"),
    [
        ("not an object", "/elements/1", "cannot be coerced to record"),
        (element(conversion=None), "/elements/1/conversion", "field is required"),
        (element(conversion="urn:li:conversion:1"), "/elements/1/conversion", "invalid urn"),
        (element(conversionHappenedAt=None), "/elements/1/conversionHappenedAt", "required"),
        (element(conversionHappenedAt="1799"), "/elements/1/conversionHappenedAt", "not a long"),
        (element(conversionHappenedAt=1.5), "/elements/1/conversionHappenedAt", "not a long"),
        (
            element(conversionValue={"currencyCode": "USD", "amount": 50}),
            "/elements/1/conversionValue/amount",
            "not a string",
        ),
        (
            element(conversionValue={"currencyCode": "usd", "amount": "5"}),
            "/elements/1/conversionValue/currencyCode",
            "ISO 4217",
        ),
        (
            element(conversionValue={"amount": "5"}),
            "/elements/1/conversionValue/currencyCode",
            "required",
        ),
        (element(eventId=7), "/elements/1/eventId", "not a string"),
        (element(user=None), "/elements/1/user", "required"),
        (element(user={}), "/elements/1/user/userIds", "required"),
        (element(user={"userIds": {}}), "/elements/1/user/userIds", "not an array"),
        (
            element(user={"userIds": [{"idType": "EMAIL", "idValue": "x"}]}),
            "/elements/1/user/userIds/0/idType",
            "not an enum symbol",
        ),
        (
            element(user={"userIds": [{"idType": "SHA256_EMAIL"}]}),
            "/elements/1/user/userIds/0/idValue",
            "required",
        ),
        (
            element(user={**IDS, "userInfo": {"firstName": "X"}}),
            "/elements/1/user/userInfo/lastName",
            "required",
        ),
        (
            element(user={**IDS, "externalIds": ["a", "b"]}),
            "/elements/1/user/externalIds",
            "at most one",
        ),
        (element(campaign="x"), "/elements/1/campaign", "unrecognized field"),
        (element(user={**IDS, "phone": "x"}), "/elements/1/user/phone", "unrecognized field"),
    ],
)
async def test_a_bad_shape_refuses_the_request_naming_the_element(
    client: httpx.AsyncClient, state: SandboxState, bad: Any, path: str, why: str
) -> None:
    response = await post(client, [element("ok"), bad])
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert body["message"].startswith(f"ERROR :: {path} :: ") and why in body["message"]
    assert state.events() == []  # refused whole: nothing taken


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (element("old", age=90 * 86400 + 60), "more than 90 days in the past"),
        (element("future", age=-3600), "in the future"),
        (element("none", user={"userIds": []}), "At least one user identifier"),
        (
            element("plain", user={"userIds": [{"idType": "SHA256_EMAIL", "idValue": "a@b.c"}]}),
            "plaintext email",
        ),
        (
            element("short", user={"userIds": [{"idType": "SHA256_EMAIL", "idValue": "abc"}]}),
            "SHA-256 hex digest",
        ),
    ],
)
async def test_a_bad_meaning_refuses_that_element_only(
    client: httpx.AsyncClient, state: SandboxState, bad: dict[str, Any], why: str
) -> None:
    response = await post(client, [element("ok"), bad])
    assert response.status_code == 200
    ok, refused = response.json()["elements"]
    assert ok == {"status": 201}
    assert refused["status"] == 400 and why in refused["error"]["message"]
    assert "a@b.c" not in refused["error"]["message"]
    assert [e.event_id for e in state.events()] == ["ok"]
    (request,) = state.requests()
    assert request.accepted == 1 and request.invalid == 1 and request.errors[0][0] == 1


async def test_user_info_alone_is_enough_and_is_never_kept_in_plaintext(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    info = {"firstName": "Mike", "lastName": "Smith", "companyName": "Acme"}
    response = await post(client, [element("info", user={"userIds": [], "userInfo": info})])
    assert response.json() == {"elements": [{"status": 201}]}
    (recorded,) = state.events()
    assert recorded.event["user"]["userInfo"] == dict.fromkeys(info, "[redacted]")
    assert "Mike" not in str(state.summary()) and "Mike" not in recorded.payload.decode()


async def test_diagnostics(client: httpx.AsyncClient, state: SandboxState) -> None:
    upper = {"userIds": [{"idType": "SHA256_EMAIL", "idValue": sha("x@y.z").upper()}]}
    await post(client, [element(None, conversionValue=None, user=upper)])
    (recorded,) = state.events()
    assert {d.code for d in recorded.diagnostics} == {"no_event_id", "no_value", "uppercase_hash"}
