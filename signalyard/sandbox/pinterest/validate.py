"""Pinterest's rules for an events request and its events (reference §5), the emulator's own.

:func:`check_request` checks the request itself (a JSON object whose ``data`` holds 1 to
1,000 events) and raises a 400 :class:`~.errors.PinterestError`. :func:`check_events` checks
each event on its own and never raises: an event that breaks a rule comes back with
``error``, its ``error_message`` in the answer's ``events`` (``status: "failed"``).

Rules (an event that breaks one fails)
    * ``event_name``: one of Pinterest's names (:data:`~.formats.EVENT_NAMES`);
    * ``action_source``: ``app_android``, ``app_ios``, ``web`` or ``offline``;
    * ``event_time``: an integer, Unix seconds, at most 7 days old [the sandbox's assumption];
    * ``event_id``: a non-empty string (required: the deduplication key);
    * ``user_data``: an object with ``em``, ``hashed_maids`` or both ``client_ip_address`` and
      ``client_user_agent``; its hashed keys arrays of strings, its plain keys strings;
    * ``custom_data``: an object; ``value``, ``currency`` and the other text fields strings
      (``value`` a number written as a string), ``content_ids`` an array of strings,
      ``contents`` an array of objects (``item_price`` a string, ``quantity`` an integer),
      ``num_items`` an integer;
    * ``opt_out``, ``wifi``: booleans; ``event_source_url``, ``partner_name``: strings.

Warnings (accepted, sent back as the event's ``warning_message`` and kept as diagnostics):
plaintext in a hashed key, a hashed value in a plain key, an invalid IP, Meta's names kept
by mistake, an unknown field, an event received more than an hour late (reported as
offline), an ``event_time`` in the future or in milliseconds, a web event without
``event_source_url``, a ``checkout`` without ``value`` and ``currency``.

Message wording is the sandbox's own (Pinterest's is not in the reference): ``<field>:
<rule>``. Types are checked strictly: ``"1700000000"`` is not an integer, ``12`` not a string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..diagnostics import Diagnostic
from . import errors
from .formats import (
    ACTION_SOURCES,
    BIT,
    EVENT_NAMES,
    FUTURE_TOLERANCE,
    HASHED_USER_KEYS,
    MAX_AGE_SECONDS,
    MAX_EVENTS,
    META_EVENT_NAMES,
    META_USER_KEYS,
    OFFLINE_AFTER,
    PLAIN_USER_KEYS,
    STRING_CUSTOM,
    is_decimal,
    is_sha256,
    valid_ip,
)

REQUIRED = "is required"
KNOWN_FIELDS = frozenset(
    {
        "event_name",
        "action_source",
        "event_time",
        "event_id",
        "event_source_url",
        "opt_out",
        "partner_name",
        "user_data",
        "custom_data",
        "app_id",
        "app_name",
        "app_version",
        "device_brand",
        "device_carrier",
        "device_model",
        "device_type",
        "os_version",
        "wifi",
        "language",
    }
)
_ADDRESS = ("ct", "st", "zp", "country")


@dataclass(slots=True)
class CheckedEvent:
    """One element of ``data`` and what the sandbox made of it: ``error`` is the event's
    ``error_message`` when it failed, ``None`` when it was processed."""

    index: int
    event: Any
    event_name: str | None
    event_id: str | None
    event_time: int | None
    action_source: str | None = None
    ldp: bool = False
    opt_out: bool = False
    diagnostics: tuple[Diagnostic, ...] = ()
    match_mask: int = 0
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None

    def answer(self) -> dict[str, Any]:
        """This event's entry in the answer's ``events``."""
        warning = "; ".join(d.message for d in self.diagnostics) or None
        if self.error is not None:
            return {"status": "failed", "error_message": self.error, "warning_message": warning}
        return {"status": "processed", "error_message": None, "warning_message": warning}


class _Broken(Exception):
    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.message = f"{field}: {rule}"


def check_request(body: Any) -> list[Any]:
    """The request's ``data``, or a 400 :class:`~.errors.PinterestError`."""
    if not isinstance(body, dict):
        raise errors.invalid("the body must be a JSON object")
    data = body.get("data")
    if data is None:
        raise errors.invalid("data is required")
    if not isinstance(data, list):
        raise errors.invalid("data must be an array of events")
    if not 1 <= len(data) <= MAX_EVENTS:
        raise errors.invalid(f"data must hold 1 to {MAX_EVENTS} events (got {len(data)})")
    return data


