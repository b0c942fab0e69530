"""Reddit's rules for a conversions request and its events, the emulator's own.

Two passes, as Reddit answers in two ways:

:func:`check_request` reads the body as Reddit's JSON decoder does and raises a
:class:`~.errors.RedditError` for the whole request: a field it does not know (400
``JSON error "unknown field" on field "x"``), a value of the wrong JSON type (403
``JSON error unexpected type number on field events event_metadata value``, the observed
answer), no events or more than 1,000 (400).

:func:`check_events` then checks each event on its own and never raises: an event that
breaks a rule comes back with ``error``, the ``error_message`` Reddit gives it in
``invalid_events``; one such event refuses the request (see :mod:`.endpoint`).

Rules (an event that breaks one is invalid)
    * ``event_at``: required, an RFC 3339 timestamp less than 168 hours old
      (``event_at timestamp must be less than 168h0m0s old``, Reddit's wording);
    * ``event_type.tracking_type``: one of ``PageVisit``, ``ViewContent``, ``Search``,
      ``AddToCart``, ``AddToWishlist``, ``Purchase``, ``Lead``, ``SignUp``, ``Custom``
      (case-sensitive); ``Custom`` needs a ``custom_event_name`` of 1 to 64 characters;
    * ``event_metadata``: ``currency`` three letters, ``item_count`` not negative;
    * ``user.data_processing_options``: ``modes`` only ``LDU``, ``country`` ISO 3166-1
      alpha-2, ``region`` ISO 3166-2 (``US-CA``, or ``CA``);
    * ``user.screen_dimensions``: ``width`` and ``height`` above 0 and below 32,768.

The wording of every message but the 168 h one is the sandbox's (Reddit's is unknown).

Diagnostics (accepted, but flagged): a plaintext value in a key Signalyard hashes
(``email``, ``phone_number``, ``external_id``, ``ip_address``: Reddit takes them either
way, hashed is what a server should send), a hashed ``user_agent`` or ``uuid``, no usable
match key, no ``conversion_id`` (no deduplication against the pixel), ``event_at`` in the
future, a ``Purchase`` without ``value_decimal`` and ``currency``, an unknown currency.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..diagnostics import Diagnostic
from . import errors
from .errors import json_type
from .formats import (
    BIT,
    EVENT_FIELDS,
    EVENT_TYPE_FIELDS,
    FUTURE_TOLERANCE,
    HASHED_USER_KEYS,
    MAX_AGE_SECONDS,
    MAX_CUSTOM_NAME,
    MAX_EVENTS,
    MAX_SCREEN,
    METADATA_FIELDS,
    PLAIN_USER_KEYS,
    PROCESSING_FIELDS,
    PROCESSING_MODES,
    PRODUCT_FIELDS,
    REQUEST_FIELDS,
    SCREEN_FIELDS,
    TRACKING_TYPES,
    USER_FIELDS,
    is_sha256,
    tracking_type_spelling,
    valid_country,
    valid_ip,
    valid_region,
)


@dataclass(frozen=True, slots=True)
class EventsRequest:
    """A request Reddit could read: what its events are checked against."""

    ad_account_id: str
    test_mode: bool
    partner: str | None
    events: list[dict[str, Any]]


@dataclass(slots=True)
class CheckedEvent:
    """One event and what the sandbox made of it; ``error`` is Reddit's ``error_message`` for
    an invalid event, ``None`` for an accepted one."""

    index: int
    event: dict[str, Any]
    event_name: str | None
    conversion_id: str | None
    event_at: float | None
    test_mode: bool
    limited_data_use: bool = False
    diagnostics: tuple[Diagnostic, ...] = ()
    match_mask: int = 0
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None


# --- reading the body, as Reddit's JSON decoder does ----------------------------------------

_STRING, _INTEGER, _NUMBER, _BOOL = "string", "integer", "number", "bool"


def _typed(value: Any, kind: str, path: str) -> None:
    """Raise Reddit's 403 when ``value`` (not null) is not of JSON type ``kind``."""
    if value is None:
        return
    if kind == _STRING:
        ok = isinstance(value, str)
    elif kind == _BOOL:
        ok = isinstance(value, bool)
    elif isinstance(value, bool) or not isinstance(value, int | float):
        ok = False
    else:
        ok = kind == _NUMBER or isinstance(value, int) or float(value).is_integer()
    if not ok:
        raise errors.wrong_type(json_type(value), path)


