"""Snap's rules for a Conversions API v3 request and its events (reference §4), the
emulator's own.

:func:`check_request` checks the body (a JSON object whose ``data`` holds 1 to 2,000 events)
and raises a 400 :class:`~.errors.SnapError` otherwise. :func:`check_events` checks each
event on its own and never raises: an event that breaks a rule comes back with ``error``,
the message naming the field (``data[2].event_time: must be an integer``; Snap's wording is
not published, this one is the sandbox's).

Rules (an event that breaks one is invalid)
    * ``event_name``: a non-empty string (Snap's names or any other, counted as custom);
    * ``event_time``: an integer, Unix seconds (or milliseconds), at most 37 days old;
    * ``action_source``: ``WEB``/``web``/``website``, ``MOBILE_APP``/``app``,
      ``OFFLINE``/``offline``, in any case (the sources disagree on the spelling);
    * ``user_data``: an object; hashed keys a string or an array of strings, plain keys
      strings; ``event_id``, ``event_source_url``, ``integration``: strings;
      ``opt_out`` a boolean; ``data_processing_options`` an array of strings;
    * ``custom_data``: an object; ``value`` a number (or a number written as a string, as
      Snap's own example sends it), the text fields strings, ``content_ids`` strings,
      ``contents`` objects whose ``id`` is a string and ``quantity``/``item_price``
      numbers or numeric strings (Snap's OpenAPI types them as strings), ``num_items``
      an integer;
    * ``app_data``: an object, ``extinfo`` an array of strings.

Diagnostics (accepted, but flagged): plaintext in a hashed key, a hashed value in a plain
key, an invalid IP, no match key (Snap asks for ``em``, ``ph`` or ``madid``, or both
``client_ip_address`` and ``client_user_agent``; Segment and RudderStack refuse such an
event before sending, whether Snap does is unconfirmed: the sandbox flags it), Meta's
``fbc``/``fbp`` kept, a custom event name or a Snap name in the wrong case, no
``event_id``, a web event without ``event_source_url``, a purchase without ``value`` and
``currency``, an app event without ``app_data.extinfo``, ``event_time`` in milliseconds or
in the future.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..diagnostics import Diagnostic
from . import errors
from .formats import (
    ACTION_SOURCES,
    BIT,
    HASHED_KEYS,
    LIMITED_USE,
    MAX_AGE_SECONDS,
    MAX_EVENTS,
    META_ONLY_KEYS,
    PLAIN_KEYS,
    STANDARD_EVENTS,
    TEXT_CUSTOM,
    is_sha256,
    valid_ip,
)

MILLISECONDS = 10**11
FUTURE_TOLERANCE = 60


@dataclass(slots=True)
class CheckedEvent:
    """One element of ``data`` and what the sandbox made of it; ``error`` is the message for
    an invalid event, ``None`` for an accepted one."""

    index: int
    event: Any
    event_name: str | None
    event_id: str | None
    event_time: int | None
    action_source: str | None = None
    limited_use: bool = False
    diagnostics: tuple[Diagnostic, ...] = ()
    match_mask: int = 0
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None

    @property
    def warnings(self) -> list[str]:
        return [d.message for d in self.diagnostics]


class _Broken(Exception):
    pass


def check_request(body: Any) -> list[Any]:
    """The events of a request body, or a 400 :class:`~.errors.SnapError`."""
    if not isinstance(body, dict):
        raise errors.invalid_body("The request body must be a JSON object")
    data = body.get("data")
    if data is None:
        raise errors.invalid_data("data is required")
    if not isinstance(data, list):
        raise errors.invalid_data("data must be an array of events")
    if not 1 <= len(data) <= MAX_EVENTS:
        raise errors.invalid_data(f"data must hold between 1 and {MAX_EVENTS} events")
    return data


def event_id_of(raw: Any) -> str | None:
    value = raw.get("event_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value else None


class _Event:
    def __init__(self, index: int, raw: dict[str, Any], now: float) -> None:
        self.index = index
        self.raw = raw
        self.now = now
        self.diags: list[Diagnostic] = []
        self.mask = 0

    def broken(self, path: str, rule: str) -> _Broken:
        return _Broken(f"data[{self.index}].{path}: {rule}")

    def diag(self, code: str, field: str, message: str) -> None:
        self.diags.append(Diagnostic(code, field, message))

    def string(self, value: Any, path: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.broken(path, "must be a string")
        return value

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.broken(path, "must be an object")
        return value

    def run(self) -> CheckedEvent:
        raw = self.raw
        name = raw.get("event_name")
        if not isinstance(name, str) or not name.strip():
            raise self.broken("event_name", "is required and must be a non-empty string")
        event_time = self.event_time()
        source = raw.get("action_source")
        if not isinstance(source, str) or source.strip().lower() not in ACTION_SOURCES:
            raise self.broken("action_source", "must be one of WEB, MOBILE_APP, OFFLINE")
        kind = ACTION_SOURCES[source.strip().lower()]
        event_id = self.string(raw.get("event_id"), "event_id") or None
        url = self.string(raw.get("event_source_url"), "event_source_url")
        self.string(raw.get("integration"), "integration")
        if raw.get("opt_out") is not None and not isinstance(raw.get("opt_out"), bool):
            raise self.broken("opt_out", "must be a boolean")
        options = raw.get("data_processing_options")
        if options is not None and (
            not isinstance(options, list) or not all(isinstance(o, str) for o in options)
        ):
            raise self.broken("data_processing_options", "must be an array of strings")
        if "user_data" not in raw:
            raise self.broken("user_data", "is required")
        self.user(self.obj(raw.get("user_data"), "user_data"))
        self.custom(name, self.obj(raw.get("custom_data"), "custom_data"))
        self.app(kind, self.obj(raw.get("app_data"), "app_data"))
        self.name(name)
        if event_id is None:
            self.diag(
                "missing_event_id",
                "event_id",
                "without event_id the event cannot be"
                " deduplicated against the pixel's client_dedup_id",
            )
        if kind == "WEB" and not url:
            self.diag(
                "missing_event_source_url",
                "event_source_url",
                "web events should carry event_source_url",
            )
        return CheckedEvent(
            index=self.index,
            event=raw,
            event_name=name,
            event_id=event_id,
            event_time=event_time,
            action_source=kind,
            limited_use=bool(options and LIMITED_USE & set(options)),
            diagnostics=tuple(self.diags),
            match_mask=self.mask,
        )

    def event_time(self) -> int:
        value = self.raw.get("event_time")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.broken("event_time", "is required and must be an integer (Unix seconds)")
        seconds = value / 1000 if value > MILLISECONDS else value
        if value > MILLISECONDS:
            self.diag(
                "event_time_milliseconds",
                "event_time",
                "event_time looks like milliseconds; Snap documents Unix seconds",
            )
        if seconds < self.now - MAX_AGE_SECONDS:
            raise self.broken("event_time", "is older than 37 days")
        if seconds > self.now + FUTURE_TOLERANCE:
            self.diag(
                "event_time_in_future",
                "event_time",
                f"event_time is {int(seconds - self.now)} s in the future",
            )
        return value

    def name(self, name: str) -> None:
        if name in STANDARD_EVENTS:
            return
        folded = name.strip().upper()
        if folded in STANDARD_EVENTS:
            self.diag(
                "nonstandard_spelling",
                "event_name",
                f"{name!r} differs from Snap's event {folded!r} by its case",
            )
        else:
            self.diag(
                "custom_event_name", "event_name", f"{name!r} is not one of Snap's event names"
            )

    def user(self, user: dict[str, Any]) -> None:
        usable: set[str] = set()
        for key, value in user.items():
            if value is None:
                continue
            path = f"user_data.{key}"
            if key in HASHED_KEYS:
                values = value if isinstance(value, list) else [value]
                if not all(isinstance(v, str) for v in values):
                    raise self.broken(path, "must be a string or an array of strings")
                values = [v for v in values if v]
                plain = sum(1 for v in values if not is_sha256(v))
                if plain:
                    self.diag(
                        "plaintext_in_hashed_field",
                        path,
                        f"{key} must be the SHA-256 hex digest of the normalized value;"
                        f" {plain} of {len(values)} value(s) are not",
                    )
                if plain < len(values):
                    usable.add(key)
            elif key in PLAIN_KEYS:
                text = self.string(value, path)
                if not text:
                    continue
                if key in ("client_ip_address", "client_user_agent", "sc_click_id") and is_sha256(
                    text
                ):
                    self.diag(
                        "hashed_value_in_plaintext_field",
                        path,
                        f"{key} must be sent as it is, never hashed",
                    )
                elif key == "client_ip_address" and not valid_ip(text):
                    self.diag("invalid_ip", path, "not a valid IPv4 or IPv6 address")
                else:
                    usable.add(key)
            elif key in META_ONLY_KEYS:
                self.diag(
                    "meta_user_key",
                    path,
                    f"{key} is Meta's; Snap reads user_data.{META_ONLY_KEYS[key]}",
                )
            else:
                self.diag("unknown_user_key", path, f"{key} is not a Snap user_data field")
        for key in ("em", "ph", "external_id", "sc_click_id", "sc_cookie1"):
            if key in usable:
                self.mask |= BIT[key]
        if {"client_ip_address", "client_user_agent"} <= usable:
            self.mask |= BIT["ip_ua"]
        if not ({"em", "ph", "madid", "mobile_ad_id"} & usable or self.mask & BIT["ip_ua"]):
            self.diag(
                "no_match_keys",
                "user_data",
                "Snap asks for em, ph or madid, or both client_ip_address and"
                " client_user_agent, to match the event",
            )

    def number(self, value: Any, path: str, *, integer: bool = False, text: bool = False) -> None:
        if value is None:
            return
        if text and isinstance(value, str):
            try:
                float(value)
            except ValueError:
                raise self.broken(path, "must be a number") from None
            return
        ok = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok):
            raise self.broken(path, "must be an integer" if integer else "must be a number")

    def custom(self, name: str, custom: dict[str, Any]) -> None:
        for key in TEXT_CUSTOM:
            self.string(custom.get(key), f"custom_data.{key}")
        self.number(custom.get("value"), "custom_data.value", text=True)
        self.number(custom.get("num_items"), "custom_data.num_items", integer=True)
        ids = custom.get("content_ids")
        if ids is not None and (
            not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)
        ):
            raise self.broken("custom_data.content_ids", "must be an array of strings")
        contents = custom.get("contents")
        if contents is not None:
            if not isinstance(contents, list):
                raise self.broken("custom_data.contents", "must be an array")
            for j, item in enumerate(contents):
                path = f"custom_data.contents[{j}]"
                item = self.obj(item, path)
                self.string(item.get("id"), f"{path}.id")
                self.string(item.get("delivery_category"), f"{path}.delivery_category")
                self.number(item.get("quantity"), f"{path}.quantity", text=True)
                self.number(item.get("item_price"), f"{path}.item_price", text=True)
        if name == "PURCHASE" and (custom.get("value") is None or not custom.get("currency")):
            self.diag(
                "missing_value_or_currency",
                "custom_data",
                "PURCHASE events need custom_data.value and currency to report revenue",
            )

    def app(self, kind: str, app: dict[str, Any]) -> None:
        extinfo = app.get("extinfo")
        if extinfo is not None and (
            not isinstance(extinfo, list) or not all(isinstance(e, str) for e in extinfo)
        ):
            raise self.broken("app_data.extinfo", "must be an array of strings")
        if kind == "MOBILE_APP" and not extinfo:
            self.diag(
                "missing_extinfo",
                "app_data.extinfo",
                "app events need app_data.extinfo (Snap requires it for app events)",
            )


def check_event(index: int, raw: Any, now: float) -> CheckedEvent:
    if isinstance(raw, dict):
        try:
            return _Event(index, raw, now).run()
        except _Broken as broken:
            message = str(broken)
    else:
        message = f"data[{index}]: must be an object"
    name = raw.get("event_name") if isinstance(raw, dict) else None
    return CheckedEvent(
        index=index,
        event=raw,
        event_name=name if isinstance(name, str) and name.strip() else None,
        event_id=event_id_of(raw),
        event_time=None,
        error=message,
    )


def check_events(data: list[Any], now: float) -> list[CheckedEvent]:
    """Every event of ``data``, each accepted or with its message."""
    return [check_event(i, raw, now) for i, raw in enumerate(data)]