def event_id_of(raw: Any) -> str | None:
    value = raw.get("event_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value else None


class _Event:
    """The checks of one event; :meth:`run` raises :class:`_Broken` on the first broken rule."""

    def __init__(self, index: int, raw: dict[str, Any], now: float) -> None:
        self.index = index
        self.raw = raw
        self.now = now
        self.diags: list[Diagnostic] = []
        self.mask = 0

    def diag(self, code: str, field: str, message: str) -> None:
        self.diags.append(Diagnostic(code, field, message))

    def string(self, value: Any, field: str, *, required: bool = False) -> str | None:
        if value is None:
            if required:
                raise _Broken(field, REQUIRED)
            return None
        if not isinstance(value, str):
            raise _Broken(field, "must be a string")
        if required and not value.strip():
            raise _Broken(field, "must not be empty")
        return value

    def obj(self, value: Any, field: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise _Broken(field, "must be an object")
        return value

    def boolean(self, value: Any, field: str) -> bool:
        if value is not None and not isinstance(value, bool):
            raise _Broken(field, "must be a boolean")
        return value is True

    def run(self) -> CheckedEvent:
        raw = self.raw
        name = self.string(raw.get("event_name"), "event_name", required=True)
        assert name is not None
        if name not in EVENT_NAMES:
            hint = META_EVENT_NAMES.get(name)
            also = f" (Pinterest's name for it is {hint!r})" if hint else ""
            raise _Broken("event_name", f"{name!r} is not a valid event name{also}")
        source = self.string(raw.get("action_source"), "action_source", required=True)
        if source not in ACTION_SOURCES:
            raise _Broken("action_source", "must be one of " + ", ".join(ACTION_SOURCES))
        event_time = self.event_time()
        event_id = self.string(raw.get("event_id"), "event_id", required=True)
        url = self.string(raw.get("event_source_url"), "event_source_url")
        self.string(raw.get("partner_name"), "partner_name")
        opt_out = self.boolean(raw.get("opt_out"), "opt_out")
        self.boolean(raw.get("wifi"), "wifi")
        if "user_data" not in raw:
            raise _Broken("user_data", REQUIRED)
        self.user(self.obj(raw.get("user_data"), "user_data"))
        custom = self.custom(name, self.obj(raw.get("custom_data"), "custom_data"))
        if source == "web" and not url:
            self.diag(
                "missing_event_source_url",
                "event_source_url",
                "web events should carry event_source_url, the page the event happened on",
            )
        for key in raw:
            if key not in KNOWN_FIELDS:
                self.diag("unknown_field", str(key), f"{key} is not an event field; ignored")
        opt_out_type = custom.get("opt_out_type")
        ldp = isinstance(opt_out_type, str) and "LDP" in opt_out_type.split(",")
        return CheckedEvent(
            index=self.index,
            event=raw,
            event_name=name,
            event_id=event_id,
            event_time=event_time,
            action_source=source,
            ldp=ldp,
            opt_out=opt_out,
            diagnostics=tuple(self.diags),
            match_mask=self.mask,
        )

    def event_time(self) -> int:
        value = self.raw.get("event_time")
        if value is None:
            raise _Broken("event_time", REQUIRED)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Broken("event_time", "must be an integer (Unix seconds)")
        if value > 10**11:
            self.diag(
                "event_time_milliseconds",
                "event_time",
                "event_time looks like milliseconds; Pinterest wants Unix seconds",
            )
        elif value > self.now + FUTURE_TOLERANCE:
            self.diag(
                "event_time_in_future",
                "event_time",
                f"event_time is {int(value - self.now)} s in the future",
            )
        elif value < self.now - MAX_AGE_SECONDS:
            raise _Broken("event_time", "is more than 7 days in the past")
        elif value < self.now - OFFLINE_AFTER:
            self.diag(
                "reported_offline",
                "event_time",
                "received more than an hour after event_time: reported as offline",
            )
        return value

    def user(self, user: dict[str, Any]) -> None:
        usable: set[str] = set()
        for key, value in user.items():
            if value is None:
                continue
            field = f"user_data.{key}"
            if key in HASHED_USER_KEYS:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise _Broken(field, "must be an array of strings")
                plain = sum(1 for v in value if not is_sha256(v))
                if plain:
                    self.diag(
                        "plaintext_in_hashed_field",
                        field,
                        f"{key} must hold SHA-256 hex"
                        f" digests; {plain} of {len(value)} value(s) are not",
                    )
                if plain < len(value):
                    usable.add(key)
            elif key in PLAIN_USER_KEYS:
                text = self.string(value, field)
                if not text:
                    continue
                if is_sha256(text):
                    self.diag(
                        "hashed_value_in_plaintext_field",
                        field,
                        f"{key} must be sent as it is, never hashed",
                    )
                elif key == "client_ip_address" and not valid_ip(text):
                    self.diag("invalid_ip", field, "client_ip_address is not an IP address")
                else:
                    usable.add(key)
            elif key in META_USER_KEYS:
                self.diag("meta_user_key", field, f"{key} is Meta's; Pinterest ignores it")
            else:
                self.diag("unknown_user_key", field, f"{key} is not a user_data field; ignored")
        present = {k for k, v in user.items() if v not in (None, "", [])}
        if not (
            {"em", "hashed_maids"} & present
            or {"client_ip_address", "client_user_agent"} <= present
        ):
            raise _Broken(
                "user_data",
                "at least one of em, hashed_maids or the pair client_ip_address +"
                " client_user_agent is required",
            )
        self.mark(usable)

    def mark(self, usable: set[str]) -> None:
        for key in ("em", "ph", "external_id", "db", "ge", "click_id", "hashed_maids"):
            if key in usable:
                self.mask |= BIT[key]
        if {"fn", "ln"} <= usable:
            self.mask |= BIT["fn_ln"]
        if any(k in usable for k in _ADDRESS):
            self.mask |= BIT["address"]
        if {"client_ip_address", "client_user_agent"} <= usable:
            self.mask |= BIT["ip_ua"]

    def custom(self, name: str, custom: dict[str, Any]) -> dict[str, Any]:
        for key in STRING_CUSTOM:
            self.string(custom.get(key), f"custom_data.{key}")
        value = custom.get("value")
        if isinstance(value, str) and not is_decimal(value):
            raise _Broken("custom_data.value", "must be a number written as a string")
        self.integer(custom.get("num_items"), "custom_data.num_items")
        ids = custom.get("content_ids")
        if ids is not None and (
            not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)
        ):
            raise _Broken("custom_data.content_ids", "must be an array of strings")
        contents = custom.get("contents")
        if contents is not None:
            if not isinstance(contents, list):
                raise _Broken("custom_data.contents", "must be an array of objects")
            for j, item in enumerate(contents):
                field = f"custom_data.contents.{j}"
                if not isinstance(item, dict):
                    raise _Broken(field, "must be an object")
                self.string(item.get("id"), f"{field}.id")
                price = self.string(item.get("item_price"), f"{field}.item_price")
                if price is not None and not is_decimal(price):
                    raise _Broken(f"{field}.item_price", "must be a number written as a string")
                self.integer(item.get("quantity"), f"{field}.quantity")
        if name == "checkout" and (value is None or not custom.get("currency")):
            self.diag(
                "missing_value_or_currency",
                "custom_data",
                "checkout events need custom_data.value and currency to report revenue",
            )
        return custom

    def integer(self, value: Any, field: str) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _Broken(field, "must be an integer")


def check_event(index: int, raw: Any, now: float) -> CheckedEvent:
    if isinstance(raw, dict):
        try:
            return _Event(index, raw, now).run()
        except _Broken as broken:
            message = broken.message
    else:
        message = "the event must be a JSON object"
    name = raw.get("event_name") if isinstance(raw, dict) else None
    return CheckedEvent(
        index=index,
        event=raw,
        event_name=name if isinstance(name, str) and name else None,
        event_id=event_id_of(raw),
        event_time=None,
        error=message,
    )


def check_events(data: list[Any], now: float) -> list[CheckedEvent]:
    """Every event of ``data``, each processed or with its ``error_message``."""
    return [check_event(i, raw, now) for i, raw in enumerate(data)]
