"""The consent actions as Snap hears of them."""

from __future__ import annotations

import copy

from signalyard.sinks.snapchat.consent import apply_consent
from signalyard.sinks.snapchat.payload import build_event

from . import events


def test_ldu_sends_snap_s_limited_use_flag() -> None:
    sent = build_event(apply_consent(events.full(), "ldu", "US-CA"))
    assert sent["data_processing_options"] == ["LMU"]
    assert sent["user_data"]["em"]  # limited use, not removal


def test_no_pii_keeps_only_what_names_no_one() -> None:
    stored = events.full()
    before = copy.deepcopy(stored)
    sent = build_event(apply_consent(stored, "no_pii", "DE"))
    assert set(sent["user_data"]) == {"client_user_agent", "sc_click_id", "sc_cookie1"}
    assert stored == before


def test_full_is_unchanged() -> None:
    stored = events.full()
    assert apply_consent(stored, "full", None) is stored
