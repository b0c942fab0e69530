"""Snapshots of the body sent to Google, every body checked by the Google sandbox's own
validator (``check_payload``), and the identity rules: Google's hashes, never Meta's where
they differ. Refresh snapshots with ``SNAPSHOT_UPDATE=1`` after a wanted change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from signalyard.sandbox.google import GoogleError, check_payload
from signalyard.sinks.google.payload import (
    build_body,
    build_request,
    event_timestamp,
    google_event,
    unsendable,
)
from tests.sinks.snapshot import check_snapshot

from . import events
from .events import EM_GMAIL_GOOGLE, EM_OTHER, NOW, PH_GOOGLE, PH_META, sha256

SNAPSHOTS = Path(__file__).parent / "snapshots"
REQUEST: dict[str, Any] = {
    "operating_account_id": "1234567890",
    "conversion_action_id": "987654321",
    "login_account_id": None,
    "event_source": "WEB",
    "validate_only": False,
}


def accepted(body: bytes) -> None:
    """The sandbox's validator takes the body as ``events:ingest`` would."""
    try:
        check_payload(orjson.loads(body), NOW)
    except GoogleError as error:  # pragma: no cover - the failure message is the point
        pytest.fail(f"the Google sandbox refuses the body: {error.body()}")


def test_minimal_event() -> None:
    body = build_body([events.minimal()], **REQUEST)
    check_snapshot(SNAPSHOTS, "minimal", body)
    accepted(body)


def test_full_event() -> None:
    body = build_body(
        [events.full(), events.minimal()],
        **{**REQUEST, "login_account_id": "5550001111", "validate_only": True},
    )
    check_snapshot(SNAPSHOTS, "full", body)
    accepted(body)


def test_google_hashes_only() -> None:
    sent = google_event(events.full(), event_source="WEB")
    ids = sent["userData"]["userIdentifiers"]
    assert ids == [
        {"emailAddress": EM_GMAIL_GOOGLE},
        {"emailAddress": EM_OTHER},
        {"phoneNumber": PH_GOOGLE},
    ]
    text = orjson.dumps(sent).decode()
    assert PH_META not in text  # Meta's digits-only phone hash is never sent
    assert events.EM_GMAIL_BASE not in text
    meta_only = ("fb.1.1700000000000", sha256("customer-1042"), sha256("94025"), sha256("us"))
    for value in meta_only:
        assert value not in text
    assert "address" not in text  # postal code and region are stored hashed: left out


def test_values_without_their_variant_are_left_out() -> None:
    event = events.full()
    event["_identity"] = {"ph.e164": {PH_META: None}}  # arrived hashed; em.gmail not made
    sent = google_event(event, event_source="WEB")
    assert "userData" not in sent
    assert sent["adIdentifiers"] == {"gclid": "Cj0KCQiA-full"}


def test_at_most_ten_identifiers() -> None:
    event = events.full()
    emails = [sha256(f"a{i}@example.com") for i in range(8)]
    phones = [sha256(f"1650555{i:04d}") for i in range(5)]
    event["user_data"]["em"] = emails
    event["user_data"]["ph"] = phones
    event["_identity"] = {
        "em.gmail": {},
        "ph.e164": {p: sha256(f"+1650555{i:04d}") for i, p in enumerate(phones)},
    }
    ids = google_event(event, event_source="WEB")["userData"]["userIdentifiers"]
    assert len(ids) == 10
    assert [i["emailAddress"] for i in ids[:8]] == emails
    accepted(build_body([event], **REQUEST))


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("granted", {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"}),
        ("denied", {"adUserData": "CONSENT_DENIED", "adPersonalization": "CONSENT_DENIED"}),
        ("unknown", None),
        ("pending", None),
    ],
)
def test_consent_from_the_event_s_state(state: str, expected: dict[str, str] | None) -> None:
    event = events.minimal()
    event["_consent"] = {"state": state, "source": "api"}
    assert google_event(event, event_source="WEB").get("consent") == expected


@pytest.mark.parametrize(
    ("clicks", "expected"),
    [
        ({"gclid": "g", "wbraid": "w", "gbraid": "b"}, {"gclid": "g"}),
        ({"wbraid": "w", "gbraid": "b"}, {"wbraid": "w"}),
        ({"gbraid": "b", "ttclid": "t"}, {"gbraid": "b"}),
        ({"fbclid": "f"}, None),
    ],
)
def test_one_click_id(clicks: dict[str, str], expected: dict[str, str] | None) -> None:
    event = events.minimal()
    event["_click_ids"] = clicks
    assert google_event(event, event_source="WEB").get("adIdentifiers") == expected


def test_an_event_without_identifiers_is_found_before_sending() -> None:
    event = events.minimal()
    del event["_click_ids"]
    sent = google_event(event, event_source="WEB")
    assert "NO_IDENTIFIERS_PROVIDED" in (unsendable(sent) or "")
    assert unsendable(google_event(events.minimal(), event_source="WEB")) is None


def test_timestamps() -> None:
    assert event_timestamp(1_800_000_000) == "2027-01-15T08:00:00Z"
    assert event_timestamp(1_800_000_000.25) == "2027-01-15T08:00:00.250Z"


def test_request_shape() -> None:
    request = build_request([events.minimal()], **{**REQUEST, "login_account_id": "42"})
    (destination,) = request["destinations"]
    assert destination == {
        "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
        "loginAccount": {"accountType": "GOOGLE_ADS", "accountId": "42"},
        "productDestinationId": "987654321",
    }
    assert request["encoding"] == "HEX"
    assert "validateOnly" not in request
    (event,) = request["events"]
    assert event["transactionId"] == "order-1"
    assert not any(k.startswith("_") for k in orjson.dumps(request).decode().split('"'))
