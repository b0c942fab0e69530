"""The validation server's messages, with GA4's validation codes, and what /mp/collect drops
for the same requests (the event at fault, or every event for a problem of the request)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.sandbox.ga4 import SandboxState

from .factory import HEX, NOW, body, collect, event, messages

pytestmark = pytest.mark.anyio


async def test_a_valid_request_has_no_messages(client: httpx.AsyncClient) -> None:
    assert await messages(client, body(event(), event("add_to_cart", "e2"))) == []


async def test_google_s_documented_example(client: httpx.AsyncClient) -> None:
    (message,) = await messages(client, body({"name": "_badEventName", "params": {}}))
    assert message == {
        "fieldPath": "events",
        "description": "Event at index: [0] has invalid name [_badEventName]. Names must start"
        " with an alphabetic character.",
        "validationCode": "NAME_INVALID",
    }


@pytest.mark.parametrize(
    ("payload", "path", "code"),
    [
        (body(client_id=None), "client_id", "VALUE_REQUIRED"),
        (body(client_id="not-a-number"), "client_id", "VALUE_INVALID"),
        (body(client_id=12345), "client_id", "VALUE_INVALID"),
        (body(timestamp_micros=int(NOW - 73 * 3600) * 1_000_000), "timestamp_micros",
         "VALUE_OUT_OF_BOUNDS"),
        (body(timestamp_micros="soon"), "timestamp_micros", "VALUE_INVALID"),
        (body(user_data={"sha256_email_address": ["jane@example.com"]}),
         "user_data.sha256_email_address", "VALUE_INVALID"),
        (body(user_data={"email": [HEX]}), "user_data.email", "VALUE_INVALID"),
        (body(user_data=[]), "user_data", "VALUE_INVALID"),
        (body(consent={"ad_user_data": "YES"}), "consent", "VALUE_INVALID"),
        (body(user_properties={f"p{i}": {"value": i} for i in range(26)}), "user_properties",
         "EXCEEDED_MAX_ENTITIES"),
        (body(events=[]), "events", "VALUE_REQUIRED"),
        ([1, 2], "", "VALUE_INVALID"),
    ],
)  # fmt: skip
async def test_request_rules(
    client: httpx.AsyncClient, state: SandboxState, payload: Any, path: str, code: str
) -> None:
    found = await messages(client, payload)
    assert (found[0]["fieldPath"], found[0]["validationCode"]) == (path, code), found
    await collect(client, payload)
    assert all(e.status == "dropped" for e in state.events())  # the request's events go


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ({"name": "session_start", "params": {}}, "NAME_RESERVED"),
        ({"name": "notification_open", "params": {}}, "NAME_RESERVED"),
        ({"name": "ga_thing", "params": {}}, "NAME_RESERVED"),
        ({"name": "gtag.config", "params": {}}, "NAME_INVALID"),
        ({"name": "firebase_thing", "params": {}}, "NAME_RESERVED"),
        ({"name": "bad-name", "params": {}}, "NAME_INVALID"),
        ({"name": "x" * 41, "params": {}}, "NAME_INVALID"),
        ({"params": {}}, "VALUE_REQUIRED"),
        ("purchase", "VALUE_INVALID"),
        ({"name": "ok", "params": []}, "VALUE_INVALID"),
        ({"name": "x", "params": {f"p{i}": i for i in range(26)}}, "EXCEEDED_MAX_ENTITIES"),
        ({"name": "x", "params": {"firebase_x": 1}}, "NAME_RESERVED"),
        ({"name": "x", "params": {"bad key": 1}}, "NAME_INVALID"),
        (event(value=None), "VALUE_INVALID"),
        (event(value=[1]), "VALUE_INVALID"),
        (event(value={"a": 1}), "VALUE_INVALID"),
        (event(flag=True), "VALUE_INVALID"),
        (event(transaction_id="t" * 101), "VALUE_OUT_OF_BOUNDS"),
        (event(page_title="t" * 301), "VALUE_OUT_OF_BOUNDS"),
        (event(page_referrer="t" * 421), "VALUE_OUT_OF_BOUNDS"),
        (event(page_location="t" * 1001), "VALUE_OUT_OF_BOUNDS"),
        (event(items=[{"price": 1}]), "VALUE_REQUIRED"),
        (event(items={"item_id": "x"}), "VALUE_INVALID"),
        (event(items=[{"item_id": "x" * 101}]), "VALUE_OUT_OF_BOUNDS"),
    ],
)
async def test_event_rules_drop_only_that_event(
    client: httpx.AsyncClient, state: SandboxState, bad: Any, code: str
) -> None:
    found = await messages(client, body(event(event_id="ok"), bad))
    assert [m["validationCode"] for m in found] == [code], found
    assert "index: [1]" in found[0]["description"]
    await collect(client, body(event(event_id="ok"), bad))
    statuses = [e.status for e in reversed(state.events())]
    assert statuses == ["accepted", "dropped"]
    assert state.events(status="dropped")[0].code == code


async def test_long_values_within_their_own_limits_are_valid(client: httpx.AsyncClient) -> None:
    long = event(page_title="t" * 300, page_referrer="r" * 420, page_location="l" * 1000)
    assert await messages(client, body(long)) == []
