"""GA4's documented rules for a Measurement Protocol request, checked before it is sent. Pure.

``/mp/collect`` answers 2xx to anything it receives and silently drops what breaks its rules,
so the sink checks them first and dead-letters an event that would be dropped, naming the rule
(and the validation code GA4's validation server gives for it). The rules (Measurement
Protocol reference and "Limitations" of sending-events):

=====================================  ============================  =====================
rule                                   limit                         validation code
=====================================  ============================  =====================
events per request                     1 to 25                       EXCEEDED_MAX_ENTITIES
``client_id``                          required for a web stream,    VALUE_REQUIRED /
                                       ``<number>.<number>``         VALUE_INVALID
event name                             1-40 of ``[A-Za-z0-9_]``,     NAME_INVALID
                                       starting with a letter
reserved event names and prefixes      ``session_start``, ...;       NAME_RESERVED
                                       (``_`` and ``gtag.`` break
                                       the name rule first)
params per event                       25                            EXCEEDED_MAX_ENTITIES
param name                             as an event name; not         NAME_INVALID /
                                       ``_``, ``firebase_``, ``ga_``,  NAME_RESERVED
                                       ``google_``, ``gtag.``
param value                            a string of at most 100       VALUE_OUT_OF_BOUNDS /
                                       characters (``page_title``    VALUE_INVALID
                                       300, ``page_referrer`` 420,
                                       ``page_location`` 1000) or a
                                       number; no null, array or
                                       object except ``items``
items                                  objects with ``item_id`` or   VALUE_REQUIRED
                                       ``item_name``; 10 custom
                                       params each
``timestamp_micros``                   at most 72 hours old          VALUE_OUT_OF_BOUNDS
``user_data`` hashes                   SHA-256 hex                   VALUE_INVALID
POST body                              130 kB                        (dropped)
=====================================  ============================  =====================

The ``client_id`` format is what GA4's validation server was reported to enforce in 2025
(``It should be in <number>.<number> format``), not a documented rule; a client id taken from
the ``_ga`` cookie always has it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "MAX_PARAMS",
    "RESERVED_EVENT_NAMES",
    "RESERVED_PREFIXES",
    "VALUE_LIMITS",
    "name_problem",
    "request_problem",
]

MAX_PARAMS: Final = 25
MAX_ITEM_CUSTOM_PARAMS: Final = 10
MAX_NAME: Final = 40
MAX_VALUE: Final = 100
VALUE_LIMITS: Final[dict[str, int]] = {
    "page_title": 300,
    "page_referrer": 420,
    "page_location": 1000,
}
"""Params whose values may be longer than :data:`MAX_VALUE` characters."""
RESERVED_EVENT_NAMES: Final = frozenset(
    (
        "ad_activeview",
        "ad_click",
        "ad_exposure",
        "ad_impression",
        "ad_query",
        "ad_reward",
        "adunit_exposure",
        "app_background",
        "app_clear_data",
        "app_exception",
        "app_install",
        "app_remove",
        "app_store_refund",
        "app_store_subscription_cancel",
        "app_store_subscription_convert",
        "app_store_subscription_renew",
        "app_update",
        "app_upgrade",
        "dynamic_link_app_open",
        "dynamic_link_app_update",
        "dynamic_link_first_open",
        "error",
        "first_open",
        "first_visit",
        "in_app_purchase",
        "os_update",
        "screen_view",
        "session_start",
        "session_start_with_rollout",
        "user_engagement",
    )
)
RESERVED_EVENT_PREFIXES: Final = ("notification_",)
RESERVED_PREFIXES: Final = ("_", "firebase_", "ga_", "google_", "gtag.")
"""Prefixes no event or param name may start with."""
KNOWN_ITEM_PARAMS: Final = frozenset(
    (
        "item_id",
        "item_name",
        "affiliation",
        "coupon",
        "discount",
        "index",
        "item_brand",
        "item_category",
        "item_category2",
        "item_category3",
        "item_category4",
        "item_category5",
        "item_list_id",
        "item_list_name",
        "item_variant",
        "location_id",
        "price",
        "quantity",
    )
)
MAX_BACKDATE_MICROS: Final = 72 * 3600 * 1_000_000

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_CLIENT_ID = re.compile(r"[0-9]+\.[0-9]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def name_problem(name: object, *, what: str, event: bool) -> str | None:
    """Why ``name`` cannot be an event (``event``) or param name, or None."""
    if not isinstance(name, str) or not name:
        return f"{what} is missing (VALUE_REQUIRED)"
    if len(name) > MAX_NAME:
        return f"{what} {name[:50]!r} is longer than {MAX_NAME} characters (NAME_INVALID)"
    if not _NAME.fullmatch(name):
        return (
            f"{what} {name!r} must start with a letter and hold only letters, digits and"
            " '_' (NAME_INVALID)"
        )
    for prefix in RESERVED_PREFIXES + (RESERVED_EVENT_PREFIXES if event else ()):
        if name.startswith(prefix):
            return f"{what} {name!r} starts with the reserved prefix {prefix!r} (NAME_RESERVED)"
    if event and name in RESERVED_EVENT_NAMES:
        return f"{what} {name!r} is reserved by GA4 (NAME_RESERVED)"
    return None


def request_problem(request: Mapping[str, Any], *, now_micros: int) -> str | None:
    """The first rule ``request`` (a Measurement Protocol body) breaks, or None."""
    events = request.get("events")
    if not isinstance(events, list) or not events:
        return "the request holds no event (VALUE_REQUIRED)"
    if len(events) > 25:
        return f"{len(events)} events in one request; GA4 takes 25 (EXCEEDED_MAX_ENTITIES)"
    client_id = request.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        return "no client_id: GA4 requires one for a web stream (VALUE_REQUIRED)"
    if not _CLIENT_ID.fullmatch(client_id):
        return "client_id must be in <number>.<number> format (VALUE_INVALID)"
    stamp = request.get("timestamp_micros")
    if isinstance(stamp, int) and now_micros - stamp > MAX_BACKDATE_MICROS:
        return "timestamp_micros is more than 72 hours in the past (VALUE_OUT_OF_BOUNDS)"
    user_data = request.get("user_data")
    if isinstance(user_data, Mapping):
        for key, values in user_data.items():
            if not isinstance(values, list) or not all(
                isinstance(v, str) and _SHA256.fullmatch(v) for v in values
            ):
                return f"user_data.{key} must hold lowercase SHA-256 hex (VALUE_INVALID)"
    for i, event in enumerate(events):
        problem = _event_problem(event)
        if problem is not None:
            return f"events[{i}]: {problem}"
    return None


def _event_problem(event: object) -> str | None:
    if not isinstance(event, Mapping):
        return "not an object (VALUE_INVALID)"
    problem = name_problem(event.get("name"), what="the event name", event=True)
    if problem is not None:
        return problem
    params = event.get("params", {})
    if not isinstance(params, Mapping):
        return "params must be an object (VALUE_INVALID)"
    if len(params) > MAX_PARAMS:
        return f"{len(params)} params; GA4 takes {MAX_PARAMS} (EXCEEDED_MAX_ENTITIES)"
    for key, value in params.items():
        problem = name_problem(key, what="param", event=False)
        if problem is None:
            problem = (
                _items_problem(value)
                if key == "items"
                else _value_problem(key, value, VALUE_LIMITS.get(key, MAX_VALUE))
            )
        if problem is not None:
            return problem
    return None


def _value_problem(key: str, value: object, limit: int) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        return f"param {key!r} must be a string or a number (VALUE_INVALID)"
    if isinstance(value, str) and len(value) > limit:
        return f"param {key!r} is longer than {limit} characters (VALUE_OUT_OF_BOUNDS)"
    if not isinstance(value, str | int | float):
        return f"param {key!r} must be a string or a number (VALUE_INVALID)"
    return None


def _items_problem(items: object) -> str | None:
    if not isinstance(items, list):
        return "param 'items' must be an array (VALUE_INVALID)"
    for j, item in enumerate(items):
        if not isinstance(item, Mapping):
            return f"items[{j}] must be an object (VALUE_INVALID)"
        if not item.get("item_id") and not item.get("item_name"):
            return f"items[{j}] needs item_id or item_name (VALUE_REQUIRED)"
        custom = [k for k in item if k not in KNOWN_ITEM_PARAMS]
        if len(custom) > MAX_ITEM_CUSTOM_PARAMS:
            return f"items[{j}] has more than 10 custom params (EXCEEDED_MAX_ENTITIES)"
        for key, value in item.items():
            problem = _value_problem(f"items[{j}].{key}", value, MAX_VALUE)
            if problem is not None:
                return problem
    return None
