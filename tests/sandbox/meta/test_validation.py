"""Meta's event rules, all-or-nothing, limits and diagnostics (reference §1.4, §2, §3, §11)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from signalyard.sandbox.meta import SandboxState

from .factory import EVENTS_PATH, TOKEN, body, event, sha, user_data
from .test_auth import graph_error

pytestmark = pytest.mark.anyio


async def post(client: httpx.AsyncClient, *events: dict[str, Any]) -> httpx.Response:
    return await client.post(EVENTS_PATH, json=body(*events))


async def test_data_missing(client: httpx.AsyncClient) -> None:
    r = await client.post(EVENTS_PATH, json={"access_token": TOKEN})
    err = graph_error(r, 400, 100, None)
    assert err["message"] == "(#100) The parameter data is required"


async def test_data_not_json(client: httpx.AsyncClient) -> None:
    r = await client.post(EVENTS_PATH, data={"data": "[{not json", "access_token": TOKEN})
    err = graph_error(r, 400, 100, None)
    assert "data must be a JSON-encoded array" in str(err["message"])


@pytest.mark.parametrize("data", [{"event_name": "x"}, '"text"', 5])
async def test_data_not_a_list(client: httpx.AsyncClient, data: object) -> None:
    r = await client.post(EVENTS_PATH, json={"data": data, "access_token": TOKEN})
    err = graph_error(r, 400, 100, None)
    assert "data must be an array" in str(err["message"])


async def test_element_not_an_object(client: httpx.AsyncClient) -> None:
    r = await client.post(EVENTS_PATH, json={"data": [event(), 7], "access_token": TOKEN})
    err = graph_error(r, 400, 100, None)
    assert "data[1]" in str(err["message"])


async def test_body_not_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        EVENTS_PATH, content=b"{oops", headers={"content-type": "application/json"}
    )
    graph_error(r, 400, 100, None)


async def test_thousand_events_accepted_thousand_and_one_refused(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    batch = [event(f"e{i}") for i in range(1000)]
    ok = await post(client, *batch)
    assert ok.json()["events_received"] == 1000
    too_many = await post(client, *batch, event("one-more"))
    err = graph_error(too_many, 400, 100, None)
    assert "1001" in str(err["message"])
    assert len(state.events(limit=None)) == 1000


async def test_all_or_nothing(client: httpx.AsyncClient, state: SandboxState) -> None:
    r = await post(client, event("good-1"), event("good-2"), event("bad", age=8 * 86400))
    err = graph_error(r, 400, 100, 2804003)
    assert err["error_user_title"] == "Event Timestamp Too Old"
    assert "data[2]" in str(err["message"])
    assert err["is_transient"] is False
    assert state.events() == []
    summary = state.summary()["datasets"]["1234567890"]
    assert summary["requests"]["rejected"] == 1
    assert summary["events_received"] == 0


@pytest.mark.parametrize("field", ["event_name", "event_time", "user_data", "action_source"])
async def test_required_fields(client: httpx.AsyncClient, field: str) -> None:
    ev = event()
    del ev[field]
    r = await post(client, ev)
    err = graph_error(r, 400, 100, None)
    assert err["message"] == f"(#100) The parameter data[0][{field}] is required"


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"event_time": "yesterday"}, "data[0][event_time]"),
        ({"event_time": 1.5}, "data[0][event_time]"),
        ({"action_source": "web"}, "data[0][action_source]"),
        ({"user_data": "x"}, "data[0][user_data]"),
        ({"custom_data": []}, "data[0][custom_data]"),
        ({"opt_out": "yes"}, "data[0][opt_out]"),
        ({"event_id": {"a": 1}}, "data[0][event_id]"),
        ({"data_processing_options": ["GDPR"]}, "data[0][data_processing_options]"),
        ({"user_data": {"em": 5, "external_id": "1"}}, "data[0][user_data][em]"),
    ],
)
async def test_ill_typed_fields(
    client: httpx.AsyncClient, overrides: dict[str, Any], where: str
) -> None:
    r = await post(client, event(**overrides))
    err = graph_error(r, 400, 100, None)
    assert where in str(err["message"])


async def test_website_needs_event_source_url(client: httpx.AsyncClient) -> None:
    r = await post(client, event(event_source_url=None))
    err = graph_error(r, 400, 100, None)
    assert "data[0][event_source_url]" in str(err["message"])
    ok = await post(client, event(event_source_url=None, action_source="email"))
    assert ok.status_code == 200


async def test_event_time_boundary(client: httpx.AsyncClient) -> None:
    assert (await post(client, event("a", age=7 * 86400))).status_code == 200
    r = await post(client, event("b", age=7 * 86400 + 1))
    graph_error(r, 400, 100, 2804003)


@pytest.mark.parametrize(
    "ud",
    [
        {},
        {"country": sha("us")},
        {
            "ct": sha("paris"),
            "st": sha("idf"),
            "zp": sha("75001"),
            "country": sha("fr"),
            "ge": sha("f"),
            "client_user_agent": "UA",
        },
        {"db": sha("19900101"), "client_user_agent": "UA"},
        {"fn": sha("mary"), "ge": sha("f")},
        {"ln": sha("smith")},
        {"email": "joe@example.com"},
    ],
)
async def test_baseline_customer_information(client: httpx.AsyncClient, ud: dict[str, Any]) -> None:
    r = await post(client, event(user_data=ud))
    err = graph_error(r, 400, 100, 2804050)
    assert "data[0]" in str(err["message"])


@pytest.mark.parametrize(
    "ud",
    [
        {"em": sha("a@b.c")},
        {"fn": sha("mary"), "ln": sha("smith")},
        {"client_ip_address": "203.0.113.7", "client_user_agent": "UA"},
        {"external_id": "42"},
        {"fbp": "fb.1.1596403881668.1116446470"},
    ],
)
async def test_enough_customer_information(client: httpx.AsyncClient, ud: dict[str, Any]) -> None:
    assert (await post(client, event(user_data=ud))).status_code == 200


@pytest.mark.parametrize(
    ("custom", "missing"),
    [
        (None, "value"),
        ({"currency": "USD"}, "value"),
        ({"value": 3}, "currency"),
        ({"value": "abc", "currency": "USD"}, "value"),
        ({"value": 3, "currency": "dollars"}, "currency"),
    ],
)
async def test_purchase_needs_value_and_currency(
    client: httpx.AsyncClient, custom: dict[str, Any] | None, missing: str
) -> None:
    r = await post(client, event(custom_data=custom))
    err = graph_error(r, 400, 100, 2804019)
    assert f"custom_data.{missing}" in str(err["message"])
    ok = await post(client, event(name="Lead", custom_data=custom if custom else None))
    assert ok.status_code == 200


async def test_whatsapp_needs_business_ids(client: httpx.AsyncClient) -> None:
    ev = event(
        action_source="business_messaging",
        messaging_channel="whatsapp",
        event_source_url=None,
        name="LeadSubmitted",
        user_data={"ph": sha("16505551212"), "ctwa_clid": "ARAkLkA8"},
    )
    graph_error(await post(client, ev), 400, 100, 2804116)
    ev["user_data"]["whatsapp_business_account_id"] = "102290129340398"
    assert (await post(client, ev)).status_code == 200


async def test_messaging_channel_required(client: httpx.AsyncClient) -> None:
    ev = event(action_source="business_messaging", event_source_url=None)
    err = graph_error(await post(client, ev), 400, 100, None)
    assert "messaging_channel" in str(err["message"])


def app_event(**app_data: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "advertiser_tracking_enabled": 1,
        "extinfo": [
            "a2",
            "com.example",
            "1.0",
            "1.0.1",
            "14",
            "Pixel",
            "en_US",
            "UTC",
            "",
            "1080",
            "1920",
            "2.0",
            "8",
            "64",
            "32",
            "Europe/Paris",
        ],
    }
    data.update(app_data)
    return event(
        action_source="app",
        event_source_url=None,
        app_data={k: v for k, v in data.items() if v is not None},
    )


async def test_app_events(client: httpx.AsyncClient) -> None:
    assert (await post(client, app_event())).status_code == 200
    for bad, where in [
        (app_event(advertiser_tracking_enabled=None), "advertiser_tracking_enabled"),
        (app_event(extinfo=None), "extinfo"),
        (app_event(extinfo=["a2"] * 15), "extinfo"),
        (app_event(extinfo=["x2"] + [""] * 15), "extinfo"),
        (event(action_source="app", event_source_url=None), "app_data"),
    ]:
        err = graph_error(await post(client, bad), 400, 100, None)
        assert where in str(err["message"])


def diagnostics_of(state: SandboxState) -> dict[str, str]:
    return {d.code: d.field for d in state.events()[0].diagnostics}


async def test_plaintext_in_hashed_field_is_accepted_and_flagged(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    ud = user_data(em=["joe@example.com"], ph="16505551212")
    r = await post(client, event(user_data=ud))
    assert r.status_code == 200
    diags = [d for d in state.events()[0].diagnostics if d.code == "plaintext_in_hashed_field"]
    assert {d.field for d in diags} == {"user_data.em", "user_data.ph"}
    assert all("joe@example.com" not in d.message for d in diags)


async def test_hashed_with_appendix_and_md5_are_fine(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    ud = user_data(
        em=sha("a@b.c") + ".AQQCAQMB", ph=sha("1") + ".Ag", ln="0cc175b9c0f1b6a831c399e269772661"
    )
    assert (await post(client, event(user_data=ud))).status_code == 200
    assert diagnostics_of(state) == {}


@pytest.mark.parametrize(
    ("ud", "code", "field"),
    [
        ({"fbc": sha("fb.1.2.3")}, "hashed_value_in_plaintext_field", "user_data.fbc"),
        (
            {"client_ip_address": sha("1.2.3.4")},
            "hashed_value_in_plaintext_field",
            "user_data.client_ip_address",
        ),
        ({"fbc": "AbCdEf"}, "invalid_fbc", "user_data.fbc"),
        ({"fbp": "fb.1.notanumber.123"}, "invalid_fbp", "user_data.fbp"),
        ({"fbc": "fb.1.1554763741.AbCd"}, "invalid_fbc", "user_data.fbc"),
        ({"client_ip_address": "300.1.1.1"}, "invalid_ip", "user_data.client_ip_address"),
        ({"mail": "x"}, "unknown_user_data_key", "user_data.mail"),
    ],
)
async def test_never_hashed_and_format_diagnostics(
    client: httpx.AsyncClient, state: SandboxState, ud: dict[str, Any], code: str, field: str
) -> None:
    r = await post(client, event(user_data=user_data(**ud)))
    assert r.status_code == 200, r.text
    assert diagnostics_of(state).get(code) == field


@pytest.mark.parametrize(
    "value",
    ["fb.1.1554763741205.AbCdEf", "fb.2.1554763741205.AbCdEf.Ag", "fb.0.1554763741205.x.AQQCAQMB"],
)
async def test_well_formed_fbc(client: httpx.AsyncClient, state: SandboxState, value: str) -> None:
    await post(client, event(user_data=user_data(fbc=value)))
    assert diagnostics_of(state) == {}


@pytest.mark.parametrize("ip", ["2001:db8::1", "203.0.113.7.AQQCAQMB", "::ffff:10.0.0.1"])
async def test_valid_ips(client: httpx.AsyncClient, state: SandboxState, ip: str) -> None:
    await post(client, event(user_data=user_data(client_ip_address=ip)))
    assert diagnostics_of(state) == {}


async def test_soft_diagnostics(client: httpx.AsyncClient, state: SandboxState) -> None:
    ev = event(None, age=-3600, user_data=user_data(client_user_agent=None))
    ev["custom_data"]["currency"] = "XYZ"
    assert (await post(client, ev)).status_code == 200
    assert set(diagnostics_of(state)) == {
        "event_time_in_future",
        "missing_client_user_agent",
        "missing_event_id",
        "unknown_currency",
    }


@pytest.mark.parametrize(
    "path", ["/v26/1234567890/events", "/latest/1234567890/events", "/v26.0/my-pixel/events"]
)
async def test_bad_version_or_dataset(client: httpx.AsyncClient, path: str) -> None:
    r = await client.post(path, json=body(event()))
    assert r.status_code == 400
    err = r.json()["error"]
    assert (err["code"], err["error_subcode"], err["type"]) == (100, 33, "GraphMethodException")


async def test_any_version_format_accepted(client: httpx.AsyncClient) -> None:
    r = await client.post("/v19.0/1234567890/events", json=body(event()))
    assert r.status_code == 200
    assert r.headers["facebook-api-version"] == "v19.0"


async def test_get_on_edge_is_unsupported(client: httpx.AsyncClient) -> None:
    r = await client.get(EVENTS_PATH, params={"access_token": TOKEN})
    assert r.json()["error"]["error_subcode"] == 33


async def test_data_with_event_strings_in_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        EVENTS_PATH, json={"data": [json.dumps(event("a"))], "access_token": TOKEN}
    )
    assert r.status_code == 200
    bad = await client.post(EVENTS_PATH, json={"data": ["{nope"], "access_token": TOKEN})
    err = graph_error(bad, 400, 100, None)
    assert "data[0]" in str(err["message"])
