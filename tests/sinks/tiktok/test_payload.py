"""Snapshots of the body sent to TikTok, and every body built here checked by the TikTok
sandbox's own validator (what TikTok would refuse or flag). Refresh the snapshots with
``SNAPSHOT_UPDATE=1`` after a wanted change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from signalyard.secret import Secret
from signalyard.sinks.tiktok.config import TikTokConfig
from signalyard.sinks.tiktok.payload import EVENT_NAMES, build_body, build_event, track_url
from tests.sinks.snapshot import check_snapshot

from . import events

SNAPSHOTS = Path(__file__).parent / "snapshots"
PIXEL = "CABC123DEF456GHI789J"


def body_of(evs: list[dict[str, Any]], test_event_code: str | None = None) -> bytes:
    return build_body(
        evs,
        event_source="web",
        event_source_id=PIXEL,
        test_event_code=test_event_code,
        partner_name=None,
    )


def test_minimal_event() -> None:
    body = body_of([events.minimal()])
    check_snapshot(SNAPSHOTS, "minimal", body)
    (checked,) = events.validate(body)
    assert checked.accepted, checked.error
    # What the sandbox flags is what a minimal PageView lacks, nothing about its shape.
    assert {d.code for d in checked.diagnostics} == {"meta_event_name", "missing_event_id"}


def test_full_event() -> None:
    body = body_of([events.full(), events.minimal()], test_event_code="TEST12345")
    check_snapshot(SNAPSHOTS, "full", body)
    full, minimal = events.validate(body)
    assert full.accepted and minimal.accepted
    assert full.diagnostics == (), [d.message for d in full.diagnostics]
    assert full.test_event_code == "TEST12345"


def test_the_full_event_s_keys() -> None:
    (event,) = orjson.loads(body_of([events.full()]))["data"]
    assert event["event"] == "Purchase"
    assert event["event_time"] == events.EVENT_TIME and event["event_id"] == "order-1001"
    user = event["user"]
    assert user["email"] == events.EM
    assert user["phone"] == events.PH_TIKTOK  # +E.164, never Meta's digits-only hash
    assert events.PH_META not in orjson.dumps(event).decode()
    assert user["external_id"] == events.EXTERNAL_ID
    assert (user["ip"], user["ttclid"]) == ("2001:db8::7", "E.C.P.CvQBi3kxnJv0Example")
    # Meta-rule hashes TikTok does not document as its own, and Meta's cookies: not sent.
    for key in ("first_name", "last_name", "zip_code", "city", "state", "country", "ttp"):
        assert key not in user
    assert "fbp" not in orjson.dumps(event).decode()
    props = event["properties"]
    assert (props["currency"], props["value"], props["order_id"]) == ("EUR", 142.52, "1001")
    assert props["contents"][1] == {
        "content_id": "1077218",
        "brand": "Acme",
        "price": 42.52,
        "quantity": 1,
        "content_type": "product",
    }
    assert props["content_ids"] == ["SKU-1", "1077218"]
    assert event["page"] == {
        "url": "https://shop.example/checkout/thanks",
        "referrer": "https://shop.example/checkout",
    }
    assert "limited_data_use" not in event
    assert not any(key.startswith("_") for key in orjson.dumps(event).decode().split('"'))


def test_limited_data_use_follows_the_consent_action() -> None:
    body = body_of([events.ldu()])
    (event,) = orjson.loads(body)["data"]
    assert event["limited_data_use"] is True
    assert event["user"]["email"] == events.EM  # LDU limits processing, it keeps the keys
    assert "data_processing_options" not in event
    (checked,) = events.validate(body)
    assert checked.accepted and checked.limited_data_use and checked.diagnostics == ()


def test_a_phone_without_its_variant_is_left_out() -> None:
    """A phone that arrived hashed (variant ``null``), or whose variant was not made for the
    event, has no +E.164 hash: TikTok gets no phone rather than Meta's digits-only hash."""
    arrived_hashed = events.full()
    arrived_hashed["_identity"] = {"ph.e164": {events.PH_META: None}}
    not_made = events.full()
    del not_made["_identity"]
    for event in (arrived_hashed, not_made):
        user = build_event(event)["user"]
        assert "phone" not in user and user["email"] == events.EM


