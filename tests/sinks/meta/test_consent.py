"""Meta's consent rule: Limited Data Use with the US state's code, and what no_pii keeps."""

from __future__ import annotations

from signalyard.sinks.meta.consent import apply_consent

EVENT = {
    "event_name": "Purchase",
    "user_data": {
        "em": ["a" * 64],
        "ph": ["b" * 64],
        "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0",
        "fbp": "fb.1.1.2",
        "fbc": "fb.1.1.abc",
        "external_id": ["c" * 64],
    },
}


def test_full_changes_nothing() -> None:
    assert apply_consent(EVENT, "full", "DE") is EVENT


def test_ldu_with_a_known_us_state_and_geolocated_otherwise() -> None:
    ca = apply_consent(EVENT, "ldu", "US-CA")
    assert ca["data_processing_options"] == ["LDU"]
    assert (ca["data_processing_options_country"], ca["data_processing_options_state"]) == (1, 1000)
    tx = apply_consent(EVENT, "ldu", "US-TX")
    assert tx["data_processing_options_state"] == 1005
    anywhere = apply_consent(EVENT, "ldu", "US-NY")
    assert (
        anywhere["data_processing_options_country"],
        anywhere["data_processing_options_state"],
    ) == (0, 0)
    assert apply_consent(EVENT, "ldu", None)["data_processing_options_country"] == 0
    assert "data_processing_options" not in EVENT  # the stored event is not changed


def test_no_pii_keeps_only_the_browser_cookies_and_agent() -> None:
    out = apply_consent(EVENT, "no_pii", "DE")
    assert out["user_data"] == {
        "client_user_agent": "Mozilla/5.0",
        "fbp": "fb.1.1.2",
        "fbc": "fb.1.1.abc",
    }
    assert "em" in EVENT["user_data"]
