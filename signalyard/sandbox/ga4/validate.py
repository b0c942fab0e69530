"""GA4's rules for a Measurement Protocol request, as the sandbox checks them. Pure.

Both endpoints check a request the same way; they differ in what they say. The validation
server (``/debug/mp/collect``) answers 200 with every problem as a ``validationMessage``
(``fieldPath``, ``description``, ``validationCode``: GA4's codes ``VALUE_INVALID``,
``VALUE_REQUIRED``, ``NAME_INVALID``, ``NAME_RESERVED``, ``VALUE_OUT_OF_BOUNDS``,
``EXCEEDED_MAX_ENTITIES``, ``NAME_DUPLICATED``); ``/mp/collect`` answers 204 and drops what
is refused. A problem of the request drops every event of it; a problem of one event drops
that event (the sandbox's assumption: GA4 does not say).

The one description quoted from Google's documentation is the invalid name's (``Event at
index: [0] has invalid name [_badEventName]. Names must start with an alphabetic
character.``); the others are the sandbox's words in the same style. The rules are those of
the Measurement Protocol reference and "Limitations": see docs/sandbox-ga4.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_EVENTS",
    "CheckedRequest",
    "Message",
    "check_request",
]

MAX_EVENTS: Final = 25
MAX_PARAMS: Final = 25
MAX_USER_PROPERTIES: Final = 25
MAX_NAME: Final = 40
MAX_VALUE: Final = 100
MAX_BODY_BYTES: Final = 130 * 1024
MAX_BACKDATE_SECONDS: Final = 72 * 3600
LONG_VALUES: Final = {"page_title": 300, "page_referrer": 420, "page_location": 1000}
RESERVED_NAMES: Final = frozenset(
    (
        "ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "ad_reward",
        "adunit_exposure", "app_background", "app_clear_data", "app_exception",
        "app_install", "app_remove", "app_store_refund", "app_store_subscription_cancel",
        "app_store_subscription_convert", "app_store_subscription_renew", "app_update",
        "app_upgrade", "dynamic_link_app_open", "dynamic_link_app_update",
        "dynamic_link_first_open", "error", "first_open", "first_visit", "in_app_purchase",
        "os_update", "screen_view", "session_start", "session_start_with_rollout",
        "user_engagement",
    )
)  # fmt: skip
RESERVED_PREFIXES: Final = ("_", "firebase_", "ga_", "google_", "gtag.")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_MEASUREMENT_ID = re.compile(r"G-[A-Z0-9]{4,20}")
_CLIENT_ID = re.compile(r"[0-9]+\.[0-9]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CONSENT = frozenset(("GRANTED", "DENIED"))
_USER_DATA = frozenset(("sha256_email_address", "sha256_phone_number", "address"))


@dataclass(frozen=True, slots=True)
class Message:
    field_path: str
    description: str
    code: str
    event: int | None = None
    """The index of the event it is about; None: about the request."""

    def to_json(self) -> dict[str, str]:
        return {
            "fieldPath": self.field_path,
            "description": self.description,
            "validationCode": self.code,
        }


@dataclass(slots=True)
class CheckedRequest:
    measurement_id: str | None
    client_id: str | None
    events: list[Any]
    messages: list[Message] = field(default_factory=list)

    @property
    def request_refused(self) -> bool:
        return any(m.event is None for m in self.messages)

    def event_problem(self, index: int) -> Message | None:
        """The first message about the request or about event ``index``."""
        return next((m for m in self.messages if m.event in (None, index)), None)


def _invalid_name(name: object, index: int, path: str, what: str, event: bool) -> Message | None:
    where = f"Event at index: [{index}]"
    if not isinstance(name, str) or not name:
        return Message(path, f"{where} has no {what}.", "VALUE_REQUIRED", index)
    if len(name) > MAX_NAME:
        return Message(
            path, f"{where} has {what} [{name[:60]}] longer than 40 characters.",
            "NAME_INVALID", index,
        )  # fmt: skip
    if not _NAME.fullmatch(name):
        text = (
            f"{where} has invalid {what} [{name}]. Names must start with an alphabetic character."
            if not name[0].isalpha()
            else f"{where} has invalid {what} [{name}]. Only alphanumeric characters and"
            " underscores are allowed."
        )
        return Message(path, text, "NAME_INVALID", index)
    for prefix in RESERVED_PREFIXES:
        if name.startswith(prefix):
            return Message(
                path,
                f"{where} has {what} [{name}] with reserved prefix [{prefix}].",
                "NAME_RESERVED",
                index,
            )
    if event and (name in RESERVED_NAMES or name.startswith("notification_")):
        return Message(path, f"{where} has reserved name [{name}].", "NAME_RESERVED", index)
    return None


def _value(i: int, key: str, value: object, limit: int) -> Message | None:
    path = f"events[{i}].params.{key}"
    if value is None or isinstance(value, bool | list | dict):
        return Message(
            path, f"Event at index: [{i}] has param [{key}] of an invalid type.",
            "VALUE_INVALID", i,
        )  # fmt: skip
    if isinstance(value, str) and len(value) > limit:
        return Message(
            path,
            f"Event at index: [{i}] has param [{key}] with a value longer than {limit} characters.",
            "VALUE_OUT_OF_BOUNDS",
            i,
        )
    return None


def _items(i: int, items: object) -> Message | None:
    path = f"events[{i}].params.items"
    if not isinstance(items, list):
        return Message(path, f"Event at index: [{i}] has items that are not an array.",
                       "VALUE_INVALID", i)  # fmt: skip
    for j, item in enumerate(items):
        if not isinstance(item, dict) or not (item.get("item_id") or item.get("item_name")):
            return Message(
                f"{path}[{j}]",
                f"Event at index: [{i}] has an item at index [{j}] without item_id or item_name.",
                "VALUE_REQUIRED",
                i,
            )
        for key, value in item.items():
            problem = _value(i, f"items[{j}].{key}", value, MAX_VALUE)
            if problem is not None:
                return problem
    return None


def _event(i: int, raw: object, out: list[Message]) -> None:
    if not isinstance(raw, dict):
        out.append(Message(f"events[{i}]", f"Event at index: [{i}] is not an object.",
                           "VALUE_INVALID", i))  # fmt: skip
        return
    problem = _invalid_name(raw.get("name"), i, "events", "name", True)
    if problem is not None:
        out.append(problem)
        return
    params = raw.get("params", {})
    if not isinstance(params, dict):
        out.append(Message(f"events[{i}].params", f"Event at index: [{i}] has params that"
                           " are not an object.", "VALUE_INVALID", i))  # fmt: skip
        return
    if len(params) > MAX_PARAMS:
        out.append(Message(f"events[{i}].params", f"Event at index: [{i}] has more than 25"
                           " params.", "EXCEEDED_MAX_ENTITIES", i))  # fmt: skip
        return
    for key, value in params.items():
        problem = _invalid_name(key, i, f"events[{i}].params", "param name", False)
        if problem is None:
            problem = (
                _items(i, value)
                if key == "items"
                else _value(i, key, value, LONG_VALUES.get(key, MAX_VALUE))
            )
        if problem is not None:
            out.append(problem)
            return


def _request_fields(body: dict[str, Any], now: float, out: list[Message]) -> None:
    client_id = body.get("client_id")
    if client_id is None or client_id == "":
        out.append(Message("client_id", "Measurement requires a client_id.", "VALUE_REQUIRED"))
    elif not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        out.append(
            Message(
                "client_id",
                f"client_id [{str(client_id)[:60]}] has invalid format. It should be in"
                " <number>.<number> format.",
                "VALUE_INVALID",
            )
        )
    stamp = body.get("timestamp_micros")
    if stamp is not None:
        if isinstance(stamp, bool) or not isinstance(stamp, int):
            out.append(
                Message("timestamp_micros", "timestamp_micros must be an integer.", "VALUE_INVALID")
            )
        elif now - stamp / 1e6 > MAX_BACKDATE_SECONDS:
            out.append(
                Message(
                    "timestamp_micros",
                    "timestamp_micros is more than 72 hours in the past.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            )
    user_data = body.get("user_data")
    if user_data is not None:
        if not isinstance(user_data, dict):
            out.append(Message("user_data", "user_data must be an object.", "VALUE_INVALID"))
        else:
            for key, values in user_data.items():
                if key not in _USER_DATA:
                    out.append(Message(f"user_data.{key}", f"Unknown field [{key}].",
                                       "VALUE_INVALID"))  # fmt: skip
                elif key != "address" and (
                    not isinstance(values, list)
                    or not all(isinstance(v, str) and _SHA256.fullmatch(v) for v in values)
                ):
                    out.append(Message(f"user_data.{key}", f"{key} must hold hex-encoded"
                                       " SHA-256 hashes.", "VALUE_INVALID"))  # fmt: skip
    consent = body.get("consent")
    if consent is not None and (
        not isinstance(consent, dict)
        or any(
            k not in ("ad_user_data", "ad_personalization")
            or not isinstance(v, str)
            or v not in _CONSENT
            for k, v in consent.items()
        )
    ):
        out.append(Message("consent", "consent takes ad_user_data and ad_personalization,"
                               " GRANTED or DENIED.", "VALUE_INVALID"))  # fmt: skip
    properties = body.get("user_properties")
    if isinstance(properties, dict) and len(properties) > MAX_USER_PROPERTIES:
        out.append(Message("user_properties", "More than 25 user properties.",
                           "EXCEEDED_MAX_ENTITIES"))  # fmt: skip


def check_request(
    body: Any, *, measurement_id: str | None, size: int, now: float
) -> CheckedRequest:
    """Every problem of a decoded request body (``None``: the body was not JSON)."""
    out: list[Message] = []
    if not measurement_id:
        out.append(Message("measurement_id", "measurement_id is required.", "VALUE_REQUIRED"))
    elif not _MEASUREMENT_ID.fullmatch(measurement_id):
        out.append(Message("measurement_id", f"measurement_id [{measurement_id[:40]}] is not a"
                           " valid measurement id.", "VALUE_INVALID"))  # fmt: skip
    if size > MAX_BODY_BYTES:
        out.append(Message("", f"The request body is {size} bytes; the limit is 130 kB.",
                           "VALUE_OUT_OF_BOUNDS"))  # fmt: skip
    if not isinstance(body, dict):
        out.append(Message("", "The request body must be a JSON object.", "VALUE_INVALID"))
        return CheckedRequest(measurement_id, None, [], out)
    raw_events = body.get("events")
    events: list[Any] = raw_events if isinstance(raw_events, list) else []
    client_id = body.get("client_id")
    checked = CheckedRequest(
        measurement_id, client_id if isinstance(client_id, str) else None, events, out
    )
    _request_fields(body, now, out)
    if not events:
        out.append(Message("events", "Measurement requires at least one event.",
                           "VALUE_REQUIRED"))  # fmt: skip
    elif len(events) > MAX_EVENTS:
        out.append(Message("events", f"{len(events)} events; a request takes at most 25.",
                           "EXCEEDED_MAX_ENTITIES"))  # fmt: skip
    else:
        for i, raw in enumerate(events):
            _event(i, raw, out)
    return checked


def event_id_of(raw: object) -> str | None:
    """The gateway's ``event_id`` param of an event, if any."""
    params = raw.get("params") if isinstance(raw, dict) else None
    value = params.get("event_id") if isinstance(params, dict) else None
    return value if isinstance(value, str) and value else None
