"""TikTok's consent rule: ldu becomes limited_data_use in the payload; no_pii keeps the agent."""

from __future__ import annotations

from signalyard.sinks.tiktok.consent import apply_consent
from signalyard.sinks.tiktok.payload import build_event
from tests.sinks.tiktok.events import full


def test_ldu_sends_limited_data_use_and_nothing_of_metas() -> None:
    event = full()
    sent = build_event(apply_consent(event, "ldu", "US-CA"))
    assert sent["limited_data_use"] is True
    assert not any(key.startswith("data_processing") for key in sent)
    assert "limited_data_use" not in build_event(event)
    assert "data_processing_options" not in event


def test_no_pii_sends_no_hashed_key() -> None:
    event = full()
    sent = build_event(apply_consent(event, "no_pii", "DE"))
    user = sent.get("user", {})
    assert not {"email", "phone", "external_id", "ip"} & set(user)
    assert user.get("user_agent")
    assert apply_consent(event, "full", "DE") is event
