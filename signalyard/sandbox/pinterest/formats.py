"""What Pinterest's Conversions API names and expects (reference §5, Pinterest's generated
API client docs), as plain data and predicates; :mod:`.validate` decides what a failure
means."""

from __future__ import annotations

import ipaddress
import re

MAX_EVENTS = 1000
"""Events per request (reference §5: RudderStack, citing Pinterest's conversions doc)."""

MAX_AGE_SECONDS = 7 * 24 * 3600
"""The oldest ``event_time`` the sandbox accepts. Pinterest documents no limit (reference §5:
unconfirmed; an event more than an hour late is reported as offline): the sandbox's
assumption, the same as the Pinterest sink's."""
FUTURE_TOLERANCE = 3600
"""``event_time`` this far ahead of the sandbox's clock is flagged (a diagnostic only)."""
OFFLINE_AFTER = 3600
"""An event received more than an hour after ``event_time`` is reported as offline."""

EVENT_NAMES = frozenset(
    {
        "add_payment_info",
        "add_to_cart",
        "add_to_wishlist",
        "app_install",
        "app_open",
        "checkout",
        "contact",
        "custom",
        "customize_product",
        "find_location",
        "initiate_checkout",
        "lead",
        "page_visit",
        "schedule",
        "search",
        "signup",
        "start_trial",
        "submit_application",
        "subscribe",
        "view_category",
        "view_content",
        "watch_video",
    }
)
"""Pinterest's event names (reference §5, Segment's constants)."""
META_EVENT_NAMES = {
    "Purchase": "checkout",
    "AddToCart": "add_to_cart",
    "Lead": "lead",
    "PageView": "page_visit",
    "ViewContent": "page_visit",
    "CompleteRegistration": "signup",
    "Search": "search",
    "InitiateCheckout": "initiate_checkout",
}
"""Meta's names a sender may have kept by mistake, and Pinterest's for them (in messages)."""

ACTION_SOURCES = ("app_android", "app_ios", "web", "offline")

HASHED_USER_KEYS = (
    "em",
    "hashed_maids",
    "ph",
    "ge",
    "db",
    "ln",
    "fn",
    "ct",
    "st",
    "zp",
    "country",
    "external_id",
)
"""``user_data`` keys Pinterest wants as arrays of SHA-256 hex."""
PLAIN_USER_KEYS = ("client_ip_address", "client_user_agent", "click_id", "partner_id")
"""``user_data`` keys sent as they are, never hashed."""
META_USER_KEYS = frozenset({"fbp", "fbc", "fbclid", "madid", "anon_id"})
"""Meta's ``user_data`` names Pinterest does not read."""

STRING_CUSTOM = (
    "currency",
    "value",
    "content_name",
    "content_category",
    "content_brand",
    "order_id",
    "search_string",
    "opt_out_type",
    "np",
)
"""``custom_data`` fields that must be strings (``value`` too: Pinterest parses it)."""

#: The match keys whose coverage the summary reports; bit ``i`` of a mask = key ``i``.
COVERAGE_KEYS = (
    "em",
    "ph",
    "external_id",
    "fn_ln",
    "address",
    "db",
    "ge",
    "ip_ua",
    "click_id",
    "hashed_maids",
)
BIT = {key: 1 << i for i, key in enumerate(COVERAGE_KEYS)}

_SHA256 = re.compile(r"[0-9a-f]{64}", re.IGNORECASE)


def is_sha256(value: str) -> bool:
    """A SHA-256 hex digest: what hashed keys must hold."""
    return _SHA256.fullmatch(value) is not None


def valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_decimal(value: str) -> bool:
    """A string Pinterest can parse into a double (``"42.50"``)."""
    try:
        number = float(value)
    except ValueError:
        return False
    return number == number and number not in (float("inf"), float("-inf"))
