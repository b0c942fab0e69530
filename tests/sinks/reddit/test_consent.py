"""The consent actions as Reddit receives them."""

from __future__ import annotations

import copy

from signalyard.sinks.reddit.consent import apply_consent
from signalyard.sinks.reddit.payload import build_event

from . import events


def test_ldu_sends_reddits_limited_data_use_with_the_region() -> None:
    stored = events.full()
    before = copy.deepcopy(stored)
    sent = build_event(apply_consent(stored, "ldu", "US-TX"))
    assert sent["user"]["data_processing_options"] == {
        "modes": ["LDU"],
        "country": "US",
        "region": "US-TX",
    }
    assert stored == before


def test_no_pii_keeps_the_user_agent_cookie_and_click_id_only() -> None:
    sent = build_event(apply_consent(events.full(), "no_pii", "DE"))
    assert set(sent["user"]) == {"user_agent", "uuid"}
    assert sent["click_id"] == events.RDT_CID


def test_full_is_unchanged() -> None:
    stored = events.full()
    assert apply_consent(stored, "full", None) is stored
