"""What ``ldu`` and ``no_pii`` change in what Pinterest receives."""

from __future__ import annotations

import copy

from signalyard.sinks.pinterest.consent import apply_consent, truncated_ip
from signalyard.sinks.pinterest.payload import build_event

from . import events


def test_ldu_sends_the_ldp_flag_with_the_event_s_own_state() -> None:
    stored = events.full()
    before = copy.deepcopy(stored)
    sent = build_event(apply_consent(stored, "ldu", "US-CO"))
    assert sent["custom_data"]["opt_out_type"] == "LDP"
    assert sent["user_data"]["st"] == [events.sha256("ca")]  # the event's own, kept
    assert stored == before


def test_ldu_adds_the_region_s_state_and_country_when_the_event_has_none() -> None:
    sent = build_event(apply_consent(events.minimal(), "ldu", "US-CA"))
    assert sent["user_data"]["st"] == [events.sha256("ca")]
    assert sent["user_data"]["country"] == [events.sha256("us")]
    only_country = build_event(apply_consent(events.minimal(), "ldu", "FR"))["user_data"]
    assert only_country["country"] == [events.sha256("fr")] and "st" not in only_country
    nothing = build_event(apply_consent(events.minimal(), "ldu", None))["user_data"]
    assert "st" not in nothing and "country" not in nothing


def test_no_pii_keeps_the_user_agent_a_truncated_ip_and_the_click_id() -> None:
    stored = events.full()
    stored["_identity"] = {"ph.e164": {}}
    sent = build_event(apply_consent(stored, "no_pii", "US-CA"))
    assert sent["opt_out"] is True
    assert sent["user_data"] == {
        "client_ip_address": "2001:db8::",
        "client_user_agent": stored["user_data"]["client_user_agent"],
        "click_id": "dj0yJnU9Example",
    }


def test_truncated_ip() -> None:
    assert truncated_ip("203.0.113.77") == "203.0.113.0"
    assert truncated_ip("2001:db8:1234:5678::1") == "2001:db8:1234::"
    assert truncated_ip("not an ip") is None and truncated_ip(None) is None


def test_full_changes_nothing() -> None:
    stored = events.full()
    assert apply_consent(stored, "full", "US-CA") is stored
