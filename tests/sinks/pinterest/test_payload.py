"""Snapshots of the body sent to Pinterest, and every body built here checked by the
Pinterest sandbox's own validator. Refresh the snapshots with ``SNAPSHOT_UPDATE=1`` after a
wanted change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from signalyard.sandbox.pinterest.formats import EVENT_NAMES as PINTEREST_NAMES
from signalyard.secret import Secret
from signalyard.sinks.pinterest.config import PinterestConfig
from signalyard.sinks.pinterest.payload import (
    EVENT_NAMES,
    action_source,
    build_event,
    encode,
    event_name,
    events_url,
)
from tests.sinks.snapshot import check_snapshot

from . import events

SNAPSHOTS = Path(__file__).parent / "snapshots"


def body_of(evs: list[dict[str, Any]]) -> bytes:
    return encode([build_event(e) for e in evs])


def test_minimal_event() -> None:
    body = body_of([events.minimal()])
    check_snapshot(SNAPSHOTS, "minimal", body)
    (checked,) = events.validate(body)
    assert checked.accepted, checked.error
    assert checked.diagnostics == ()


def test_full_event() -> None:
    body = body_of([events.full(), events.minimal()])
    check_snapshot(SNAPSHOTS, "full", body)
    full, minimal = events.validate(body)
    assert full.accepted and minimal.accepted
    assert full.diagnostics == (), [d.message for d in full.diagnostics]


def test_hashed_keys_are_arrays_and_only_pinterest_s_rules_are_sent() -> None:
    sent = build_event(events.full())["user_data"]
    assert sent["em"] == [events.EM] and sent["ph"] == [events.PH]
    assert sent["st"] == [events.sha256("ca")]  # the French region's name is left out
    assert sent["country"] == [events.sha256("us")] and sent["ge"] == [events.sha256("m")]
    assert sent["click_id"] == "dj0yJnU9Example"
    assert sent["client_ip_address"] == "2001:db8::7"
    for key in ("fbc", "fbp", "partner_id", "hashed_maids"):
        assert key not in sent


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("st", "montana"),
        ("country", "usa"),
        ("ge", "male"),
    ],
)
def test_a_hash_of_another_rule_is_left_out(key: str, value: str) -> None:
    event = events.minimal()
    event["user_data"][key] = [events.sha256(value)]
    assert key not in build_event(event)["user_data"]


def test_values_not_sha256_are_left_out_and_upper_hex_is_lowered() -> None:
    event = events.minimal()
    event["user_data"]["em"] = ["not-a-hash", "d41d8cd98f00b204e9800998ecf8427e", events.EM.upper()]
    assert build_event(event)["user_data"]["em"] == [events.EM]


def test_the_click_id_falls_back_to_the_url_s_epik() -> None:
    event = events.minimal()
    event["event_source_url"] = "https://shop.example/p?utm_source=pinterest&epik=dj0yJnU9Url"
    assert build_event(event)["user_data"]["click_id"] == "dj0yJnU9Url"
    event["_click_ids"] = {"epik": "own"}
    assert build_event(event)["user_data"]["click_id"] == "own"


def test_value_and_prices_are_decimal_strings() -> None:
    event = events.minimal()
    event["custom_data"] = {
        "value": 1e20,
        "contents": [
            {"id": "a", "item_price": 19.0, "quantity": 2.0},
            {"id": "b", "item_price": "x"},
        ],
    }
    custom = build_event(event)["custom_data"]
    assert custom["value"] == "100000000000000000000"
    assert custom["contents"] == [{"id": "a", "item_price": "19", "quantity": 2}, {"id": "b"}]


def test_ldu_sends_the_ldp_flag_and_opt_out_travels() -> None:
    event = events.minimal()
    event["data_processing_options"] = ["LDU"]
    event["opt_out"] = True
    sent = build_event(event)
    assert sent["custom_data"] == {"opt_out_type": "LDP"} and sent["opt_out"] is True
    event["data_processing_options"] = []
    event["opt_out"] = False
    sent = build_event(event)
    assert "custom_data" not in sent and "opt_out" not in sent


def test_every_mapped_name_is_one_pinterest_takes_and_others_are_custom() -> None:
    assert set(EVENT_NAMES.values()) <= PINTEREST_NAMES
    assert event_name("Purchase") == "checkout"
    assert event_name("ViewContent") == event_name("PageView") == "page_visit"
    assert event_name("CompleteRegistration") == "signup"
    assert event_name("Donate") == event_name("MyOwnEvent") == event_name("") == "custom"


@pytest.mark.parametrize(
    ("source", "app_data", "expected"),
    [
        ("website", None, "web"),
        (None, None, "web"),
        ("app", {"extinfo": ["i2", "com.shop"]}, "app_ios"),
        ("app", {"extinfo": ["a2", "com.shop"]}, "app_android"),
        ("app", None, "offline"),
        ("physical_store", None, "offline"),
        ("email", None, "offline"),
    ],
)
def test_action_source(source: str | None, app_data: Any, expected: str) -> None:
    assert action_source({"action_source": source, "app_data": app_data}) == expected


def test_url_and_test_mode() -> None:
    config = PinterestConfig(
        ad_account_id="42", access_token=Secret("t" * 20), api_url="http://sb/sandbox/pinterest"
    )
    assert events_url(config, test=False) == "http://sb/sandbox/pinterest/v5/ad_accounts/42/events"
    assert events_url(config, test=True).endswith("/v5/ad_accounts/42/events?test=true")


def test_a_wrong_type_is_left_out_not_sent() -> None:
    event = events.minimal()
    event["event_time"] = "yesterday"
    event["custom_data"] = {"currency": 12, "num_items": 1.5, "content_ids": [True, "x"]}
    sent = build_event(event)
    assert "event_time" not in sent
    assert sent["custom_data"] == {"content_ids": ["x"]}
