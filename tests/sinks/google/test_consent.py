"""Google's consent rule: ldu sends both consent fields denied; no_pii sends no identifier."""

from __future__ import annotations

from signalyard.sinks.google.consent import apply_consent
from signalyard.sinks.google.payload import google_event
from tests.sinks.google.events import full


def test_ldu_denies_both_consent_fields_whatever_the_state() -> None:
    event = full()
    event["_consent"] = {"state": "granted", "source": "api", "region": "US-CA"}
    assert google_event(event, event_source="WEB")["consent"] == {
        "adUserData": "CONSENT_GRANTED",
        "adPersonalization": "CONSENT_GRANTED",
    }
    sent = google_event(apply_consent(event, "ldu", "US-CA"), event_source="WEB")
    assert sent["consent"] == {
        "adUserData": "CONSENT_DENIED",
        "adPersonalization": "CONSENT_DENIED",
    }
    assert event["_consent"]["state"] == "granted"  # the stored event is not changed


def test_no_pii_sends_no_user_identifier() -> None:
    event = full()
    sent = google_event(apply_consent(event, "no_pii", "DE"), event_source="WEB")
    assert "userData" not in sent
    assert apply_consent(event, "full", "DE") is event
