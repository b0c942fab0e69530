"""The Graph-compatible endpoint ``POST /{version}/{dataset_id}/events`` through the real app.

Every encoding Meta accepts, Meta's success and error shapes, hashing before storage, dedup,
all-or-nothing batches, and the limits. Messages must name the event index, the field and
the rule, and never quote personal data.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
import orjson
import pytest
import requests
import requests.adapters
import requests.structures
from facebook_business import api as fb_api
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.user_data import UserData
from facebook_business.api import FacebookAdsApi
from facebook_business.session import FacebookSession

from signalyard.sources.auth import CACHE_SECONDS

from .conftest import (
    CITY,
    DATASET,
    EMAIL,
    EVENTS_PATH,
    EXTERNAL_ID,
    FIRST_NAME,
    LAST_NAME,
    OTHER_DATASET,
    PHONE,
    PLAINTEXT,
    ZIP,
    Gateway,
    GatewayFactory,
    V,
    lead,
    purchase,
    sha256,
)

pytestmark = pytest.mark.anyio

FORM = "application/x-www-form-urlencoded"


# helpers ------------------------------------------------------------------------------------


def assert_no_plaintext(text: str | bytes) -> None:
    haystack = (text.decode("utf-8", "replace") if isinstance(text, bytes) else text).lower()
    for value in PLAINTEXT:
        assert value.lower() not in haystack, f"personal value {value!r} found"


def assert_success(r: httpx.Response, received: int) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = r.json()
    assert set(body) == {"events_received", "messages", "fbtrace_id"}
    assert body["events_received"] == received
    assert isinstance(body["messages"], list)
    assert all(isinstance(m, str) for m in body["messages"])
    assert isinstance(body["fbtrace_id"], str) and body["fbtrace_id"]
    assert_no_plaintext(r.text)
    return body


def assert_error(
    r: httpx.Response,
    status: int,
    *,
    code: int | None = None,
    subcode: int | None = None,
    names: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Meta's error shape; ``names`` must all appear in the message (field path, rule words)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = r.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == "OAuthException"
    assert isinstance(error["code"], int)
    assert error["is_transient"] is False
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    assert error["error_user_msg"]
    if code is not None:
        assert error["code"] == code
        assert error["message"].startswith(f"(#{code}) ")
    if subcode is not None:
        assert error.get("error_subcode") == subcode
    for name in names:
        assert name in error["message"], (name, error["message"])
        assert name in error["error_user_msg"]
    assert_no_plaintext(r.text)
    return error


async def count(gw: Gateway) -> int:
    return await gw.store.event_count()


# encodings ----------------------------------------------------------------------------------


async def test_json_body_token_in_query(gateway: Gateway) -> None:
    now = gateway.clock.now()
    r = await gateway.post_json([purchase(now, "o-1"), lead(now, "l-1")])
    assert_success(r, 2)
    rows = gateway.stored()
    assert [(e["event_name"], e["event_id"]) for e in rows] == [
        ("Purchase", "o-1"),
        ("Lead", "l-1"),
    ]
    assert {e["dataset_id"] for e in rows} == {DATASET}
    assert {e["source"] for e in rows} == {"graph_api"}


async def test_json_body_token_in_body(gateway: Gateway) -> None:
    body = {"data": [purchase(gateway.clock.now())], "access_token": gateway.key}
    r = await gateway.post(token=None, json=body)
    assert_success(r, 1)
    assert await count(gateway) == 1


async def test_json_body_with_bearer_header(gateway: Gateway) -> None:
    r = await gateway.post(
        token=None,
        json={"data": [purchase(gateway.clock.now())]},
        headers={"authorization": f"Bearer {gateway.key}"},
    )
    assert_success(r, 1)
    assert await count(gateway) == 1


async def test_json_body_without_content_type(gateway: Gateway) -> None:
    body = orjson.dumps({"data": [purchase(gateway.clock.now())]})
    r = await gateway.post(content=body)
    assert_success(r, 1)


async def test_json_body_with_data_as_a_json_string(gateway: Gateway) -> None:
    now = gateway.clock.now()
    data = json.dumps([purchase(now, "o-1"), lead(now, "l-1")])
    r = await gateway.post(json={"data": data})
    assert_success(r, 2)
    assert await count(gateway) == 2


async def test_json_body_with_elements_as_json_strings(gateway: Gateway) -> None:
    now = gateway.clock.now()
    data = [json.dumps(purchase(now, "o-1")), lead(now, "l-1")]
    r = await gateway.post(json={"data": data})
    assert_success(r, 2)
    assert [e["event_id"] for e in gateway.stored()] == ["o-1", "l-1"]


async def test_form_urlencoded_with_data_and_token_as_fields(gateway: Gateway) -> None:
    now = gateway.clock.now()
    body = urlencode(
        {"data": json.dumps([purchase(now, "o-1"), lead(now)]), "access_token": gateway.key}
    )
    r = await gateway.post(token=None, content=body, headers={"content-type": FORM})
    assert_success(r, 2)
    assert await count(gateway) == 2


async def test_form_urlencoded_with_charset_and_token_in_query(gateway: Gateway) -> None:
    body = urlencode({"data": json.dumps([purchase(gateway.clock.now())])})
    r = await gateway.post(content=body, headers={"content-type": FORM + "; charset=UTF-8"})
    assert_success(r, 1)


async def test_multipart_form_data(gateway: Gateway) -> None:
    """Meta's own curl sample: ``curl -F 'data=[...]' -F 'access_token=...'``."""
    now = gateway.clock.now()
    files = {
        "data": (None, json.dumps([purchase(now, "o-1"), lead(now)])),
        "access_token": (None, gateway.key),
        "test_event_code": (None, "TEST123"),
    }
    r = await gateway.post(token=None, files=files)
    assert r.request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert_success(r, 2)
    assert [e["test_event_code"] for e in gateway.stored()] == ["TEST123", "TEST123"]