def _object(value: Any, known: frozenset[str], path: str) -> dict[str, Any]:
    """``value`` as an object with known fields only ({} for null)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.wrong_type(json_type(value), path)
    for key in value:
        if key not in known:
            raise errors.unknown_field(str(key))
    return value


def _array(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.wrong_type(json_type(value), path)
    return value


def check_request(body: Any, ad_account_id: str) -> EventsRequest:
    """The request as Reddit reads it, or the :class:`~.errors.RedditError` refusing it."""
    if not isinstance(body, dict):
        raise errors.wrong_type(json_type(body), "body")
    _object(body, REQUEST_FIELDS, "body")
    _typed(body.get("test_mode"), _BOOL, "test_mode")
    _typed(body.get("partner"), _STRING, "partner")
    events = _array(body.get("events"), "events")
    if not events:
        raise errors.error(400, "events: at least one conversion event is required")
    if len(events) > MAX_EVENTS:
        raise errors.error(
            400, f"events: at most {MAX_EVENTS} conversion events per request, got {len(events)}"
        )
    for raw in events:
        _read_event(raw)
    partner = body.get("partner")
    return EventsRequest(
        ad_account_id=ad_account_id,
        test_mode=body.get("test_mode") is True,
        partner=partner or None,
        events=[raw if isinstance(raw, dict) else {} for raw in events],  # null: an empty event
    )


def _read_event(raw: Any) -> None:
    event = _object(raw, EVENT_FIELDS, "events")
    _typed(event.get("event_at"), _STRING, "events event_at")
    _typed(event.get("click_id"), _STRING, "events click_id")
    kind = _object(event.get("event_type"), EVENT_TYPE_FIELDS, "events event_type")
    for key in EVENT_TYPE_FIELDS:
        _typed(kind.get(key), _STRING, f"events event_type {key}")
    meta = _object(event.get("event_metadata"), METADATA_FIELDS, "events event_metadata")
    for key in ("conversion_id", "currency"):
        _typed(meta.get(key), _STRING, f"events event_metadata {key}")
    for key in ("value", "item_count"):
        _typed(meta.get(key), _INTEGER, f"events event_metadata {key}")
    _typed(meta.get("value_decimal"), _NUMBER, "events event_metadata value_decimal")
    for item in _array(meta.get("products"), "events event_metadata products"):
        product = _object(item, PRODUCT_FIELDS, "events event_metadata products")
        for key in PRODUCT_FIELDS:
            _typed(product.get(key), _STRING, f"events event_metadata products {key}")
    user = _object(event.get("user"), USER_FIELDS, "events user")
    for key in HASHED_USER_KEYS + PLAIN_USER_KEYS:
        _typed(user.get(key), _STRING, f"events user {key}")
    path = "events user data_processing_options"
    options = _object(user.get("data_processing_options"), PROCESSING_FIELDS, path)
    for mode in _array(options.get("modes"), f"{path} modes"):
        _typed(mode, _STRING, f"{path} modes")
    for key in ("country", "region"):
        _typed(options.get(key), _STRING, f"{path} {key}")
    path = "events user screen_dimensions"
    screen = _object(user.get("screen_dimensions"), SCREEN_FIELDS, path)
    for key in SCREEN_FIELDS:
        _typed(screen.get(key), _INTEGER, f"{path} {key}")


def conversion_id_of(raw: Any) -> str | None:
    meta = raw.get("event_metadata") if isinstance(raw, dict) else None
    value = meta.get("conversion_id") if isinstance(meta, dict) else None
    return value if isinstance(value, str) and value else None


# --- one event ------------------------------------------------------------------------------


class _Invalid(Exception):
    pass


class _Event:
    """The rules of one readable event; :meth:`run` raises :class:`_Invalid` on the first
    broken one."""

    def __init__(self, index: int, raw: dict[str, Any], req: EventsRequest, now: float) -> None:
        self.index = index
        self.raw = raw
        self.req = req
        self.now = now
        self.diags: list[Diagnostic] = []
        self.mask = 0

    def diag(self, code: str, field: str, message: str) -> None:
        self.diags.append(Diagnostic(code, field, message))

    def run(self) -> CheckedEvent:
        at = self.event_at()
        name = self.event_type()
        meta = self.raw.get("event_metadata") or {}
        conversion_id = conversion_id_of(self.raw)
        self.metadata(name, meta)
        ldu = self.user(self.raw.get("user") or {})
        if self.raw.get("click_id"):
            if is_sha256(self.raw["click_id"]):
                self.diag("hashed_click_id", "click_id", "click_id must be sent as it is")
            else:
                self.mask |= BIT["click_id"]
        if not self.mask:
            self.diag(
                "no_match_keys",
                "user",
                "no usable match key (click_id, uuid, email, phone_number, external_id, or"
                " ip_address with user_agent): Reddit cannot attribute this event",
            )
        if conversion_id is None:
            self.diag(
                "missing_conversion_id",
                "event_metadata.conversion_id",
                "without conversion_id the event cannot be deduplicated against the pixel",
            )
        return CheckedEvent(
            index=self.index,
            event=self.raw,
            event_name=name,
            conversion_id=conversion_id,
            event_at=at,
            test_mode=self.req.test_mode,
            limited_data_use=ldu,
            diagnostics=tuple(self.diags),
            match_mask=self.mask,
        )

    def event_at(self) -> float:
        text = self.raw.get("event_at")
        if not text:
            raise _Invalid("event_at is required")
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise _Invalid("event_at must be an RFC 3339 timestamp") from None
        if when.tzinfo is None:
            raise _Invalid("event_at must be an RFC 3339 timestamp with its time zone")
        at = when.timestamp()
        if at <= self.now - MAX_AGE_SECONDS:
            raise _Invalid(errors.TOO_OLD)
        if at > self.now + FUTURE_TOLERANCE:
            self.diag("event_at_in_future", "event_at", f"event_at is {int(at - self.now)} s ahead")
        return at

    def event_type(self) -> str:
        kind = self.raw.get("event_type") or {}
        tracking = kind.get("tracking_type")
        if not tracking:
            raise _Invalid("event_type.tracking_type is required")
        if tracking not in TRACKING_TYPES:
            hint = tracking_type_spelling(tracking)
            also = f" (did you mean {hint!r}?)" if hint else ""
            raise _Invalid(f"invalid tracking_type {tracking!r}{also}")
        custom = kind.get("custom_event_name")
        if tracking != "Custom":
            return str(tracking)
        if not custom or not custom.strip():
            raise _Invalid("custom_event_name is required when tracking_type is Custom")
        if len(custom) > MAX_CUSTOM_NAME:
            raise _Invalid(f"custom_event_name must be at most {MAX_CUSTOM_NAME} characters")
        return str(custom)

    def metadata(self, name: str, meta: dict[str, Any]) -> None:
        currency = meta.get("currency")
        if currency and not (len(currency) == 3 and currency.isalpha()):
            raise _Invalid(f"invalid currency {currency!r}: an ISO 4217 code is expected")
        if currency and currency.upper() not in _currencies():
            self.diag("unknown_currency", "event_metadata.currency", f"{currency!r} is unknown")
        count = meta.get("item_count")
        if count is not None and count < 0:
            raise _Invalid("event_metadata.item_count must not be negative")
        if name == "Purchase" and (meta.get("value_decimal") is None or not currency):
            self.diag(
                "missing_value_or_currency",
                "event_metadata",
                "Purchase events need value_decimal and currency to report revenue",
            )

    def user(self, user: dict[str, Any]) -> bool:
        usable: set[str] = set()
        for key in HASHED_USER_KEYS:
            value = user.get(key)
            if not value:
                continue
            if not is_sha256(value):
                if key == "ip_address" and not valid_ip(value.strip()):
                    self.diag("invalid_ip", "user.ip_address", "not an IP address nor its hash")
                    continue
                self.diag(
                    "plaintext_in_hashed_field",
                    f"user.{key}",
                    f"{key} is sent in plaintext; send its SHA-256 hex digest",
                )
            usable.add(key)
        for key in PLAIN_USER_KEYS:
            value = user.get(key)
            if not value:
                continue
            if is_sha256(value):
                self.diag("hashed_plain_field", f"user.{key}", f"{key} must be sent as it is")
            else:
                usable.add(key)
        for key in ("email", "phone_number", "external_id", "uuid"):
            if key in usable:
                self.mask |= BIT[key]
        if {"ip_address", "user_agent"} <= usable:
            self.mask |= BIT["ip_ua"]
        self.screen(user.get("screen_dimensions") or {})
        return self.processing(user.get("data_processing_options"))

    def screen(self, screen: dict[str, Any]) -> None:
        for key in ("width", "height"):
            value = screen.get(key)
            if value is not None and not 0 < value < MAX_SCREEN:
                raise _Invalid(f"screen_dimensions.{key} must be above 0 and below {MAX_SCREEN}")

    def processing(self, options: dict[str, Any] | None) -> bool:
        if not options:
            return False
        modes = options.get("modes") or []
        for mode in modes:
            if mode not in PROCESSING_MODES:
                raise _Invalid(f"invalid data processing mode {mode!r}: only LDU is supported")
        country = options.get("country")
        if country and not valid_country(country):
            raise _Invalid(f"invalid data processing country {country!r}")
        region = options.get("region")
        if region and not valid_region(region):
            raise _Invalid(f"invalid data processing region {region!r}")
        return "LDU" in modes


@functools.cache
def _currencies() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies)


def _name_of(raw: dict[str, Any]) -> str | None:
    kind = raw.get("event_type") or {}
    name = kind.get("custom_event_name") or kind.get("tracking_type")
    return name if isinstance(name, str) and name.strip() else None


def check_event(index: int, raw: dict[str, Any], req: EventsRequest, now: float) -> CheckedEvent:
    try:
        return _Event(index, raw, req, now).run()
    except _Invalid as invalid:
        return CheckedEvent(
            index=index,
            event=raw,
            event_name=_name_of(raw),
            conversion_id=conversion_id_of(raw),
            event_at=None,
            test_mode=req.test_mode,
            error=str(invalid),
        )


def check_events(req: EventsRequest, now: float) -> list[CheckedEvent]:
    """Every event of ``req``, each accepted or with its ``error_message``."""
    return [check_event(i, raw, req, now) for i, raw in enumerate(req.events)]
