"""Snap's match model: only the keys the sink really sends count."""

from __future__ import annotations

from signalyard.insights.quality import BIT, estimate, event_mask
from signalyard.sinks.snapchat.quality import MODEL

from . import events


def test_every_key_the_full_event_carries_counts_and_db_does_not() -> None:
    mask = event_mask(events.full())
    result = estimate({mask: 1}, MODEL)
    assert result["estimate"] is True and 8.5 < result["score"] <= 10
    assert result["coverage"]["ScCid"] == 1.0 and result["coverage"]["scid"] == 1.0
    assert "db" not in result["coverage"] and "fbc" not in result["coverage"]


def test_email_alone_and_the_pair() -> None:
    assert estimate({BIT["em"]: 1}, MODEL)["score"] == 5.5
    pair = BIT["client_ip_address"] | BIT["client_user_agent"]
    assert estimate({pair: 1}, MODEL)["score"] == 3.0
    assert estimate({BIT["db"] | BIT["fbc"]: 1}, MODEL)["score"] == 0.0


def test_missing_click_id_is_suggested() -> None:
    result = estimate({BIT["em"]: 10}, MODEL)
    assert "ScCid" in {s["key"] for s in result["suggestions"]}
