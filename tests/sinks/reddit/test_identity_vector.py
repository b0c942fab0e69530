"""One event's identifiers as Reddit's documentation gives them, computed here from the
documented rules (never from the sink's code), against what the sink sends.

Reddit's rules (Reddit's "Manual advanced matching" help page, and the Reddit-maintained
Segment destination): e-mail lowercased, the local part cut at its first ``+`` and stripped of
every non-alphanumeric character, then SHA-256 hex (``Al.ice$+Apple@Example.Com`` and
``alice@example.com`` both give ``ff8d9819...d976``); phone ``+`` and the digits; IP address and
external id trimmed; then SHA-256 hex, lower case.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from signalyard.sinks.reddit.payload import build_event
from signalyard.transforms.identity import build_identity

DOCUMENTED_EMAIL_HASH = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reddit_email(address: str) -> str:
    local, _, domain = address.strip().lower().rpartition("@")
    local = re.sub(r"[^a-z0-9]", "", local.split("+", 1)[0])
    return f"{local}@{domain}"


def test_the_documented_email_vector() -> None:
    assert sha(reddit_email("Al.ice$+Apple@Example.Com")) == DOCUMENTED_EMAIL_HASH
    assert sha(reddit_email("alice@example.com")) == DOCUMENTED_EMAIL_HASH


def stored(plain: dict[str, str]) -> dict[str, Any]:
    """The event as Signalyard stores it from these plaintext values (Meta's rules)."""
    digits = re.sub(r"\D", "", plain["phone"])
    em = sha(plain["email"].strip().lower())
    ph = sha(digits)
    normalized = plain["email"].strip().lower()
    identity = build_identity(
        ["em.reddit", "ph.e164"], {"ph": [(ph, digits)], "em": [(em, normalized)]}
    )
    return {
        "event_name": "Lead",
        "event_time": 1_799_996_400,
        "event_id": "lead-7",
        "_identity": identity,
        "user_data": {
            "em": [em],
            "ph": [ph],
            "external_id": [sha(plain["external_id"].strip())],
            "client_ip_address": plain["ip"],
            "client_user_agent": plain["user_agent"],
        },
    }


def test_what_the_sink_sends_is_reddits_hash_or_nothing() -> None:
    plain = {
        "email": "Al.ice$+Apple@Example.Com",
        "phone": "+1 (650) 555-1212",
        "external_id": "customer-1042",
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    }
    user = build_event(stored(plain))["user"]
    assert user["phone_number"] == sha("+16505551212")
    assert user["ip_address"] == sha("203.0.113.7")
    assert user["external_id"] == sha("customer-1042")
    assert user["user_agent"] == plain["user_agent"]
    # Reddit's e-mail hash, the em.reddit variant: not Meta's (which differs for this address)
    assert user["email"] == DOCUMENTED_EMAIL_HASH
    assert sha(plain["email"].strip().lower()) != DOCUMENTED_EMAIL_HASH


def test_an_email_without_its_variant_is_not_sent() -> None:
    plain = {
        "email": "Al.ice$+Apple@Example.Com",
        "phone": "+1 (650) 555-1212",
        "external_id": "x",
        "ip": "203.0.113.7",
        "user_agent": "UA",
    }
    event = stored(plain)
    del event["_identity"]["em.reddit"]  # made before a Reddit destination was added
    assert "email" not in build_event(event)["user"]