async def test_multipart_with_token_in_query(gateway: Gateway) -> None:
    files = {"data": (None, json.dumps([purchase(gateway.clock.now())]))}
    r = await gateway.post(files=files)
    assert_success(r, 1)


async def test_data_in_the_query_string(gateway: Gateway) -> None:
    r = await gateway.post(params={"data": json.dumps([purchase(gateway.clock.now())])})
    assert_success(r, 1)


def _sdk_request(now: float, **params: Any) -> EventRequest:
    user = UserData(
        emails=[EMAIL],
        phones=["16505551212"],
        first_name=FIRST_NAME,
        last_name=LAST_NAME,
        city="menlopark",
        zip_code=ZIP,
        country_code="us",
        external_id=EXTERNAL_ID,
        client_ip_address="203.0.113.7",
        client_user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
        fbp="fb.1.1700000000000.1234567890",
    )
    events = [
        Event(
            event_name="Purchase",
            event_time=int(now) - 10,
            event_id=f"sdk-{i}",
            event_source_url="https://shop.example.com/thank-you",
            action_source=ActionSource.WEBSITE,
            user_data=user,
            custom_data=CustomData(currency="usd", value=10.5 + i),
        )
        for i in range(3)
    ]
    return EventRequest(pixel_id=DATASET, events=events, **params)


def _assert_sdk_events_stored(gw: Gateway, test_event_code: str | None) -> None:
    rows = gw.stored()
    assert [e["event_id"] for e in rows] == ["sdk-0", "sdk-1", "sdk-2"]
    for row in rows:
        assert row["test_event_code"] == test_event_code
        ud = row["payload"]["user_data"]
        # The SDK hashed them already: passed through, never hashed twice.
        assert ud["em"] == [sha256(EMAIL.lower())]
        assert ud["ph"] == [sha256("16505551212")]
        assert ud["fn"] == [sha256(FIRST_NAME.lower())]
        assert row["payload"]["custom_data"]["currency"] == "USD"
        assert_no_plaintext(row["raw_payload"])


async def test_official_python_sdk_wire_format(gateway: Gateway) -> None:
    """``data`` as a JSON list of JSON strings, encoded exactly as the SDK's
    ``FacebookAdsApi.call`` does (``_top_level_param_json_encode`` then a form body), with
    ``access_token`` and ``appsecret_proof`` in the query (session params)."""
    request = _sdk_request(
        gateway.clock.now(),
        test_event_code="TEST4242",
        partner_agent="signalyard-tests",
        namespace_id="ns-1",
        upload_id="up-1",
        upload_tag="tag-1",
        upload_source="crm",
    )
    params = request.get_params()
    assert all(isinstance(e, str) for e in params["data"])
    assert params["data"] == request.normalize()
    body = urlencode(fb_api._top_level_param_json_encode(params))
    proof = hmac.new(b"app-secret", gateway.key.encode(), "sha256").hexdigest()
    r = await gateway.post(
        content=body,
        headers={"content-type": FORM},
        params={"appsecret_proof": proof},
    )
    assert_success(r, 3)
    _assert_sdk_events_stored(gateway, "TEST4242")


