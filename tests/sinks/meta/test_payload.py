"""Snapshots of the body sent to Meta. Refresh with ``SNAPSHOT_UPDATE=1`` after a wanted change."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from signalyard.secret import Secret
from signalyard.sinks.meta.config import MetaConfig
from signalyard.sinks.meta.payload import (
    EVENT_FIELDS,
    appsecret_proof,
    build_body,
    events_url,
    object_url,
)
from tests.sinks.snapshot import check_snapshot

from . import events

SNAPSHOTS = Path(__file__).parent / "snapshots"
TOKEN = "EAAtesttoken"


def test_minimal_event() -> None:
    body = build_body(
        [events.minimal()],
        access_token=TOKEN,
        appsecret_proof=None,
        test_event_code=None,
        partner_agent=None,
    )
    check_snapshot(SNAPSHOTS, "minimal", body)


def test_full_event() -> None:
    body = build_body(
        [events.full(), events.minimal()],
        access_token=TOKEN,
        appsecret_proof=appsecret_proof(TOKEN, "app-secret"),
        test_event_code="TEST12345",
        partner_agent="signalyard",
    )
    check_snapshot(SNAPSHOTS, "full", body)


def test_body_is_compact_json_with_known_fields_only() -> None:
    body = build_body(
        [events.full()],
        access_token=TOKEN,
        appsecret_proof=None,
        test_event_code=None,
        partner_agent="signalyard",
    )
    assert b": " not in body and b", " not in body[: body.index(b"Mozilla")]
    decoded = orjson.loads(body)
    assert list(decoded) == ["data", "access_token", "partner_agent"]
    (event,) = decoded["data"]
    assert set(event) <= set(EVENT_FIELDS)
    assert list(event) == [name for name in EVENT_FIELDS if name in event]
    assert "unknown_field" not in event and "event_source_url_hint" not in event
    assert not any(key.startswith("_") for key in event)
    assert not any(key.startswith("_") for key in event["user_data"])
    assert not any(key.startswith("_") for key in event["custom_data"])


def test_the_input_events_are_not_changed() -> None:
    event = events.full()
    build_body([event], access_token=TOKEN, appsecret_proof=None, test_event_code=None,
               partner_agent=None)  # fmt: skip
    assert event == events.full()


def test_appsecret_proof_is_hex_hmac_sha256_of_the_token() -> None:
    # printf token | openssl dgst -sha256 -hmac secret
    expected = "e941110e3d2bfe82621f0e3e1434730d7305d106c5f68c87165d0b27a4611a4a"
    assert appsecret_proof("token", "secret") == expected


@pytest.mark.parametrize(
    ("graph_url", "expected"),
    [
        ("https://graph.facebook.com", "https://graph.facebook.com/v26.0/123/events"),
        ("https://graph.facebook.com/", "https://graph.facebook.com/v26.0/123/events"),
        (
            "http://127.0.0.1:8088/sandbox/meta",
            "http://127.0.0.1:8088/sandbox/meta/v26.0/123/events",
        ),
        (
            "http://127.0.0.1:8088/sandbox/meta/",
            "http://127.0.0.1:8088/sandbox/meta/v26.0/123/events",
        ),
    ],
)
def test_events_url(graph_url: str, expected: str) -> None:
    config = MetaConfig(pixel_id="123", access_token=Secret("t"), graph_url=graph_url)
    assert events_url(config) == expected
    assert object_url(config) == expected.removesuffix("/events")
