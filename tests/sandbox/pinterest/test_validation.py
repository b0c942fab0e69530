"""Pinterest's rules: the request refused whole with 400, each event processed or failed on
its own in the 200 answer, and warnings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.sandbox.pinterest import SandboxState

from .factory import EVENTS, HEADERS, NOW, body, event, sha

pytestmark = pytest.mark.anyio


async def post(client: httpx.AsyncClient, payload: Any) -> httpx.Response:
    return await client.post(EVENTS, json=payload, headers=HEADERS)


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ([], "the body must be a JSON object"),
        ({}, "data is required"),
        ({"data": {}}, "data must be an array"),
        ({"data": []}, "data must hold 1 to 1000 events"),
    ],
)
async def test_a_bad_request_is_400(
    client: httpx.AsyncClient, state: SandboxState, payload: Any, says: str
) -> None:
    response = await post(client, payload)
    assert response.status_code == 400
    assert response.json()["code"] == 1 and says in response.json()["message"]
    assert state.events() == []


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(EVENTS, content=b"{nope", headers=HEADERS)
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]


BAD: list[tuple[dict[str, Any], str]] = [
    ({"event_name": "Purchase"}, "event_name: 'Purchase' is not a valid event name"),
    ({"event_name": None}, "event_name: is required"),
    ({"action_source": "website"}, "action_source: must be one of"),
    ({"event_time": "1800000000"}, "event_time: must be an integer"),
    ({"event_time": int(NOW) - 8 * 86400}, "event_time: is more than 7 days in the past"),
    ({"event_id": None}, "event_id: is required"),
    ({"event_id": ""}, "event_id: must not be empty"),
    ({"user_data": None}, "user_data: is required"),
    ({"user_data": {"client_ip_address": "203.0.113.7"}}, "user_data: at least one of em"),
    ({"user_data": {"em": sha("a@b.co")}}, "user_data.em: must be an array of strings"),
    ({"user_data": {"em": [sha("x")], "client_user_agent": 5}}, "must be a string"),
    ({"custom_data": {"value": 42.5}}, "custom_data.value: must be a string"),
    ({"custom_data": {"value": "forty"}}, "custom_data.value: must be a number written"),
    ({"custom_data": {"content_ids": [1]}}, "custom_data.content_ids: must be an array"),
    ({"custom_data": {"contents": [{"item_price": 3.5}]}}, "contents.0.item_price"),
    ({"custom_data": {"contents": [{"quantity": "2"}]}}, "contents.0.quantity: must be an"),
    ({"custom_data": {"num_items": 1.5}}, "custom_data.num_items: must be an integer"),
    ({"opt_out": "yes"}, "opt_out: must be a boolean"),
]


@pytest.mark.parametrize(("change", "says"), BAD)
async def test_a_bad_event_fails_alone(
    client: httpx.AsyncClient, state: SandboxState, change: dict[str, Any], says: str
) -> None:
    bad = event("bad", **{k: v for k, v in change.items() if k != "event_id"})
    if "event_id" in change:
        bad["event_id"] = change["event_id"]
    if change.get("user_data", 0) is None:
        del bad["user_data"]
    response = await post(client, body(event("good"), bad))
    assert response.status_code == 200
    answer = response.json()
    assert answer["num_events_received"] == 2 and answer["num_events_processed"] == 1
    good, failed = answer["events"]
    assert good["status"] == "processed"
    assert failed["status"] == "failed" and says in failed["error_message"], failed
    assert [e.event_id for e in state.events()] == ["good"]  # a failed event is not kept
    (request,) = state.requests()
    assert request.failed == 1 and "1 of 2 events failed; event 1:" in str(request.message)


async def test_an_event_that_is_not_an_object_fails(client: httpx.AsyncClient) -> None:
    response = await post(client, {"data": [event(), "nope"]})
    assert response.json()["events"][1]["error_message"] == "the event must be a JSON object"


WARNINGS: list[tuple[dict[str, Any], str]] = [
    ({"user_data": {"em": ["jane@example.com"]}}, "plaintext_in_hashed_field"),
    (
        {"user_data": {"em": [sha("a")], "client_ip_address": sha("1.2.3.4")}},
        "hashed_value_in_plaintext_field",
    ),
    ({"user_data": {"em": [sha("a")], "client_ip_address": "1.2.3"}}, "invalid_ip"),
    ({"user_data": {"em": [sha("a")], "fbp": "fb.1.2.3"}}, "meta_user_key"),
    ({"user_data": {"em": [sha("a")], "zz": "1"}}, "unknown_user_key"),
    ({"custom_data": {}}, "missing_value_or_currency"),
    ({"event_source_url": None}, "missing_event_source_url"),
    ({"event_time": int(NOW) - 7200}, "reported_offline"),
    ({"event_time": int(NOW) + 7200}, "event_time_in_future"),
    ({"event_time": int(NOW) * 1000}, "event_time_milliseconds"),
    ({"pixel_id": "1"}, "unknown_field"),
]


@pytest.mark.parametrize(("change", "code"), WARNINGS)
async def test_warnings(
    client: httpx.AsyncClient, state: SandboxState, change: dict[str, Any], code: str
) -> None:
    response = await post(client, body(event(**change)))
    (answer,) = response.json()["events"]
    assert answer["status"] == "processed" and answer["warning_message"]
    (recorded,) = state.events()
    assert code in {d.code for d in recorded.diagnostics}


async def test_the_ldp_flag_and_opt_out_are_counted(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    flagged = event(
        opt_out=True, custom_data={"currency": "USD", "value": "1", "opt_out_type": "LDP"}
    )
    await post(client, body(flagged))
    (recorded,) = state.events()
    assert recorded.ldp and recorded.opt_out
    counts = state.summary()["ad_accounts"]["549755885175"]["events"]["checkout"]
    assert counts["limited_data_processing"] == 1 and counts["opt_out"] == 1