class _ASGIAdapter(requests.adapters.BaseAdapter):
    """A ``requests`` transport that hands the SDK's requests to the ASGI app (called from a
    worker thread; the app runs on the test's event loop)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__()
        self.client = client
        self.sent: list[requests.PreparedRequest] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        self.sent.append(request)
        url = urlsplit(request.url or "")
        body = request.body
        content = body.encode() if isinstance(body, str) else body
        assert content is None or isinstance(content, bytes)
        headers = {k: v if isinstance(v, str) else v.decode() for k, v in request.headers.items()}
        answer = anyio.from_thread.run(
            functools.partial(
                self.client.request,
                request.method or "POST",
                f"{url.path}?{url.query}",
                content=content or b"",
                headers=headers,
            )
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers = requests.structures.CaseInsensitiveDict(answer.headers)
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


@pytest.fixture
async def sdk_session(gateway: Gateway) -> AsyncIterator[_ASGIAdapter]:
    session = FacebookSession(access_token=gateway.key, app_secret="app-secret")
    adapter = _ASGIAdapter(gateway.client)
    session.requests.mount("https://", adapter)
    previous = FacebookAdsApi.get_default_api()
    FacebookAdsApi.set_default_api(FacebookAdsApi(session, api_version=V))
    try:
        yield adapter
    finally:
        FacebookAdsApi.set_default_api(previous)


async def test_official_python_sdk_execute_round_trip(
    gateway: Gateway, sdk_session: _ASGIAdapter
) -> None:
    """The unmodified SDK (``EventRequest.execute()``), only its HTTP transport swapped."""
    request = _sdk_request(gateway.clock.now(), test_event_code="TEST77", partner_agent="pa")
    response = await anyio.to_thread.run_sync(request.execute)
    assert response.events_received == 3
    assert response.fbtrace_id
    (sent,) = sdk_session.sent
    assert urlsplit(sent.url or "").path == EVENTS_PATH
    assert "appsecret_proof=" in (urlsplit(sent.url or "").query)
    assert sent.headers["content-type"] == FORM
    _assert_sdk_events_stored(gateway, "TEST77")


@pytest.mark.parametrize("where", ["query", "json", "form", "multipart"])
async def test_top_level_parameters_accepted(gateway: Gateway, where: str) -> None:
    params = {
        "test_event_code": "TEST999",
        "partner_agent": "woocommerce_1_2",
        "namespace_id": "ns-42",
        "upload_id": "u-1",
        "upload_tag": "store-upload",
        "upload_source": "pos",
        "appsecret_proof": "00" * 32,
    }
    data = [purchase(gateway.clock.now())]
    if where == "query":
        r = await gateway.post(json={"data": data}, params=params)
    elif where == "json":
        r = await gateway.post(json={"data": data, **params})
    elif where == "form":
        body = urlencode({"data": json.dumps(data), **params})
        r = await gateway.post(content=body, headers={"content-type": FORM})
    else:
        files = {"data": (None, json.dumps(data))} | {k: (None, v) for k, v in params.items()}
        r = await gateway.post(files=files)
    assert_success(r, 1)
    assert [e["test_event_code"] for e in gateway.stored()] == ["TEST999"]


async def test_success_answer_has_metas_shape_and_no_cache(gateway: Gateway) -> None:
    r = await gateway.post_json([purchase(gateway.clock.now())])
    body = assert_success(r, 1)
    assert body["messages"] == []
    assert "no-store" in r.headers["cache-control"]
    other = await gateway.post_json([purchase(gateway.clock.now(), "order-2")])
    assert other.json()["fbtrace_id"] != body["fbtrace_id"]


# storage: hashed, never plaintext -----------------------------------------------------------


async def test_event_is_stored_hashed(gateway: Gateway) -> None:
    now = gateway.clock.now()
    r = await gateway.post_json([purchase(now, "o-1")])
    assert_success(r, 1)
    (row,) = gateway.stored()
    assert row["event_time"] == int(now) - 60
    ud = row["payload"]["user_data"]
    assert ud["em"] == [sha256("jane.doe@example.com")]
    assert ud["ph"] == [sha256("16505551212")]
    assert ud["fn"] == [sha256(FIRST_NAME.lower())]
    assert ud["ln"] == [sha256(LAST_NAME.lower())]
    assert ud["ct"] == [sha256("menlopark")]
    assert ud["zp"] == [sha256(ZIP)]
    assert ud["country"] == [sha256("us")]
    for key in ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "external_id"):
        assert all(len(h) == 64 and set(h) <= set("0123456789abcdef") for h in ud[key]), key
    # Plaintext only where Meta needs it.
    assert ud["client_ip_address"] == "203.0.113.7"
    assert ud["fbp"] == "fb.1.1700000000000.1234567890"
    assert row["payload"]["custom_data"] == {
        "currency": "USD",
        "value": 129.5,
        "order_id": "ORDER-1042",
    }
    assert_no_plaintext(row["raw_payload"])


async def test_no_plaintext_personal_data_in_the_database_file(gateway: Gateway) -> None:
    now = gateway.clock.now()
    events = [purchase(now, f"o-{i}") for i in range(20)]
    events.append(lead(now, "l-1"))
    assert_success(await gateway.post_json(events), 21)
    files = {"data": (None, json.dumps([purchase(now, "mp-1")]))}
    assert_success(await gateway.post(files=files), 1)
    body = urlencode({"data": json.dumps([json.dumps(purchase(now, "form-1"))])})
    assert_success(await gateway.post(content=body, headers={"content-type": FORM}), 1)
    raw = gateway.raw_database_bytes()
    assert b"o-19" in raw and b"form-1" in raw  # the real file, not an empty one
    assert_no_plaintext(raw)
    assert sha256("jane.doe@example.com").encode() in raw


# deduplication ------------------------------------------------------------------------------


async def test_repeat_of_same_event_is_received_not_stored_again(gateway: Gateway) -> None:
    now = gateway.clock.now()
    assert_success(await gateway.post_json([purchase(now, "o-1")]), 1)
    gateway.clock.advance(3600)
    body = assert_success(await gateway.post_json([purchase(now, "o-1")]), 1)
    assert len(body["messages"]) == 1
    assert "already received" in body["messages"][0]
    assert "1 event" in body["messages"][0]
    assert await count(gateway) == 1


async def test_same_event_id_with_another_name_is_another_event(gateway: Gateway) -> None:
    now = gateway.clock.now()
    event = purchase(now, "x-1")
    assert_success(await gateway.post_json([event]), 1)
    body = assert_success(await gateway.post_json([dict(event, event_name="InitiateCheckout")]), 1)
    assert body["messages"] == []
    assert await count(gateway) == 2


async def test_repeat_inside_one_request(gateway: Gateway) -> None:
    now = gateway.clock.now()
    body = assert_success(
        await gateway.post_json([purchase(now, "o-1"), lead(now), purchase(now, "o-1")]), 3
    )
    assert any("1 event(s) already received" in m for m in body["messages"])
    assert [e["event_id"] for e in gateway.stored()] == ["o-1", "lead-1"]


# authentication -----------------------------------------------------------------------------


async def test_missing_token_is_401_code_104(gateway: Gateway) -> None:
    r = await gateway.post_json([purchase(gateway.clock.now())], token=None)
    assert_error(r, 401, code=104, names=("access_token",))
    assert await count(gateway) == 0


async def test_empty_bearer_is_a_missing_token(gateway: Gateway) -> None:
    r = await gateway.post(
        token=None, json={"data": [lead(gateway.clock.now())]}, headers={"authorization": "Bearer "}
    )
    assert_error(r, 401, code=104)


@pytest.mark.parametrize("where", ["query", "json", "form", "bearer"])
async def test_unknown_key_is_401_code_190(gateway: Gateway, where: str) -> None:
    bogus = "sy_" + "A" * 43
    data = [purchase(gateway.clock.now())]
    if where == "query":
        r = await gateway.post_json(data, token=bogus)
    elif where == "json":
        r = await gateway.post(token=None, json={"data": data, "access_token": bogus})
    elif where == "form":
        body = urlencode({"data": json.dumps(data), "access_token": bogus})
        r = await gateway.post(token=None, content=body, headers={"content-type": FORM})
    else:
        r = await gateway.post(
            token=None, json={"data": data}, headers={"authorization": f"Bearer {bogus}"}
        )
    error = assert_error(r, 401, code=190, names=("access_token",))
    assert bogus not in r.text
    assert error["error_user_title"]
    assert await count(gateway) == 0


async def test_revoked_key_is_401_code_190(gateway: Gateway) -> None:
    now = gateway.clock.now()
    assert_success(await gateway.post_json([lead(now, "before")]), 1)
    assert await gateway.store.revoke_key(gateway.key_id, now=now)
    gateway.clock.advance(CACHE_SECONDS + 1)  # past the key cache
    r = await gateway.post_json([lead(gateway.clock.now(), "after")])
    assert_error(r, 401, code=190, names=("access_token",))
    assert [e["event_id"] for e in gateway.stored()] == ["before"]


async def test_key_of_another_dataset_is_401(gateway: Gateway) -> None:
    r = await gateway.post_json([purchase(gateway.clock.now())], token=gateway.other_key)
    assert_error(r, 401, code=190, names=("access_token", DATASET))
    r = await gateway.post(
        f"/{V}/{OTHER_DATASET}/events", json={"data": [purchase(gateway.clock.now())]}
    )
    assert_error(r, 401, code=190, names=("access_token", OTHER_DATASET))
    assert await count(gateway) == 0


@pytest.mark.parametrize("where", ["query", "json", "bearer"])
async def test_current_key_on_a_missing_dataset_is_400_code_100_33(
    gateway: Gateway, where: str
) -> None:
    """As Meta answers a valid token on an object that does not exist (documented 400,
    100/33), not "the key belongs to another dataset"."""
    data = {"data": [purchase(gateway.clock.now())]}
    if where == "query":
        r = await gateway.post("/v26.0/999999/events", json=data)
    elif where == "json":
        r = await gateway.post(
            "/v26.0/999999/events", token=None, json={**data, "access_token": gateway.key}
        )
    else:
        r = await gateway.post(
            "/v26.0/999999/events",
            token=None,
            json=data,
            headers={"authorization": f"Bearer {gateway.key}"},
        )
    error = assert_error(r, 400, code=100, subcode=33, names=("dataset_id", "999999"))
    assert "does not exist" in error["message"]
    assert "another dataset" not in error["message"]
    assert await count(gateway) == 0


async def test_unknown_key_on_a_missing_dataset_is_still_401(gateway: Gateway) -> None:
    """Without a current key nothing is said about which datasets exist."""
    r = await gateway.post("/v26.0/999999/events", token="sy_" + "A" * 43, json={"data": [lead(0)]})
    error = assert_error(r, 401, code=190)
    assert "999999" not in error["message"]


async def test_key_in_query_and_another_in_the_body_must_both_be_valid(
    gateway: Gateway,
) -> None:
    r = await gateway.post(
        json={"data": [lead(gateway.clock.now())], "access_token": "sy_" + "A" * 43}
    )
    assert_error(r, 401, code=190, names=("access_token",))
    r = await gateway.post(
        json={"data": [lead(gateway.clock.now())], "access_token": gateway.other_key}
    )
    assert_error(r, 401, code=190, names=("access_token", "another dataset"))
    assert await count(gateway) == 0


# request-level errors -----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v26", "26.0", "latest", "v26.0.1", "vX.Y", "V26.0"])
async def test_bad_version_path_is_4xx(gateway: Gateway, version: str) -> None:
    r = await gateway.post(
        f"/{version}/{DATASET}/events", json={"data": [lead(gateway.clock.now())]}
    )
    assert_error(r, 400, names=("version",))
    assert await count(gateway) == 0


async def test_other_versions_are_accepted(gateway: Gateway) -> None:
    now = gateway.clock.now()
    for i, version in enumerate(["v19.0", "v25.0", "v26.0", "v100.10"]):
        r = await gateway.post(f"/{version}/{DATASET}/events", json={"data": [lead(now, str(i))]})
        assert_success(r, 1)


async def test_more_than_1000_events_is_400_naming_data(gateway: Gateway) -> None:
    now = gateway.clock.now()
    r = await gateway.post_json([lead(now, f"l-{i}") for i in range(1001)])
    assert_error(r, 400, code=100, names=("data", "1001", "1000"))
    assert await count(gateway) == 0


async def test_exactly_1000_events_are_accepted(gateway: Gateway) -> None:
    now = gateway.clock.now()
    r = await gateway.post_json([lead(now, f"l-{i}") for i in range(1000)])
    assert_success(r, 1000)
    assert await count(gateway) == 1000


async def test_body_over_max_body_bytes_is_413(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(max_body_bytes=2000)
    now = gw.clock.now()
    small = orjson.dumps({"data": [lead(now, "small")]})
    assert len(small) < 2000
    assert_success(await gw.post(content=small, headers={"content-type": "application/json"}), 1)
    big = orjson.dumps({"data": [lead(now, f"l-{i}") for i in range(30)]})
    assert len(big) > 2000
    r = await gw.post(content=big, headers={"content-type": "application/json"})
    assert_error(r, 413, names=("body", "2000"))

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for i in range(0, len(big), 500):
            yield big[i : i + 500]

    r = await gw.post(content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert_error(r, 413, names=("body", "2000"))
    assert [e["event_id"] for e in gw.stored()] == ["small"]


@pytest.mark.parametrize(
    ("body", "content_type", "names"),
    [
        (b'{"data": [', "application/json", ("body", "JSON")),
        (b"[1, 2]", "application/json", ("body", "object")),
        (b'{"data": {"event_name": "Lead"}}', "application/json", ("data", "list")),
        (b'{"data": "not json"}', "application/json", ("data", "JSON")),
        (b'{"data": "{\\"a\\": 1}"}', "application/json", ("data", "list")),
        (b'{"data": []}', "application/json", ("data", "at least one")),
        (b'{"data": null}', "application/json", ("data", "list")),
        (b'{"events": []}', "application/json", ("data", "required")),
        (b"", "application/json", ("data", "required")),
        (b"data=%5B", FORM, ("data", "JSON")),
        (b"data=", FORM, ("data",)),
        (b'{"data": ["{not json"]}', "application/json", ("data[0]", "JSON")),
        (b'{"data": [1]}', "application/json", ("data[0]", "object")),
        (b"<xml/>", "application/xml", ("Content-Type",)),
        (b"\xff\xfe\x00d", FORM, ("body", "UTF-8")),
    ],
)
async def test_malformed_requests_are_400_naming_the_field(
    gateway: Gateway, body: bytes, content_type: str, names: tuple[str, ...]
) -> None:
    r = await gateway.post(content=body, headers={"content-type": content_type})
    assert_error(r, 400, code=100, names=names)
    assert await count(gateway) == 0


async def test_bad_token_type_is_400(gateway: Gateway) -> None:
    r = await gateway.post(token=None, json={"data": [lead(0)], "access_token": ["a"]})
    assert_error(r, 400, names=("access_token",))


async def test_file_upload_in_multipart_is_400(gateway: Gateway) -> None:
    payload = json.dumps([lead(gateway.clock.now())]).encode()
    r = await gateway.post(files={"data": ("events.json", payload, "application/json")})
    assert 400 <= r.status_code < 500
    assert_error(r, r.status_code)
    assert await count(gateway) == 0


# event-level errors: index, field, rule; no personal value; nothing stored -------------------


def _bad_user_data(now: float, user_data: dict[str, Any]) -> dict[str, Any]:
    event = purchase(now, "bad")
    event["user_data"] = {**event["user_data"], **user_data}
    return event


EVENT_ERRORS: list[tuple[str, Any, tuple[str, ...], int | None]] = [
    (
        "em not a string",
        lambda now: _bad_user_data(now, {"em": {"address": EMAIL}}),
        ("data[1].user_data.em", "must be a string"),
        None,
    ),
    (
        "em list item a bool",
        lambda now: _bad_user_data(now, {"em": [EMAIL, True]}),
        ("data[1].user_data.em[1]", "must be a string"),
        None,
    ),
    (
        "fn a number",
        lambda now: _bad_user_data(now, {"fn": 42}),
        ("data[1].user_data.fn", "must be a string"),
        None,
    ),
    (
        "ph an object",
        lambda now: _bad_user_data(now, {"ph": {"n": PHONE}}),
        ("data[1].user_data.ph", "must be a string or a number"),
        None,
    ),
    (
        "ip not an address",
        lambda now: _bad_user_data(now, {"client_ip_address": EMAIL}),
        ("data[1].user_data.client_ip_address", "IPv4 or IPv6"),
        None,
    ),
    (
        "fbp a list",
        lambda now: _bad_user_data(now, {"fbp": [EXTERNAL_ID]}),
        ("data[1].user_data.fbp", "single value"),
        None,
    ),
    (
        "user_data a list",
        lambda now: purchase(now, "bad", user_data=[EMAIL]),
        ("data[1].user_data", "must be an object"),
        None,
    ),
    (
        "event too old",
        lambda now: purchase(now, "bad", event_time=int(now) - 8 * 86400),
        ("data[1].event_time", "7 days"),
        2804003,
    ),
    (
        "event in the future",
        lambda now: purchase(now, "bad", event_time=int(now) + 3600),
        ("data[1].event_time", "future"),
        None,
    ),
    (
        "event_time in milliseconds",
        lambda now: purchase(now, "bad", event_time=int(now) * 1000),
        ("data[1].event_time", "milliseconds"),
        None,
    ),
    (
        "Purchase without currency",
        lambda now: purchase(now, "bad", custom_data={"value": 10}),
        ("data[1].custom_data.currency", "required", "Purchase"),
        None,
    ),
    (
        "Purchase without value",
        lambda now: purchase(now, "bad", custom_data={"currency": "USD"}),
        ("data[1].custom_data.value", "required", "Purchase"),
        None,
    ),
    (
        "unknown currency",
        lambda now: purchase(now, "bad", custom_data={"currency": "XYZ", "value": 1}),
        ("data[1].custom_data.currency", "ISO 4217"),
        None,
    ),
    (
        "value not a number",
        lambda now: purchase(now, "bad", custom_data={"currency": "USD", "value": "lots"}),
        ("data[1].custom_data.value", "number"),
        None,
    ),
    (
        "missing action_source",
        lambda now: {k: v for k, v in purchase(now, "bad").items() if k != "action_source"},
        ("data[1].action_source", "required"),
        None,
    ),
    (
        "website without url",
        lambda now: {k: v for k, v in purchase(now, "bad").items() if k != "event_source_url"},
        ("data[1].event_source_url", "required"),
        None,
    ),
    (
        "no usable user data",
        lambda now: purchase(now, "bad", user_data={"ge": "f", "fn": FIRST_NAME}),
        ("data[1].user_data", "too broad"),
        2804050,
    ),
]


@pytest.mark.parametrize(
    ("make", "names", "subcode"),
    [pytest.param(m, n, s, id=i) for i, m, n, s in EVENT_ERRORS],
)
async def test_bad_event_is_400_naming_index_field_and_rule(
    gateway: Gateway, make: Any, names: tuple[str, ...], subcode: int | None
) -> None:
    now = gateway.clock.now()
    events = [purchase(now, "good-0"), make(now), lead(now, "good-2")]
    r = await gateway.post_json(events)
    error = assert_error(r, 400, code=100, subcode=subcode, names=names)
    if subcode is None:
        assert "error_subcode" not in error or error["error_subcode"] != 2804003
    # all or nothing: the good events around the bad one are not stored either
    assert await count(gateway) == 0
    assert gateway.stored() == []


async def test_too_old_event_has_metas_title(gateway: Gateway) -> None:
    now = gateway.clock.now()
    r = await gateway.post_json([purchase(now, event_time=int(now) - 8 * 86400)])
    error = assert_error(r, 400, code=100, subcode=2804003, names=("data[0].event_time",))
    assert error["error_user_title"] == "Event Timestamp Too Old"


async def test_bad_event_in_form_encoding_is_named_the_same(gateway: Gateway) -> None:
    now = gateway.clock.now()
    data = [json.dumps(lead(now)), json.dumps(purchase(now, custom_data={"value": 1}))]
    body = urlencode({"data": json.dumps(data)})
    r = await gateway.post(content=body, headers={"content-type": FORM})
    assert_error(r, 400, code=100, names=("data[1].custom_data.currency",))
    assert await count(gateway) == 0


async def test_unusable_values_are_dropped_with_a_message_without_the_value(
    gateway: Gateway,
) -> None:
    now = gateway.clock.now()
    event = _bad_user_data(now, {"em": ["not-an-email-" + LAST_NAME], "db": "31/31/" + ZIP})
    body = assert_success(await gateway.post_json([event]), 1)
    joined = " ".join(body["messages"])
    assert "data[0].user_data.em" in joined and "dropped" in joined
    assert "data[0].user_data.db" in joined
    assert LAST_NAME.lower() not in joined.lower()
    assert_no_plaintext(gateway.raw_database_bytes())


async def test_events_are_acknowledged_only_once_committed(gateway: Gateway) -> None:
    """A 200 means the rows are visible to another connection straight away."""
    now = gateway.clock.now()
    for i in range(5):
        assert_success(await gateway.post_json([lead(now, f"l-{i}")]), 1)
        assert len(gateway.stored()) == i + 1


async def test_large_requests_are_cleaned_off_the_loop_and_stored(gateway: Gateway) -> None:
    now = gateway.clock.now()
    r = await gateway.post_json([purchase(now, f"o-{i}") for i in range(200)])
    assert_success(r, 200)
    assert await count(gateway) == 200  # how fast: bench/wallclock.py graph_ingest


async def test_city_and_names_never_in_stored_payload(gateway: Gateway) -> None:
    now = gateway.clock.now()
    assert_success(await gateway.post_json([purchase(now)]), 1)
    (row,) = gateway.stored()
    text = row["raw_payload"].decode()
    for value in (CITY, FIRST_NAME, LAST_NAME, PHONE, EMAIL, EXTERNAL_ID):
        assert value.lower() not in text.lower()


# bugs found by these tests (and their regressions) ------------------------------------------


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("where", "field"), [("custom_data", "custom_data"), ("top", "attribution_data")]
)
@pytest.mark.parametrize("depth", [300, 1000])
async def test_deeply_nested_event_is_a_4xx_not_a_500(
    gateway: Gateway, where: str, field: str, depth: int
) -> None:
    """Regression: JSON nested deeper than orjson.dumps can encode (255..1024 levels) used to
    pass validation and fail in SQLiteStore.ingest ('Recursion limit reached') with a 500."""
    now = gateway.clock.now()
    event = purchase(now, "deep")
    if where == "custom_data":
        event["custom_data"]["extra"] = "@@DEEP@@"
    else:  # a Meta field kept as sent (a field Meta does not know is dropped, not stored)
        event["attribution_data"] = "@@DEEP@@"
    body = orjson.dumps({"data": [lead(now), event]}).replace(b'"@@DEEP@@"', _nested(depth))
    r = await gateway.post(content=body, headers={"content-type": "application/json"})
    assert_error(r, 400, code=100, names=(f"data[1].{field}",))
    assert await count(gateway) == 0


async def test_ordinary_nesting_is_accepted(gateway: Gateway) -> None:
    now = gateway.clock.now()
    event = purchase(now)
    event["custom_data"]["contents"] = [{"id": "A", "quantity": 1}]
    event["custom_data"]["tags"] = [["x"], {"y": [1, 2]}]
    assert_success(await gateway.post_json([event]), 1)
    assert gateway.stored()[0]["payload"]["custom_data"]["tags"][1] == {"y": [1, 2]}


def _multipart(fields: list[tuple[str, bytes]], charset: str) -> tuple[bytes, str]:
    parts = b"".join(
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="'
        + name.encode()
        + b'"\r\n\r\n'
        + value
        + b"\r\n"
        for name, value in fields
    )
    return parts + b"--BOUNDARY--\r\n", f"multipart/form-data; boundary=BOUNDARY; charset={charset}"


@pytest.mark.parametrize("field", ["access_token", "test_event_code"])
async def test_multipart_charset_yielding_surrogates_is_a_4xx(gateway: Gateway, field: str) -> None:
    data = json.dumps([lead(gateway.clock.now())]).encode()
    fields = [("data", data), ("access_token", gateway.key.encode())]
    fields = [f for f in fields if f[0] != field] + [(field, b"+2AA-")]  # utf-7 for U+D800
    body, content_type = _multipart(fields, "utf-7")
    r = await gateway.post(token=None, content=body, headers={"content-type": content_type})
    assert r.status_code < 500, r.text
    assert_error(r, r.status_code, names=(field,))


async def test_multipart_data_over_one_mebibyte_is_accepted(gateway: Gateway) -> None:
    now = gateway.clock.now()
    events = []
    for i in range(1000):
        event = purchase(now, f"o-{i}")
        event["custom_data"]["contents"] = [
            {"id": f"SKU-{j}", "quantity": 1, "item_price": 9.5} for j in range(20)
        ]
        events.append(event)
    data = json.dumps(events)
    assert 1024 * 1024 < len(data) < gateway.settings.max_body_bytes
    form = await gateway.post(content=urlencode({"data": data}), headers={"content-type": FORM})
    assert_success(form, 1000)  # the same request, form-urlencoded: fine
    for event in events:
        event["event_id"] += "-mp"
    r = await gateway.post(files={"data": (None, json.dumps(events))})
    assert_success(r, 1000)


async def test_non_ascii_digit_content_length_is_a_4xx(gateway: Gateway) -> None:
    r = await gateway.post(
        content=b"",
        headers=[(b"content-type", b"application/json"), (b"content-length", b"\xb2")],
    )
    assert r.status_code < 500, r.text
    assert_error(r, 400, names=("Content-Length",))


@pytest.mark.parametrize("version", ["v26.0%0A", "v%D9%A2%D9%A6.0"])
async def test_version_with_newline_or_foreign_digits_is_4xx(
    gateway: Gateway, version: str
) -> None:
    r = await gateway.post(
        f"/{version}/{DATASET}/events", json={"data": [lead(gateway.clock.now())]}
    )
    assert_error(r, 400, names=("version",))