def test_several_values_go_as_an_array() -> None:
    event = events.full()
    second = events.sha256("+14155550100")
    event["user_data"]["ph"] = [events.PH_META, events.sha256("14155550100")]
    event["_identity"] = {
        "ph.e164": {events.PH_META: events.PH_TIKTOK, events.sha256("14155550100"): second}
    }
    event["user_data"]["em"] = [events.EM, events.sha256("jane@example.com")]
    built = build_event(event)
    assert built["user"]["phone"] == [events.PH_TIKTOK, second]
    assert built["user"]["email"] == [events.EM, events.sha256("jane@example.com")]
    (checked,) = events.validate(body_of([event]))
    assert checked.accepted and checked.diagnostics == ()


def test_ttclid_from_the_page_url_when_the_event_has_none() -> None:
    event = events.minimal()
    event["event_source_url"] = "https://shop.example/p?utm_source=tt&ttclid=E.C.P.FromUrl"
    assert build_event(event)["user"]["ttclid"] == "E.C.P.FromUrl"


def test_ttp_from_the_browser_ids_and_accepted_by_the_sandbox() -> None:
    event = events.full()
    event["_browser_ids"] = {"ttp": "2Qm3ttpCookieValue"}
    assert build_event(event)["user"]["ttp"] == "2Qm3ttpCookieValue"
    (checked,) = events.validate(body_of([event]))
    assert checked.accepted and checked.diagnostics == ()
    assert "ttp" not in build_event(events.minimal())["user"]


@pytest.mark.parametrize(("meta", "tiktok"), sorted(EVENT_NAMES.items()))
def test_every_mapped_name_passes_the_sandbox(meta: str, tiktok: str) -> None:
    event = events.full()
    event["event_name"] = meta
    built = build_event(event)
    assert built["event"] == tiktok
    (checked,) = events.validate(body_of([event]))
    assert checked.accepted, checked.error
    assert "nonstandard_spelling" not in {d.code for d in checked.diagnostics}


def test_custom_names_are_sent_as_they_are() -> None:
    event = events.minimal()
    event["event_name"] = "WatchedDemo"
    assert build_event(event)["event"] == "WatchedDemo"


def test_values_of_the_wrong_type_are_left_out_not_refused() -> None:
    """TikTok refuses an event with a field of the wrong type; the sink leaves the field out."""
    event = events.full()
    event["custom_data"] = {
        "currency": "usd",
        "value": "12.50",
        "content_type": "sku",
        "contents": [{"id": True, "quantity": 1.5, "item_price": "x"}, "junk"],
        "num_items": "two",
        "order_id": None,
    }
    body = body_of([event])
    (built,) = orjson.loads(body)["data"]
    assert built["properties"] == {"currency": "USD", "value": 12.5}
    (checked,) = events.validate(body)
    assert checked.accepted and checked.diagnostics == ()


def test_the_input_events_are_not_changed() -> None:
    event = events.full()
    body_of([event])
    assert event == events.full()


@pytest.mark.parametrize(
    ("api_url", "expected"),
    [
        ("https://business-api.tiktok.com", "https://business-api.tiktok.com"),
        ("http://127.0.0.1:8088/sandbox/tiktok/", "http://127.0.0.1:8088/sandbox/tiktok"),
    ],
)
def test_track_url(api_url: str, expected: str) -> None:
    config = TikTokConfig(pixel_code=PIXEL, access_token=Secret("t"), api_url=api_url)
    assert track_url(config) == expected + "/open_api/v1.3/event/track/"
