"""TikTok's rules for a track request and its events (reference §3), the emulator's own.

:func:`check_request` checks the request's own fields (``event_source``,
``event_source_id``, ``data`` with 1 to 1,000 events, ...) and raises a 40002
:class:`~.errors.TikTokError` naming the first broken one. :func:`check_events` checks each
event on its own and never raises: an event that breaks a rule comes back with ``error``,
TikTok's 40002 message naming the field (``Batch.0.event_time: Not a valid integer``);
:mod:`.answer` decides what the request's answer is.

Rules (an event that breaks one is invalid)
    * ``event``: a non-empty string; standard or custom names are both accepted;
    * ``event_time``: an integer (Unix seconds); ``event_id``, ``test_event_code``: strings;
    * ``user``: an object; ``email``, ``phone``, ``external_id`` a string or an array of
      strings, the other keys strings;
    * ``properties``: an object; ``contents`` an array of objects whose ``content_id``,
      ``content_name``, ``content_category``, ``brand`` are strings, ``content_type``
      ``product`` or ``product_group``, ``price`` a number, ``quantity`` an integer;
      ``value`` a number, ``num_items`` an integer, ``content_ids`` strings, ``currency``
      and the other documented text fields strings;
    * ``page``: an object whose ``url`` and ``referrer`` are strings;
    * ``limited_data_use``: a boolean.

Diagnostics (accepted, but shown as Events Manager would flag them): plaintext in a hashed
key (``email``, ``phone``, ``external_id``, names, ``zip_code`` must be SHA-256 hex), a hashed
value in a plain key (``ip``, ``user_agent``, ``ttclid``, ``ttp``), an invalid IP, no usable
match key, Meta's names kept by mistake (``em``, ``event_name``, ``custom_data``, ...), a
name that is a standard one but for its case, ``event_time`` in the future or in
milliseconds, no ``event_id`` (the event cannot be deduplicated against the pixel), a web
event without ``page.url``, a purchase without ``value`` and ``currency``, an unknown
currency.

The messages follow the one TikTok is known to send (``<path>: Not a valid string``); the
other rule texts are of the same family (marshmallow's, without the final period) and
assumed. Types are checked strictly: ``"1700000000"`` is not an integer, ``12`` not a string.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from ..diagnostics import Diagnostic
from . import errors
from .errors import event_path
from .formats import (
    BIT,
    CONTENT_TYPES,
    EVENT_SOURCES,
    HASHED_USER_KEYS,
    LIST_USER_KEYS,
    MAX_EVENTS,
    META_ONLY_EVENTS,
    META_USER_KEYS,
    PLAIN_USER_KEYS,
    STRING_CONTENT_FIELDS,
    STRING_PROPERTIES,
    is_sha256,
    standard_name,
    valid_ip,
)

REQUIRED = "Missing data for required field"
EMPTY = "Shorter than minimum length 1"
NOT_STRING = "Not a valid string"
NOT_INTEGER = "Not a valid integer"
NOT_NUMBER = "Not a valid number"
NOT_BOOLEAN = "Not a valid boolean"
NOT_LIST = "Not a valid list"
NOT_OBJECT = "Invalid input type"
FUTURE_TOLERANCE = 60
MILLISECONDS = 10**11
VALUE_EVENTS = frozenset({"CompletePayment", "Purchase", "PlaceAnOrder"})
META_EVENT_FIELDS = {
    "event_name": "event",
    "user_data": "user",
    "custom_data": "properties",
    "event_source_url": "page.url",
    "action_source": "event_source (of the request)",
}
KNOWN_EVENT_FIELDS = frozenset(
    {
        "event",
        "event_time",
        "event_id",
        "user",
        "properties",
        "page",
        "limited_data_use",
        "test_event_code",
        "lead",
        "app",
        "ad",
    }
)


@dataclass(frozen=True, slots=True)
class TrackRequest:
    """A request whose own fields passed: what its events are checked against."""

    event_source: str
    event_source_id: str
    test_event_code: str | None
    partner_name: str | None
    data: list[Any]


@dataclass(slots=True)
class CheckedEvent:
    """One element of ``data`` and what the sandbox made of it. ``error`` is TikTok's
    40002 message for an invalid event, ``None`` for an accepted one."""

    index: int
    event: Any
    event_name: str | None
    event_id: str | None
    event_time: int | None
    test_event_code: str | None
    limited_data_use: bool = False
    diagnostics: tuple[Diagnostic, ...] = ()
    match_mask: int = 0
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None


class _Broken(Exception):
    def __init__(self, path: str, rule: str) -> None:
        super().__init__(f"{path}: {rule}")
        self.message = f"{path}: {rule}"


# --- the request's own fields -------------------------------------------------------------


def _top_string(body: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise errors.invalid(key, REQUIRED)
        return None
    if not isinstance(value, str):
        raise errors.invalid(key, NOT_STRING)
    if required and not value.strip():
        raise errors.invalid(key, EMPTY)
    return value or None


def check_request(body: Any) -> TrackRequest:
    """The request's own fields, or a 40002 :class:`~.errors.TikTokError` naming the first
    broken one."""
    if not isinstance(body, dict):
        raise errors.invalid("body", "Not a valid JSON object")
    source = _top_string(body, "event_source", required=True)
    if source not in EVENT_SOURCES:
        raise errors.invalid("event_source", "Must be one of: " + ", ".join(EVENT_SOURCES))
    source_id = _top_string(body, "event_source_id", required=True)
    assert source_id is not None
    data = body.get("data")
    if data is None:
        raise errors.invalid("data", REQUIRED)
    if not isinstance(data, list):
        raise errors.invalid("data", NOT_LIST)
    if not 1 <= len(data) <= MAX_EVENTS:
        raise errors.invalid("data", f"Length must be between 1 and {MAX_EVENTS}")
    return TrackRequest(
        event_source=source,
        event_source_id=source_id,
        test_event_code=_top_string(body, "test_event_code", required=False),
        partner_name=_top_string(body, "partner_name", required=False),
        data=data,
    )


def source_id_of(body: Any) -> str | None:
    """``event_source_id`` if the body has a usable one (faults are scoped by it)."""
    value = body.get("event_source_id") if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def event_id_of(raw: Any) -> str | None:
    value = raw.get("event_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value else None


# --- one event ----------------------------------------------------------------------------


class _Event:
    """The checks of one event; :meth:`run` raises :class:`_Broken` on the first broken rule."""

    def __init__(self, index: int, raw: dict[str, Any], req: TrackRequest, now: float) -> None:
        self.index = index
        self.raw = raw
        self.req = req
        self.now = now
        self.diags: list[Diagnostic] = []
        self.mask = 0

    def broken(self, rule: str, *keys: str | int) -> _Broken:
        return _Broken(event_path(self.index, *keys), rule)

    def diag(self, code: str, field: str, message: str) -> None:
        self.diags.append(Diagnostic(code, field, message))

    def string(self, value: Any, *keys: str | int) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.broken(NOT_STRING, *keys)
        return value

    def obj(self, value: Any, *keys: str | int) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.broken(NOT_OBJECT, *keys)
        return value

    def run(self) -> CheckedEvent:
        raw = self.raw
        name = raw.get("event")
        if name is None:
            raise self.broken(REQUIRED, "event")
        if not isinstance(name, str):
            raise self.broken(NOT_STRING, "event")
        if not name.strip():
            raise self.broken(EMPTY, "event")
        event_time = self.event_time()
        event_id = self.string(raw.get("event_id"), "event_id") or None
        test_code = self.string(raw.get("test_event_code"), "test_event_code") or None
        ldu = raw.get("limited_data_use")
        if ldu is not None and not isinstance(ldu, bool):
            raise self.broken(NOT_BOOLEAN, "limited_data_use")
        self.user(self.obj(raw.get("user"), "user"))
        self.properties(name, self.obj(raw.get("properties"), "properties"))
        self.page(self.obj(raw.get("page"), "page"))
        self.obj(raw.get("lead"), "lead")
        self.names(name)
        if event_id is None:
            self.diag(
                "missing_event_id",
                "event_id",
                "without event_id the event cannot be deduplicated against the pixel",
            )
        return CheckedEvent(
            index=self.index,
            event=raw,
            event_name=name,
            event_id=event_id,
            event_time=event_time,
            test_event_code=test_code or self.req.test_event_code,
            limited_data_use=ldu is True,
            diagnostics=tuple(self.diags),
            match_mask=self.mask,
        )

    def event_time(self) -> int:
        value = self.raw.get("event_time")
        if value is None:
            raise self.broken(REQUIRED, "event_time")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.broken(NOT_INTEGER, "event_time")
        if value > MILLISECONDS:
            self.diag(
                "event_time_milliseconds",
                "event_time",
                "event_time looks like milliseconds; TikTok wants Unix seconds",
            )
        elif value > self.now + FUTURE_TOLERANCE:
            self.diag(
                "event_time_in_future",
                "event_time",
                f"event_time is {int(value - self.now)} s in the future",
            )
        return value

    def names(self, name: str) -> None:
        standard = standard_name(name)
        if standard is not None:
            self.diag(
                "nonstandard_spelling",
                "event",
                f"{name!r} is counted as a custom event; the standard event is {standard!r}",
            )
        elif name in META_ONLY_EVENTS:
            self.diag(
                "meta_event_name",
                "event",
                f"{name!r} is a Meta standard event; TikTok counts it as a custom event",
            )
        for key in self.raw:
            if key in META_EVENT_FIELDS:
                self.diag(
                    "meta_field",
                    str(key),
                    f"{key} is Meta's field; TikTok reads {META_EVENT_FIELDS[key]} and ignores it",
                )
            elif key not in KNOWN_EVENT_FIELDS:
                self.diag("unknown_field", str(key), f"{key} is not an event field; ignored")

    def hashed_values(self, key: str, value: Any) -> list[str]:
        if isinstance(value, list) and key in LIST_USER_KEYS:
            for j, item in enumerate(value):
                if not isinstance(item, str):
                    raise self.broken(NOT_STRING, "user", key, j)
            return [v for v in value if v]
        if not isinstance(value, str):
            raise self.broken(NOT_STRING, "user", key)
        return [value] if value else []

    def user(self, user: dict[str, Any] | None) -> None:
        usable: dict[str, str] = {}
        for key, value in (user or {}).items():
            if value is None:
                continue
            field = f"user.{key}"
            if key in HASHED_USER_KEYS:
                values = self.hashed_values(key, value)
                plain = sum(1 for v in values if not is_sha256(v))
                if plain:
                    self.diag(
                        "plaintext_in_hashed_field",
                        field,
                        f"{key} must be the SHA-256 hex digest of the normalized value; "
                        f"{plain} of {len(values)} value(s) are not (TikTok cannot match them)",
                    )
                if plain < len(values) and key in BIT:
                    self.mask |= BIT[key]
            elif key in PLAIN_USER_KEYS or key == "lead_id":
                text = self.string(value, "user", key)
                if not text:
                    continue
                if key in ("ip", "user_agent", "ttclid", "ttp") and is_sha256(text):
                    self.diag(
                        "hashed_value_in_plaintext_field",
                        field,
                        f"{key} must be sent as it is, never hashed; this value looks hashed",
                    )
                elif key == "ip" and not valid_ip(text):
                    self.diag("invalid_ip", field, "ip is not a valid IPv4 or IPv6 address")
                else:
                    usable[key] = text
            elif key in META_USER_KEYS:
                self.diag(
                    "meta_user_key",
                    field,
                    f"{key} is Meta's name; TikTok reads user.{META_USER_KEYS[key]} and ignores it",
                )
            else:
                self.diag("unknown_user_key", field, f"{key} is not a TikTok user field; ignored")
        if "ip" in usable and "user_agent" in usable:
            self.mask |= BIT["ip_ua"]
        for key in ("ttclid", "ttp"):
            if key in usable:
                self.mask |= BIT[key]
        if not self.mask:
            self.diag(
                "no_match_keys",
                "user",
                "no usable match key (hashed email, phone or external_id, ip with user_agent, "
                "ttclid or ttp): TikTok cannot attribute this event",
            )

    def number(self, value: Any, *keys: str | int, integer: bool = False) -> None:
        if value is None:
            return
        ok = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok):
            raise self.broken(NOT_INTEGER if integer else NOT_NUMBER, *keys)

    def properties(self, name: str, props: dict[str, Any] | None) -> None:
        props = props or {}
        for key in STRING_PROPERTIES:
            self.string(props.get(key), "properties", key)
        self.number(props.get("value"), "properties", "value")
        self.number(props.get("num_items"), "properties", "num_items", integer=True)
        ids = props.get("content_ids")
        if ids is not None:
            if not isinstance(ids, list):
                raise self.broken(NOT_LIST, "properties", "content_ids")
            for j, item in enumerate(ids):
                self.string(item, "properties", "content_ids", j)
        contents = props.get("contents")
        if contents is not None:
            if not isinstance(contents, list):
                raise self.broken(NOT_LIST, "properties", "contents")
            for j, item in enumerate(contents):
                self.content(j, item)
        content_type = props.get("content_type")
        if content_type is not None and content_type not in CONTENT_TYPES:
            rule = "Must be one of: " + ", ".join(CONTENT_TYPES)
            raise self.broken(rule, "properties", "content_type")
        currency = props.get("currency")
        if name in VALUE_EVENTS and (props.get("value") is None or not currency):
            self.diag(
                "missing_value_or_currency",
                "properties",
                f"{name} events need properties.value and properties.currency to report "
                "revenue (ROAS)",
            )
        if isinstance(currency, str) and currency and currency.upper() not in _currencies():
            self.diag(
                "unknown_currency",
                "properties.currency",
                f"{currency!r} is not an ISO 4217 currency code",
            )

    def content(self, j: int, item: Any) -> None:
        if not isinstance(item, dict):
            raise self.broken(NOT_OBJECT, "properties", "contents", j)
        for key in STRING_CONTENT_FIELDS:
            self.string(item.get(key), "properties", "contents", j, key)
        self.number(item.get("price"), "properties", "contents", j, "price")
        self.number(item.get("quantity"), "properties", "contents", j, "quantity", integer=True)
        kind = item.get("content_type")
        if kind is not None and kind not in CONTENT_TYPES:
            rule = "Must be one of: " + ", ".join(CONTENT_TYPES)
            raise self.broken(rule, "properties", "contents", j, "content_type")

    def page(self, page: dict[str, Any] | None) -> None:
        page = page or {}
        url = self.string(page.get("url"), "page", "url")
        self.string(page.get("referrer"), "page", "referrer")
        if self.req.event_source != "web":
            return
        if not url:
            self.diag(
                "missing_page_url",
                "page.url",
                "web events should carry page.url, the page the event happened on",
            )
        elif not url.startswith(("http://", "https://")):
            self.diag("page_url_not_http", "page.url", "page.url should be a full http(s) URL")


@functools.cache
def _currencies() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies)


def _name_of(raw: Any) -> str | None:
    value = raw.get("event") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value.strip() else None


def check_event(index: int, raw: Any, req: TrackRequest, now: float) -> CheckedEvent:
    if isinstance(raw, dict):
        try:
            return _Event(index, raw, req, now).run()
        except _Broken as broken:
            message = broken.message
    else:
        message = f"{event_path(index)}: {NOT_OBJECT}"
    code = raw.get("test_event_code") if isinstance(raw, dict) else None
    return CheckedEvent(
        index=index,
        event=raw,
        event_name=_name_of(raw),
        event_id=event_id_of(raw),
        event_time=None,
        test_event_code=code if isinstance(code, str) and code else req.test_event_code,
        error=message,
    )


def check_events(req: TrackRequest, now: float) -> list[CheckedEvent]:
    """Every event of ``req``, each accepted or with its 40002 message."""
    return [check_event(i, raw, req, now) for i, raw in enumerate(req.data)]
