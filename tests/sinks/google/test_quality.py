"""Google's match model: click ids first (one is sent), email and phone by Google's own
hashing rules, IP and user agent as device information only, no address (not sent)."""

from __future__ import annotations

import pytest

from signalyard.insights.quality import BIT, estimate, event_mask, score_of
from signalyard.sinks import REGISTRY
from signalyard.sinks.google.payload import google_event
from signalyard.sinks.google.quality import MODEL

H = "a" * 64


def test_the_registry_lists_it() -> None:
    assert REGISTRY["google"].match_model is MODEL
    assert "Meta" not in MODEL.title + MODEL.note
    assert "estimate" in MODEL.note.lower()


def test_its_keys_are_what_google_is_sent() -> None:
    assert set(MODEL.keys) == {
        "gclid",
        "wbraid",
        "gbraid",
        "em.gmail",
        "ph.e164",
        "client_ip_address",
        "client_user_agent",
    }
    event = {
        "event_name": "Purchase",
        "event_time": 1_800_000_000,
        "user_data": {
            "em": [H],
            "ph": [H],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
            "zp": [H],
            "country": [H],
            "fn": [H],
            "ln": [H],
        },
        "_identity": {"ph.e164": {H: "b" * 64}, "em.gmail": {}},
        "_click_ids": {"gclid": "Cj0-click", "wbraid": "wb"},
    }
    sent = google_event(event, event_source="WEB")  # type: ignore[arg-type]
    assert len(sent["userData"]["userIdentifiers"]) == 2  # email and phone, no address
    assert sent["adIdentifiers"] == {"gclid": "Cj0-click"}
    assert set(sent["eventDeviceInfo"]) == {"userAgent", "ipAddress"}
    mask = event_mask(event)
    assert all(mask & BIT[k] for k in MODEL.keys if k != "gbraid")


def test_one_click_id_counts() -> None:
    assert score_of({BIT["gclid"]: 1}, MODEL) == pytest.approx(6.0)
    both = BIT["gclid"] | BIT["wbraid"] | BIT["gbraid"]
    assert score_of({both: 1}, MODEL) == pytest.approx(6.0)
    assert score_of({BIT["gbraid"]: 1}, MODEL) == pytest.approx(3.5)


def test_hashes_by_metas_rules_and_addresses_do_not_count() -> None:
    meta_rules = BIT["em"] | BIT["ph"] | BIT["fn"] | BIT["ln"] | BIT["zp"] | BIT["country"]
    assert score_of({meta_rules | BIT["fbc"] | BIT["external_id"]: 1}, MODEL) == 0.0
    assert score_of({BIT["em.gmail"]: 1}, MODEL) == pytest.approx(5.5)
    ip_ua = BIT["client_ip_address"] | BIT["client_user_agent"]
    assert score_of({ip_ua: 1}, MODEL) == pytest.approx(0.5)  # device information only
    result = estimate({BIT["gclid"] | BIT["em.gmail"] | BIT["ph.e164"]: 1}, MODEL)
    assert result["score"] == 8.9
    assert set(result["coverage"]) == set(MODEL.keys)


def test_advice() -> None:
    assert set(MODEL.advice) == {"em.gmail", "ph.e164"}
    assert MODEL.customer_keys == {"em.gmail", "ph.e164"}
