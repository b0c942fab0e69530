"""Snapshots of the body sent to GA4, the event-name table and GA4's name rule, and every
body built here checked by the GA4 sandbox's own validator. Refresh the snapshots with
``SNAPSHOT_UPDATE=1`` after a wanted change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from signalyard.sinks.ga4.payload import (
    EVENT_NAMES,
    build_event,
    build_request,
    client_id_of,
    encode,
    event_name,
)
from signalyard.sinks.ga4.rules import name_problem, request_problem
from tests.sinks.snapshot import check_snapshot

from . import events

SNAPSHOTS = Path(__file__).parent / "snapshots"
NOW_MICROS = int(events.NOW * 1_000_000)


def body_of(event: dict[str, Any], client_id: str = events.CLIENT_ID) -> bytes:
    return encode(build_request([event], client_id=client_id))


def test_minimal_event() -> None:
    body = body_of(events.minimal())
    check_snapshot(SNAPSHOTS, "minimal", body)
    assert events.validate(body).messages == []
    sent = orjson.loads(body)
    assert sent["client_id"] == events.CLIENT_ID
    assert sent["timestamp_micros"] == events.EVENT_TIME * 1_000_000
    assert "user_data" not in sent and "consent" not in sent and "ip_override" not in sent


def test_full_event() -> None:
    body = body_of(events.full())
    check_snapshot(SNAPSHOTS, "full", body)
    assert events.validate(body).messages == []
    sent = orjson.loads(body)
    # Google's rules: the gmail variant (dots removed) and the + of E.164; a non-gmail
    # address is its base hash (both rules agree). Meta's own hashes are never sent.
    assert sent["user_data"] == {
        "sha256_email_address": [events.EM_GOOGLE, events.EM_OTHER],
        "sha256_phone_number": [events.PH_GOOGLE],
    }
    assert events.EM_META not in body.decode() and events.PH_META not in body.decode()
    assert sent["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"}
    assert sent["ip_override"] == "203.0.113.7"
    (event,) = sent["events"]
    assert event["name"] == "purchase"
    params = event["params"]
    assert params["transaction_id"] == "1001"  # the order id, not the event id
    assert params["currency"] == "EUR" and params["value"] == 142.52
    assert params["items"] == [
        {"item_id": "SKU-1", "item_name": "Mug", "price": 50.0, "quantity": 2},
        {"item_id": "1077218", "item_brand": "Acme", "price": 42.52, "quantity": 1},
    ]
    assert params["event_id"] == "evt-1001"
    # Not sent: names, address, external id, Meta's cookies, the user agent, click ids.
    for text in ("fb.1.", "IwAR2x", "Mozilla", "Cj0KCQ", "ttp-cookie", events.sha256("john")):
        assert text not in body.decode()


def test_purchase_without_order_id_uses_the_event_id_as_transaction_id() -> None:
    event = events.full()
    del event["custom_data"]["order_id"]
    assert build_event(event)["params"]["transaction_id"] == "evt-1001"
    event["event_name"] = "AddToCart"
    assert "transaction_id" not in build_event(event)["params"]


def test_value_goes_only_with_its_currency() -> None:
    event = events.full()
    del event["custom_data"]["currency"]
    params = build_event(event)["params"]
    assert "value" not in params and "currency" not in params


def test_search_term_and_over_long_optional_text_left_out() -> None:
    event = events.minimal()
    event["event_name"] = "Search"
    event["custom_data"] = {"search_string": "blue mug"}
    event["event_source_url"] = "https://shop.example/?" + "q" * 1000
    event["event_id"] = "e" * 101
    built = build_event(event)
    assert built == {"name": "search", "params": {"search_term": "blue mug"}}


@pytest.mark.parametrize(
    ("consent", "expected"),
    [
        ("granted", {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"}),
        ("denied", {"ad_user_data": "DENIED", "ad_personalization": "DENIED"}),
        ("pending", None),
        ("unknown", None),
    ],
)
def test_consent_from_the_stored_state(consent: str, expected: dict[str, str] | None) -> None:
    event = events.full()
    event["_consent"] = {"state": consent, "source": "api"}
    sent = orjson.loads(body_of(event))
    assert sent.get("consent") == expected


def test_a_phone_that_arrived_hashed_is_not_sent() -> None:
    event = events.full()
    event["_identity"] = {"em.gmail": {events.EM_META: None}, "ph.e164": {events.PH_META: None}}
    sent = orjson.loads(body_of(event))
    assert sent["user_data"] == {"sha256_email_address": [events.EM_OTHER]}


@pytest.mark.parametrize(
    ("cookie", "client_id"),
    [
        ("GA1.1.1234567890.1700000000", "1234567890.1700000000"),
        ("GA1.2.987654321.1690000000", "987654321.1690000000"),
        ("1234567890.1700000000", "1234567890.1700000000"),
        (" GA1.1.42.7 ", "42.7"),
        ("GS1.1.1700000000.1.1.1700000100.0.0.0", None),  # a session cookie, not _ga
        ("GA1.1.abc.def", None),
        ("", None),
    ],
)
def test_client_id_from_the_ga_cookie(cookie: str, client_id: str | None) -> None:
    assert client_id_of({"_browser_ids": {"ga": cookie}}) == client_id


def test_client_id_absent() -> None:
    assert client_id_of({}) is None
    assert client_id_of({"_browser_ids": {"ttp": "x"}}) is None
    assert client_id_of({"_browser_ids": {"ga": 1234}}) is None


def test_every_standard_name_maps_to_a_valid_ga4_name() -> None:
    assert EVENT_NAMES["Purchase"] == "purchase"
    assert EVENT_NAMES["AddToCart"] == "add_to_cart"
    assert EVENT_NAMES["InitiateCheckout"] == "begin_checkout"
    assert EVENT_NAMES["ViewContent"] == "view_item"
    assert EVENT_NAMES["Lead"] == "generate_lead"
    assert EVENT_NAMES["CompleteRegistration"] == "sign_up"
    assert EVENT_NAMES["AddPaymentInfo"] == "add_payment_info"
    assert EVENT_NAMES["Search"] == "search"
    assert EVENT_NAMES["PageView"] == "page_view"
    for meta, ga4 in EVENT_NAMES.items():
        assert name_problem(ga4, what="name", event=True) is None, meta
        body = body_of({**events.minimal(), "event_name": meta})
        assert events.validate(body).messages == [], meta


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("Newsletter Signup", "Newsletter_Signup"),
        ("my-event.v2", "my_event_v2"),
        ("__internal", "internal"),
        ("2fa_done", "fa_done"),
        ("x" * 50, "x" * 40),
        ("über-click", "ber_click"),
        ("!!!", ""),
    ],
)
def test_custom_names_are_cleaned_to_ga4_s_rule(name: str, sent: str) -> None:
    assert event_name(name) == sent


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("", "VALUE_REQUIRED"),
        ("session_start", "NAME_RESERVED"),
        ("ga_custom", "NAME_RESERVED"),
        ("firebase_x", "NAME_RESERVED"),
        ("notification_open", "NAME_RESERVED"),
    ],
)
def test_names_the_sink_refuses_are_the_ones_the_sandbox_refuses(name: str, code: str) -> None:
    event = {**events.minimal(), "event_name": name}
    request = build_request([event], client_id=events.CLIENT_ID)
    problem = request_problem(request, now_micros=NOW_MICROS)
    assert problem is not None and code in problem
    (message,) = events.validate(encode(request)).messages
    assert message.code == code


def test_request_rules() -> None:
    good = build_request([events.full()], client_id=events.CLIENT_ID)
    assert request_problem(good, now_micros=NOW_MICROS) is None
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "client_id": ""}, "VALUE_REQUIRED"),
        ({**good, "client_id": "abc"}, "VALUE_INVALID"),
        ({**good, "events": good["events"] * 26}, "EXCEEDED_MAX_ENTITIES"),
        ({**good, "events": []}, "VALUE_REQUIRED"),
        ({**good, "timestamp_micros": NOW_MICROS - 73 * 3600 * 1_000_000}, "VALUE_OUT_OF_BOUNDS"),
        ({**good, "user_data": {"sha256_email_address": ["NOT-HEX"]}}, "VALUE_INVALID"),
    ]
    for request, code in cases:
        problem = request_problem(request, now_micros=NOW_MICROS)
        assert problem is not None and code in problem, (request.keys(), problem)
        assert code in {m.code for m in events.validate(encode(request)).messages}


def test_param_rules() -> None:
    def with_params(params: dict[str, Any]) -> dict[str, Any]:
        return {"client_id": events.CLIENT_ID, "events": [{"name": "x", "params": params}]}

    cases: list[tuple[dict[str, Any], str]] = [
        ({f"p{i}": i for i in range(26)}, "EXCEEDED_MAX_ENTITIES"),
        ({"ga_x": 1}, "NAME_RESERVED"),
        ({"bad-name": 1}, "NAME_INVALID"),
        ({"transaction_id": "t" * 101}, "VALUE_OUT_OF_BOUNDS"),
        ({"page_location": "u" * 1001}, "VALUE_OUT_OF_BOUNDS"),
        ({"x": None}, "VALUE_INVALID"),
        ({"x": [1]}, "VALUE_INVALID"),
        ({"items": [{"price": 1}]}, "VALUE_REQUIRED"),
        ({"items": "sku"}, "VALUE_INVALID"),
    ]
    for params, code in cases:
        request = with_params(params)
        problem = request_problem(request, now_micros=NOW_MICROS)
        assert problem is not None and code in problem, (params, problem)
        assert code in {m.code for m in events.validate(encode(request)).messages}, params
    assert request_problem(with_params({"page_location": "u" * 1000}), now_micros=0) is None
