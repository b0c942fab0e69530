"""Snapshots of the body sent to LinkedIn, and every body built here checked by the LinkedIn
sandbox's own validator. Refresh the snapshots with ``SNAPSHOT_UPDATE=1`` after a wanted
change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from signalyard.sinks.linkedin.config import LinkedInConfig
from signalyard.sinks.linkedin.payload import (
    CLICK_ID,
    CONVERSION_TYPES,
    EMAIL,
    build_body,
    build_element,
    conversion_type,
    events_url,
    rule_url,
    unsendable,
)
from tests.sinks.snapshot import check_snapshot

from . import events

SNAPSHOTS = Path(__file__).parent / "snapshots"


def body_of(evs: list[dict[str, Any]]) -> bytes:
    return build_body(evs, conversion_urn=events.RULE_URN)


def element(event: dict[str, Any]) -> dict[str, Any]:
    return build_element(event, conversion_urn=events.RULE_URN)


def test_minimal_event() -> None:
    body = body_of([events.minimal()])
    check_snapshot(SNAPSHOTS, "minimal", body)
    (checked,) = events.validate(body)
    assert checked.accepted, checked.error
    assert {d.code for d in checked.diagnostics} == {"no_event_id", "no_value"}


def test_full_event() -> None:
    body = body_of([events.full(), events.minimal()])
    check_snapshot(SNAPSHOTS, "full", body)
    full, minimal = events.validate(body)
    assert full.accepted and minimal.accepted
    assert full.diagnostics == (), [d.message for d in full.diagnostics]


def test_full_element_field_by_field() -> None:
    out = element(events.full())
    assert out["conversion"] == "urn:lla:llaPartnerConversion:104012"
    assert out["conversionHappenedAt"] == events.EVENT_TIME * 1000  # milliseconds
    assert out["conversionValue"] == {"currencyCode": "EUR", "amount": "142.52"}
    assert out["eventId"] == "order-1001"
    assert out["user"] == {
        "userIds": [
            {"idType": EMAIL, "idValue": events.EM},
            {"idType": EMAIL, "idValue": events.sha256("j.smith@work.example")},
            {"idType": CLICK_ID, "idValue": events.LI_FAT_ID},
        ]
    }
    # userInfo needs plaintext names, company, title and country: never sent
    assert "userInfo" not in out["user"]
    text = orjson.dumps(out).decode()
    for other in ("2001:db8::7", "Mozilla", "fb.1.", "Cj0KCQ", events.sha256("john")):
        assert other not in text


@pytest.mark.parametrize(
    ("value", "amount"),
    [(50, "50.0"), (42.5, "42.5"), ("19.90", "19.90"), (0, "0.0"), (1e-7, "0.0000001")],
)
def test_amount_is_a_decimal_string(value: object, amount: str) -> None:
    event = events.full()
    event["custom_data"] = {"currency": "usd", "value": value}
    assert element(event)["conversionValue"] == {"currencyCode": "USD", "amount": amount}


@pytest.mark.parametrize(
    "custom_data",
    [
        {"currency": "USD"},
        {"value": 10},
        {"currency": "US", "value": 10},
        {"currency": "USD", "value": -1},
        {"currency": "USD", "value": "ten"},
        {"currency": "USD", "value": True},
        {"currency": "USD", "value": float("nan")},
        "not an object",
    ],
)
def test_no_conversion_value_without_both_a_currency_and_a_usable_value(
    custom_data: object,
) -> None:
    event = events.full()
    event["custom_data"] = custom_data
    assert "conversionValue" not in element(event)


def test_the_email_hash_is_meta_s_stored_hash_at_most_three_without_repeats() -> None:
    event = events.minimal()
    hashes = [events.sha256(f"a{i}@example.com") for i in range(5)]
    event["user_data"]["em"] = [hashes[0], hashes[0], "not-a-hash", *hashes[1:]]
    ids = element(event)["user"]["userIds"]
    assert [i["idValue"] for i in ids if i["idType"] == EMAIL] == hashes[:3]


def test_an_event_without_any_user_id_is_unsendable_with_a_clear_reason() -> None:
    event = events.full()
    event["user_data"] = {"client_ip_address": "203.0.113.7"}
    event["_click_ids"] = {"gclid": "x"}
    built = element(event)
    assert built["user"] == {"userIds": []}
    why = unsendable(built)
    assert why is not None and "li_fat_id" in why and "email" in why
    assert unsendable(element(events.full())) is None


def test_an_event_without_event_time_is_unsendable() -> None:
    event = events.full()
    del event["event_time"]
    assert unsendable(element(event)) == (
        "the event has no event_time (conversionHappenedAt is required)"
    )


def test_event_id_as_number_and_blank() -> None:
    event = events.full()
    event["event_id"] = 1001
    assert element(event)["eventId"] == "1001"
    event["event_id"] = "  "
    assert "eventId" not in element(event)


def test_conversion_types_table() -> None:
    assert conversion_type("Purchase") == "PURCHASE"
    assert conversion_type("Lead") == "LEAD"
    assert conversion_type("AddToCart") == "ADD_TO_CART"
    assert conversion_type("MyCustomThing") == "OTHER"
    assert len(set(CONVERSION_TYPES.values())) == len(CONVERSION_TYPES)


def test_urls() -> None:
    config = LinkedInConfig.example()
    assert events_url(config) == "https://api.linkedin.com/rest/conversionEvents"
    assert rule_url(config) == "https://api.linkedin.com/rest/conversions/104012"
