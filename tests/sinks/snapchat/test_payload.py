"""Snapshots of the body sent to Snap, and every body built here checked by the Snapchat
sandbox's own validator (what Snap would refuse or flag). Refresh the snapshots with
``SNAPSHOT_UPDATE=1`` after a wanted change."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from signalyard.sandbox.snapchat.formats import STANDARD_EVENTS
from signalyard.secret import Secret
from signalyard.sinks.snapchat.config import SnapchatConfig
from signalyard.sinks.snapchat.payload import (
    EVENT_NAMES,
    build_body,
    build_event,
    event_name,
    events_url,
)
from tests.sinks.snapshot import check_snapshot

from . import events

SNAPSHOTS = Path(__file__).parent / "snapshots"


def test_minimal_event() -> None:
    body = build_body([events.minimal()], integration=None)
    check_snapshot(SNAPSHOTS, "minimal", body)
    (checked,) = events.validate(body)
    assert checked.accepted, checked.error
    assert {d.code for d in checked.diagnostics} == {"missing_event_id"}


def test_full_event() -> None:
    body = build_body([events.full(), events.app_event()], integration="signalyard")
    check_snapshot(SNAPSHOTS, "full", body)
    full, app = events.validate(body)
    assert full.accepted and app.accepted
    assert full.diagnostics == (), [d.message for d in full.diagnostics]
    assert app.diagnostics == (), [d.message for d in app.diagnostics]


def test_user_data_is_snap_s_arrays_plain_ids_and_no_meta_cookie() -> None:
    user = build_event(events.full())["user_data"]
    for key in ("em", "ph", "fn", "ln", "ge", "ct", "st", "zp", "country", "external_id"):
        assert isinstance(user[key], list) and len(user[key][0]) == 64, key
    assert user["ph"] == [events.PH]  # Meta's digits-only hash: Snap's rule, not +E.164
    assert user["sc_click_id"] == "7a3c1e0b-5d2f-4b8a-9c6e-1f0d2e3a4b5c"
    assert user["sc_cookie1"] == "c3a1e2d4-0b5f-4e6a-8d7c-9f1e2a3b4c5d"
    assert user["client_ip_address"] == "2001:db8::7"
    assert not {"db", "fbc", "fbp"} & set(user)


def test_the_click_id_falls_back_on_the_page_url() -> None:
    event = events.minimal()
    event["event_source_url"] = "https://shop.example/?utm_source=snap&ScCid=abc-123"
    assert build_event(event)["user_data"]["sc_click_id"] == "abc-123"
    event["_click_ids"] = {"ScCid": "own-1"}
    assert build_event(event)["user_data"]["sc_click_id"] == "own-1"
    event["event_source_url"] = "https://shop.example/?sccid=lower"  # not Snap's spelling
    del event["_click_ids"]
    assert "sc_click_id" not in build_event(event)["user_data"]


@pytest.mark.parametrize(
    ("meta", "snap"),
    [("website", "WEB"), ("app", "MOBILE_APP"), ("physical_store", "OFFLINE"),
     ("phone_call", "OFFLINE"), (None, "WEB")],
)  # fmt: skip
def test_action_source(meta: str | None, snap: str) -> None:
    event = events.minimal()
    event["action_source"] = meta
    assert build_event(event)["action_source"] == snap


def test_every_mapped_name_is_one_of_snap_s_and_custom_names_go_as_they_are() -> None:
    assert set(EVENT_NAMES.values()) <= STANDARD_EVENTS
    assert event_name("Purchase") == "PURCHASE"
    assert event_name("Lead") == "SIGN_UP"
    assert event_name("AddPaymentInfo") == "ADD_BILLING"
    assert event_name("Donate") == "Donate"
    assert event_name("quiz_done") == "quiz_done"


def test_limited_use_is_snap_s_lmu_for_ours_and_for_meta_s_ldu() -> None:
    event = events.minimal()
    assert "data_processing_options" not in build_event(event)
    for given in (["LMU"], ["LDU"]):
        event["data_processing_options"] = given
        assert build_event(event)["data_processing_options"] == ["LMU"]


def test_wrong_types_are_left_out_rather_than_sent() -> None:
    event = events.minimal()
    event["custom_data"] = {
        "value": "n/a",
        "currency": 12,
        "num_items": 2.5,
        "contents": [{"id": True, "quantity": "x"}, "junk"],
        "content_ids": [None, ""],
    }
    event["user_data"]["em"] = [None, "", 5]
    built = build_event(event)
    assert "custom_data" not in built and "em" not in built["user_data"]
    (checked,) = events.validate(orjson.dumps({"data": [built]}))
    assert checked.accepted


def test_the_url_carries_the_pixel_and_the_validate_twin() -> None:
    config = SnapchatConfig(
        pixel_id="pix-1", access_token=Secret("t" * 20), api_url="http://h/sandbox/snapchat"
    )
    assert events_url(config, validate=False) == "http://h/sandbox/snapchat/v3/pix-1/events"
    assert events_url(config, validate=True).endswith("/v3/pix-1/events/validate")
