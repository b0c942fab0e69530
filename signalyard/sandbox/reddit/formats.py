"""What Reddit's Conversions API v2.0 names and expects, as plain data and predicates;
:mod:`.validate` decides what a failure means."""

from __future__ import annotations

import ipaddress
import re

MAX_EVENTS = 1000
"""Events per request (RudderStack's ``maxBatchSize`` for Reddit)."""

MAX_AGE_SECONDS = 168 * 3600
"""``event_at`` must be less than 168 hours old (Reddit's own error text)."""
FUTURE_TOLERANCE = 5 * 60
"""``event_at`` more than 5 minutes ahead is flagged (RudderStack refuses such events; what
Reddit itself does is unconfirmed, so the sandbox accepts them with a diagnostic)."""

TRACKING_TYPES = (
    "PageVisit",
    "ViewContent",
    "Search",
    "AddToCart",
    "AddToWishlist",
    "Purchase",
    "Lead",
    "SignUp",
    "Custom",
)
_BY_FOLDED = {name.lower(): name for name in TRACKING_TYPES}
MAX_CUSTOM_NAME = 64
"""``custom_event_name``: at most 64 characters."""

META_EVENT_NAMES = {
    "PageView": "PageVisit",
    "CompleteRegistration": "SignUp",
    "InitiateCheckout": "Custom",
    "AddPaymentInfo": "Custom",
}
"""Meta's names a sender may have sent as a tracking type, and what Reddit has instead."""

HASHED_USER_KEYS = ("email", "external_id", "ip_address", "phone_number", "idfa", "aaid")
"""``user`` keys Reddit wants as SHA-256 hex (it also takes them in plaintext)."""
PLAIN_USER_KEYS = ("user_agent", "uuid")
USER_OBJECTS = ("data_processing_options", "screen_dimensions")
META_USER_KEYS = {
    "em": "email",
    "ph": "phone_number",
    "client_ip_address": "ip_address",
    "client_user_agent": "user_agent",
}
"""Meta's ``user_data`` names a sender may have kept by mistake, and Reddit's for them."""

REQUEST_FIELDS = frozenset({"events", "test_mode", "partner"})
EVENT_FIELDS = frozenset({"event_at", "event_type", "click_id", "event_metadata", "user"})
EVENT_TYPE_FIELDS = frozenset({"tracking_type", "custom_event_name"})
METADATA_FIELDS = frozenset(
    {"conversion_id", "currency", "value", "value_decimal", "item_count", "products"}
)
PRODUCT_FIELDS = frozenset({"id", "name", "category"})
USER_FIELDS = frozenset(HASHED_USER_KEYS + PLAIN_USER_KEYS + USER_OBJECTS)
PROCESSING_FIELDS = frozenset({"modes", "country", "region"})
SCREEN_FIELDS = frozenset({"width", "height"})
PROCESSING_MODES = ("LDU",)
MAX_SCREEN = 32768

#: The match keys whose coverage the summary reports; bit ``i`` of a mask = key ``i``.
COVERAGE_KEYS = ("email", "phone_number", "external_id", "ip_ua", "click_id", "uuid")
BIT = {key: 1 << i for i, key in enumerate(COVERAGE_KEYS)}

_SHA256 = re.compile(r"[0-9a-f]{64}", re.IGNORECASE)
_COUNTRY = re.compile(r"[A-Z]{2}")
_REGION = re.compile(r"(?:[A-Z]{2}-)?[A-Z0-9]{1,3}")


def tracking_type_spelling(name: str) -> str | None:
    """The tracking type ``name`` differs from only by case or spaces, if any."""
    found = _BY_FOLDED.get(name.strip().lower())
    return found if found is not None and found != name else None


def is_sha256(value: str) -> bool:
    """A SHA-256 hex digest: what hashed keys should hold."""
    return _SHA256.fullmatch(value) is not None


def valid_country(value: str) -> bool:
    """An ISO 3166-1 alpha-2 code (upper case)."""
    return _COUNTRY.fullmatch(value) is not None


def valid_region(value: str) -> bool:
    """An ISO 3166-2 code (``US-CA``) or its subdivision part alone (``CA``)."""
    return _REGION.fullmatch(value) is not None


def valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
