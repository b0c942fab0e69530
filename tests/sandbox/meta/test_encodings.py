"""Every request encoding Meta accepts (reference §1.2), including the real Python SDK."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.clock import FrozenClock
from signalyard.sandbox.meta import SandboxState, create_app

from .factory import DATASET, EVENTS_PATH, NOW, TOKEN, body, event

pytestmark = pytest.mark.anyio


def assert_success(response: httpx.Response, n: int) -> None:
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["events_received"] == n
    assert payload["messages"] == []
    assert len(payload["fbtrace_id"]) == 11
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.headers["x-fb-trace-id"] == payload["fbtrace_id"]
    assert response.headers["facebook-api-version"] == "v26.0"


async def test_json_body(client: httpx.AsyncClient, state: SandboxState) -> None:
    r = await client.post(EVENTS_PATH, json=body(event("a"), event("b")))
    assert_success(r, 2)
    assert [e.event_id for e in state.events()] == ["b", "a"]
    assert state.requests()[0].encoding == "json"


async def test_json_body_with_data_as_string_and_token_in_query(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    payload = {"data": json.dumps([event("a")])}
    r = await client.post(EVENTS_PATH, params={"access_token": TOKEN}, json=payload)
    assert_success(r, 1)
    assert state.requests()[0].token_source == "query"


async def test_bearer_header(client: httpx.AsyncClient, state: SandboxState) -> None:
    r = await client.post(
        EVENTS_PATH,
        json={"data": [event("a")]},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert_success(r, 1)
    assert state.requests()[0].token_source == "header"


async def test_form_urlencoded(client: httpx.AsyncClient) -> None:
    form = {"data": json.dumps([event("a")]), "access_token": TOKEN, "test_event_code": "T1"}
    r = await client.post(EVENTS_PATH, data=form)
    assert_success(r, 1)


async def test_form_elements_are_json_strings(client: httpx.AsyncClient) -> None:
    data = json.dumps([json.dumps(event("a")), json.dumps(event("b"))])
    r = await client.post(EVENTS_PATH, data={"data": data, "access_token": TOKEN})
    assert_success(r, 2)


async def test_multipart_form(client: httpx.AsyncClient, state: SandboxState) -> None:
    # curl -F 'data=[...]' -F 'access_token=...'
    files = {
        "data": (None, json.dumps([event("a")])),
        "access_token": (None, TOKEN),
    }
    r = await client.post(EVENTS_PATH, files=files)
    assert_success(r, 1)
    assert state.requests()[0].encoding == "multipart"


async def test_multipart_with_data_as_file(client: httpx.AsyncClient) -> None:
    # curl -F data=@events.json
    files = {"data": ("events.json", json.dumps([event("a")]).encode(), "application/json")}
    r = await client.post(EVENTS_PATH, files=files, params={"access_token": TOKEN})
    assert_success(r, 1)


async def test_everything_in_query(client: httpx.AsyncClient) -> None:
    params = {"data": json.dumps([event("a")]), "access_token": TOKEN}
    r = await client.post(EVENTS_PATH, params=params)
    assert_success(r, 1)


async def test_json_without_content_type_is_sniffed(client: httpx.AsyncClient) -> None:
    r = await client.post(
        EVENTS_PATH, content=orjson.dumps(body(event("a"))), headers={"content-type": ""}
    )
    assert_success(r, 1)


async def test_top_level_params_are_accepted(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    params = {
        "test_event_code": "TEST123",
        "partner_agent": "signalyard_0_1",
        "namespace_id": "ns",
        "upload_id": "u1",
        "upload_tag": "tag",
        "upload_source": "crm",
    }
    r = await client.post(EVENTS_PATH, json=body(event("a"), **params))
    assert_success(r, 1)
    rec = state.events()[0]
    assert rec.test_event_code == "TEST123"
    assert rec.partner_agent == "signalyard_0_1"


async def test_sdk_form_body_from_normalize(client: httpx.AsyncClient, state: SandboxState) -> None:
    """The exact body the Python SDK sends: form-encoded, data = JSON list of JSON strings."""
    from facebook_business.adobjects.serverside.action_source import ActionSource
    from facebook_business.adobjects.serverside.custom_data import CustomData
    from facebook_business.adobjects.serverside.event import Event
    from facebook_business.adobjects.serverside.event_request import EventRequest
    from facebook_business.adobjects.serverside.user_data import UserData
    from facebook_business.api import _top_level_param_json_encode

    ev = Event(
        event_name="Purchase",
        event_time=int(NOW) - 5,
        event_id="sdk-1",
        action_source=ActionSource.WEBSITE,
        event_source_url="https://shop.example.com/",
        user_data=UserData(
            emails=["Joe@Example.com"],
            client_ip_address="203.0.113.7",
            client_user_agent="Mozilla/5.0",
            fbp="fb.1.1596403881668.1116446470",
        ),
        custom_data=CustomData(value=10.5, currency="usd"),
    )
    req = EventRequest(pixel_id=DATASET, events=[ev], test_event_code="TEST42")
    params = _top_level_param_json_encode(req.get_params())
    assert isinstance(json.loads(params["data"])[0], str)
    r = await client.post(
        EVENTS_PATH,
        params={"access_token": TOKEN},
        content=urlencode(params).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_success(r, 1)
    rec = state.events()[0]
    assert rec.event_id == "sdk-1"
    assert rec.test_event_code == "TEST42"
    assert rec.diagnostics == ()
    assert rec.event["user_data"]["em"] == [hashlib.sha256(b"joe@example.com").hexdigest()]


def test_real_sdk_against_live_server(
    serve: Callable[[Any], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drive the real facebook_business SDK (requests, appsecret_proof) at a live sandbox."""
    from facebook_business.adobjects.serverside.action_source import ActionSource
    from facebook_business.adobjects.serverside.custom_data import CustomData
    from facebook_business.adobjects.serverside.event import Event
    from facebook_business.adobjects.serverside.event_request import EventRequest
    from facebook_business.adobjects.serverside.user_data import UserData
    from facebook_business.api import FacebookAdsApi
    from facebook_business.exceptions import FacebookRequestError
    from facebook_business.session import FacebookSession

    secret = "0123456789abcdef0123456789abcdef"
    state = SandboxState()
    base = serve(create_app(state=state, app_secret=secret))
    monkeypatch.setattr(FacebookSession, "GRAPH", base)
    FacebookAdsApi.init(access_token=TOKEN, app_secret=secret, crash_log=False, timeout=5)

    def make(event_id: str, event_time: int) -> Event:
        return Event(
            event_name="Purchase",
            event_time=event_time,
            event_id=event_id,
            action_source=ActionSource.WEBSITE,
            event_source_url="https://shop.example.com/",
            user_data=UserData(
                email="joe@example.com",
                phone="+1 (650) 555-1212",
                client_ip_address="203.0.113.7",
                client_user_agent="Mozilla/5.0",
                fbc="fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
            ),
            custom_data=CustomData(value=99.0, currency="eur"),
        )

    now = int(time.time())
    response = EventRequest(
        pixel_id=DATASET,
        events=[make("sdk-1", now), make("sdk-2", now)],
        partner_agent="signalyard",
    ).execute()
    assert response.events_received == 2
    assert len(response.fbtrace_id) == 11
    assert {e.event_id for e in state.events()} == {"sdk-1", "sdk-2"}
    assert all(e.diagnostics == () for e in state.events())
    logged = state.requests()[0]
    assert logged.encoding == "form"
    assert logged.token_source == "query"
    assert logged.partner_agent == "signalyard"

    with pytest.raises(FacebookRequestError) as info:
        EventRequest(pixel_id=DATASET, events=[make("old", now - 8 * 86400)]).execute()
    assert info.value.http_status() == 400
    assert info.value.api_error_code() == 100
    assert info.value.api_error_subcode() == 2804003
    assert info.value.api_error_type() == "OAuthException"

    # The same token with a wrong proof is refused.
    bad = hmac.new(b"wrong", TOKEN.encode(), hashlib.sha256).hexdigest()
    r = httpx.post(
        f"{base}/v26.0/{DATASET}/events",
        params={"access_token": TOKEN, "appsecret_proof": bad},
        json={"data": [make("x", now).normalize()]},
    )
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "Invalid appsecret_proof provided in the API argument"


async def test_works_mounted_under_a_prefix(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock)
    outer = Starlette(routes=[Mount("/sandbox/meta", app=create_app(clock=clock, state=state))])
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        r = await c.post(f"/sandbox/meta{EVENTS_PATH}", json=body(event("a")))
        assert_success(r, 1)
        listed = (await c.get("/sandbox/meta/_sandbox/events")).json()
        assert listed["events"][0]["event_id"] == "a"
        unknown = await c.get("/sandbox/meta/v26.0/nothing")
        assert unknown.json()["error"]["code"] == 2500
