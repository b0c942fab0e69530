"""Snapshots of the body sent to Reddit, and every body built here checked by the Reddit
sandbox's own validator (what Reddit would refuse or flag). Refresh the snapshots with
``SNAPSHOT_UPDATE=1`` after a wanted change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from signalyard.sandbox.reddit import formats
from signalyard.sinks.reddit.payload import (
    MAX_CUSTOM_NAME,
    TRACKING_TYPES,
    build_body,
    build_event,
    event_at,
    event_type,
)
from tests.sinks.snapshot import check_snapshot

from . import events

SNAPSHOTS = Path(__file__).parent / "snapshots"


def test_minimal_event() -> None:
    body = build_body([events.minimal()], test_mode=False)
    check_snapshot(SNAPSHOTS, "minimal", body)
    (checked,) = events.validate(body)
    assert checked.accepted, checked.error
    # A minimal PageVisit lacks only a conversion id; its IP is sent hashed (no flag).
    assert {d.code for d in checked.diagnostics} == {"missing_conversion_id"}


def test_full_event() -> None:
    body = build_body([events.full(), events.minimal()], test_mode=True)
    check_snapshot(SNAPSHOTS, "full", body)
    full, minimal = events.validate(body)
    assert full.accepted and minimal.accepted
    assert full.diagnostics == (), [d.message for d in full.diagnostics]
    assert full.test_mode and full.conversion_id == "order-1001"


def test_what_the_full_event_carries() -> None:
    sent = build_event(events.full())
    assert sent["event_at"] == "2027-01-15T07:00:00.000Z"
    assert sent["event_type"] == {"tracking_type": "Purchase"}
    assert sent["click_id"] == events.RDT_CID
    user = sent["user"]
    assert user["phone_number"] == events.PH_REDDIT  # the +E.164 variant, never Meta's
    assert events.PH_META not in orjson.dumps(sent).decode()
    assert user["ip_address"] == events.sha256(events.IP)  # hashed here, at send time
    assert events.IP not in orjson.dumps(sent).decode()
    assert user["external_id"] == events.EXTERNAL_ID
    assert user["uuid"] == events.RDT_UUID
    assert "email" not in user  # Meta's hash is not Reddit's (see the payload module)
    assert events.EM_META not in orjson.dumps(sent).decode()
    assert sent["event_metadata"] == {
        "conversion_id": "order-1001",
        "currency": "EUR",
        "value_decimal": 142.52,
        "item_count": 3,
        "products": [{"id": "SKU-1", "name": "Mug"}, {"id": "1077218", "category": "Kitchen"}],
    }


def test_every_mapped_name_is_a_reddit_tracking_type() -> None:
    assert set(TRACKING_TYPES.values()) <= set(formats.TRACKING_TYPES) - {"Custom"}
    assert TRACKING_TYPES["PageView"] == "PageVisit"
    assert TRACKING_TYPES["CompleteRegistration"] == "SignUp"


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ("Purchase", {"tracking_type": "Purchase"}),
        ("AddToCart", {"tracking_type": "AddToCart"}),
        ("Lead", {"tracking_type": "Lead"}),
        ("CompleteRegistration", {"tracking_type": "SignUp"}),
        ("ViewContent", {"tracking_type": "ViewContent"}),
        ("PageView", {"tracking_type": "PageVisit"}),
        ("Search", {"tracking_type": "Search"}),
        ("AddToWishlist", {"tracking_type": "AddToWishlist"}),
        ("InitiateCheckout", {"tracking_type": "Custom", "custom_event_name": "InitiateCheckout"}),
        ("Subscribe", {"tracking_type": "Custom", "custom_event_name": "Subscribe"}),
        ("signup_step_2", {"tracking_type": "Custom", "custom_event_name": "signup_step_2"}),
    ],
)
def test_event_names(meta: str, expected: dict[str, str]) -> None:
    assert event_type(meta) == expected
    event = {**events.minimal(), "event_name": meta}
    (checked,) = events.validate(build_body([event], test_mode=False))
    assert checked.accepted, checked.error


def test_a_long_custom_name_is_cut_to_reddits_limit() -> None:
    sent = event_type("x" * 100)
    assert sent["custom_event_name"] == "x" * MAX_CUSTOM_NAME
    (checked,) = events.validate(
        build_body([{**events.minimal(), "event_name": "x" * 100}], test_mode=False)
    )
    assert checked.accepted


def test_ldu_from_the_consent_action_and_from_metas_codes() -> None:
    ldu = {**events.full(), "data_processing_options": ["LDU"], "_ldu_region": "US-CO"}
    options = build_event(ldu)["user"]["data_processing_options"]
    assert options == {"modes": ["LDU"], "country": "US", "region": "US-CO"}
    # no region from the action: the event's consent region
    ldu.pop("_ldu_region")
    assert build_event(ldu)["user"]["data_processing_options"]["region"] == "US-CA"
    # an event sent with Meta's LDU codes and no consent region
    meta = {
        **events.minimal(),
        "data_processing_options": ["LDU"],
        "data_processing_options_country": 1,
        "data_processing_options_state": 1000,
    }
    assert build_event(meta)["user"]["data_processing_options"] == {
        "modes": ["LDU"],
        "country": "US",
        "region": "US-CA",
    }
    # Meta's 0 (geolocate): the mode alone
    meta["data_processing_options_country"] = 0
    assert build_event(meta)["user"]["data_processing_options"] == {"modes": ["LDU"]}
    for event in (ldu, meta):
        (checked,) = events.validate(build_body([event], test_mode=False))
        assert checked.accepted and checked.limited_data_use


def test_values_of_the_wrong_type_are_left_out() -> None:
    event: dict[str, Any] = {
        **events.minimal(),
        "event_id": 42,
        "custom_data": {
            "currency": 978,
            "value": "not a number",
            "num_items": 2.5,
            "contents": ["x", {"id": True, "quantity": "two"}, {"id": 7.0}],
        },
        "_click_ids": {"rdt_cid": 5},
        "_browser_ids": {"rdt_uuid": ["x"]},
        "user_data": {"client_ip_address": 7, "client_user_agent": None},
    }
    sent = build_event(event)
    assert sent["event_metadata"] == {"conversion_id": "42", "products": [{"id": "7"}]}
    assert "user" not in sent and "click_id" not in sent
    (checked,) = events.validate(build_body([event], test_mode=False))
    assert checked.accepted, checked.error


def test_event_at_is_rfc3339_utc_with_milliseconds() -> None:
    assert event_at(0) == "1970-01-01T00:00:00.000Z"
    assert event_at(1_800_000_000.25) == "2027-01-15T08:00:00.250Z"
    assert event_at(True) is None and event_at("1800000000") is None and event_at(-1) is None
