"""What Snap's Conversions API v3 names and expects (Snap's OpenAPI and Parameters page,
reference §4), as plain data and predicates; :mod:`.validate` decides what a failure means."""

from __future__ import annotations

import ipaddress
import re

MAX_EVENTS = 2000
"""Events per request (RudderStack's ``MAX_BATCH_SIZE``; unconfirmed by Snap)."""
MAX_AGE_SECONDS = 37 * 24 * 3600
"""Events up to 37 days old are eligible (Snap's Conversions API introduction)."""

STANDARD_EVENTS = frozenset(
    {
        "PURCHASE", "SIGN_UP", "ADD_CART", "VIEW_CONTENT", "PAGE_VIEW", "START_CHECKOUT",
        "ADD_BILLING", "SEARCH", "SUBSCRIBE", "START_TRIAL", "SAVE", "LOGIN", "SHARE",
        "ADD_TO_WISHLIST", "AD_CLICK", "AD_VIEW", "APP_OPEN", "APP_INSTALL", "COMPLETE_TUTORIAL",
        "LEVEL_COMPLETE", "INVITE", "RESERVE", "ACHIEVEMENT_UNLOCKED", "SPENT_CREDITS", "RATE",
        "LIST_VIEW", "CUSTOM_EVENT_1", "CUSTOM_EVENT_2", "CUSTOM_EVENT_3", "CUSTOM_EVENT_4",
        "CUSTOM_EVENT_5",
    }
)  # fmt: skip
"""Snap's event names (reference §4 and RudderStack's Snap mapping)."""

ACTION_SOURCES = {
    "web": "WEB",
    "website": "WEB",
    "mobile_app": "MOBILE_APP",
    "app": "MOBILE_APP",
    "offline": "OFFLINE",
}
"""``action_source`` spellings the sources disagree on, folded to lower case (reference §4:
accept them case-insensitively), and what each means."""

HASHED_KEYS = ("em", "ph", "fn", "ln", "ge", "ct", "st", "zp", "country", "external_id", "db")
"""``user_data`` keys Snap wants as SHA-256 hex (a string or an array of strings)."""
PLAIN_KEYS = (
    "client_ip_address",
    "client_user_agent",
    "sc_click_id",
    "sc_cookie1",
    "idfv",
    "madid",
    "mobile_ad_id",
)
"""``user_data`` keys sent as they are, never hashed."""
META_ONLY_KEYS = {"fbc": "sc_click_id", "fbp": "sc_cookie1"}
"""Meta's cookie keys a sender may have kept by mistake, and Snap's for them."""

TEXT_CUSTOM = (
    "currency", "content_category", "content_type", "order_id", "search_string", "status",
    "sign_up_method", "brands", "delivery_category",
)  # fmt: skip
"""``custom_data`` fields that must be strings."""
LIMITED_USE = frozenset({"LMU", "LDU"})
"""``data_processing_options`` values the sandbox counts as limited use (``LMU``: Snap's
own example; ``LDU``: what Segment sends)."""

#: The match keys whose coverage the summary reports; bit ``i`` of a mask = key ``i``.
COVERAGE_KEYS = ("em", "ph", "external_id", "ip_ua", "sc_click_id", "sc_cookie1")
BIT = {key: 1 << i for i, key in enumerate(COVERAGE_KEYS)}

_SHA256 = re.compile(r"[0-9a-f]{64}", re.IGNORECASE)


def is_sha256(value: str) -> bool:
    return _SHA256.fullmatch(value) is not None


def valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
