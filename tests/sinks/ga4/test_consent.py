"""How a consent action changes what GA4 receives (the stored event never changes)."""

from __future__ import annotations

import copy

import orjson

from signalyard.sinks.ga4.consent import apply_consent
from signalyard.sinks.ga4.payload import build_request, client_id_of

from . import events


def test_full_is_unchanged() -> None:
    event = events.full()
    assert apply_consent(event, "full", "US-CA") is event


def test_ldu_denies_both_consent_fields_whatever_the_state() -> None:
    event = events.full()
    before = copy.deepcopy(event)
    sent = apply_consent(event, "ldu", "US-CA")
    assert event == before
    request = build_request([sent], client_id=events.CLIENT_ID)
    assert request["consent"] == {"ad_user_data": "DENIED", "ad_personalization": "DENIED"}
    assert request["user_data"]  # still measured, with the restriction


def test_no_pii_sends_no_personal_data_and_not_the_cookie_s_client_id() -> None:
    event = events.full()
    before = copy.deepcopy(event)
    sent = apply_consent(event, "no_pii", "DE")
    assert event == before
    assert client_id_of(sent) is None  # a client id is made for the event alone
    assert sent["_browser_ids"] == {"ttp": "ttp-cookie"}
    request = build_request([sent], client_id="1.2")
    assert "user_data" not in request and "ip_override" not in request
    body = orjson.dumps(request).decode()
    for text in ("203.0.113.7", events.EM_GOOGLE, events.PH_GOOGLE, events.EM_OTHER):
        assert text not in body
    assert "consent" in body  # the state still says what the person chose
