"""What TikTok's Events API 2.0 names and expects (reference §3), as plain data and
predicates; :mod:`.validate` decides what a failure means."""

from __future__ import annotations

import ipaddress
import re

MAX_EVENTS = 1000
"""Events per request (reference §3: RudderStack's ``maxBatchSizeV2``, citing TikTok)."""

EVENT_SOURCES = ("web", "app", "offline", "crm")

STANDARD_EVENTS = frozenset(
    {
        "ViewContent",
        "ClickButton",
        "Search",
        "AddToWishlist",
        "AddToCart",
        "InitiateCheckout",
        "AddPaymentInfo",
        "CompletePayment",
        "PlaceAnOrder",
        "Contact",
        "Download",
        "SubmitForm",
        "CompleteRegistration",
        "Subscribe",
        "Lead",
        "Purchase",
        "ApplicationApproval",
        "SubmitApplication",
        "StartTrial",
        "CustomizeProduct",
        "FindLocation",
        "Schedule",
    }
)
_STANDARD_BY_FOLDED = {name.lower(): name for name in STANDARD_EVENTS}
META_ONLY_EVENTS = frozenset({"PageView", "Donate"})
"""Meta standard names TikTok does not have: sent as they are, they are custom events."""

HASHED_USER_KEYS = ("email", "phone", "external_id", "first_name", "last_name", "zip_code")
"""``user`` keys TikTok wants as SHA-256 hex (a string or an array of strings)."""
LIST_USER_KEYS = frozenset({"email", "phone", "external_id"})
"""Of those, the keys that may be an array."""
PLAIN_USER_KEYS = ("ip", "user_agent", "ttclid", "ttp", "locale", "city", "state", "country")
"""``user`` keys sent as they are, never hashed."""
META_USER_KEYS = {
    "em": "email",
    "ph": "phone",
    "client_ip_address": "ip",
    "client_user_agent": "user_agent",
    "fn": "first_name",
    "ln": "last_name",
    "zp": "zip_code",
    "ct": "city",
    "st": "state",
}
"""Meta's ``user_data`` names a sender may have kept by mistake, and TikTok's for them."""

CONTENT_TYPES = ("product", "product_group")
STRING_PROPERTIES = ("currency", "query", "description", "order_id", "shop_id", "content_type")
STRING_CONTENT_FIELDS = ("content_id", "content_name", "content_category", "brand")

#: The match keys whose coverage the summary reports; bit ``i`` of a mask = key ``i``.
COVERAGE_KEYS = ("email", "phone", "external_id", "ip_ua", "ttclid", "ttp")
BIT = {key: 1 << i for i, key in enumerate(COVERAGE_KEYS)}

_SHA256 = re.compile(r"[0-9a-f]{64}", re.IGNORECASE)


def standard_name(name: str) -> str | None:
    """The standard event ``name`` differs from only by case or surrounding spaces, if any."""
    found = _STANDARD_BY_FOLDED.get(name.strip().lower())
    return found if found is not None and found != name else None


def is_sha256(value: str) -> bool:
    """A SHA-256 hex digest: what hashed keys must hold."""
    return _SHA256.fullmatch(value) is not None


def valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
