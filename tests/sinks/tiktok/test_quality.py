"""TikTok's match model: only what the TikTok sink sends counts, with Meta's weights for the
corresponding keys."""

from __future__ import annotations

import pytest

from signalyard.insights.quality import BIT, estimate, event_mask, score_of
from signalyard.sinks import REGISTRY
from signalyard.sinks.tiktok.payload import build_event
from signalyard.sinks.tiktok.quality import MODEL

H = "a" * 64
IP_UA = BIT["client_ip_address"] | BIT["client_user_agent"]


def test_the_registry_lists_it() -> None:
    assert REGISTRY["tiktok"].match_model is MODEL
    assert "Meta" not in MODEL.title + MODEL.note
    assert "estimate" in MODEL.note.lower()


def test_its_keys_are_what_tiktok_is_sent() -> None:
    assert set(MODEL.keys) == {
        "em",
        "ph.e164",
        "external_id",
        "client_ip_address",
        "client_user_agent",
        "ttclid",
        "ttp",
    }
    # the payload sends a user field for each key of a stored event with all of them
    event = {
        "event_name": "Purchase",
        "user_data": {
            "em": [H],
            "ph": [H],
            "external_id": [H],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
            "fbp": "fb.1.1700000000000.1",
            "fn": [H],
        },
        "_identity": {"ph.e164": {H: "b" * 64}},
        "_click_ids": {"ttclid": "E.C.P.click"},
        "_browser_ids": {"ttp": "ttp-cookie"},
    }
    sent = set(build_event(event)["user"])  # type: ignore[arg-type]
    assert sent == {"email", "phone", "external_id", "ip", "user_agent", "ttclid", "ttp"}
    mask = event_mask(event)
    assert all(mask & BIT[k] for k in MODEL.keys)


def test_meta_only_keys_do_not_count() -> None:
    meta_only = BIT["fbc"] | BIT["fbp"] | BIT["fn"] | BIT["ln"] | BIT["zp"] | BIT["ph"]
    assert score_of({meta_only: 1}, MODEL) == 0.0
    result = estimate({meta_only | BIT["em"]: 1}, MODEL)
    assert "fbp" not in result["coverage"] and "fbc" not in result["coverage"]
    assert result["score"] == 5.5


def test_weights() -> None:
    assert score_of({BIT["ph.e164"]: 1}, MODEL) == pytest.approx(4.0)
    assert score_of({IP_UA | BIT["ttp"]: 1}, MODEL) == pytest.approx(10 * (1 - 0.7 * 0.85))
    every = sum(BIT[k] for k in MODEL.keys)
    assert round(score_of({every: 1}, MODEL), 1) == 8.9


def test_advice() -> None:
    assert set(MODEL.advice) <= set(MODEL.keys)
    assert "ttclid" not in MODEL.advice  # most events do not come from an ad
    assert MODEL.customer_keys == {"em", "ph.e164", "external_id"}
    assert {c.name for c in MODEL.columns} == set(MODEL.keys)
