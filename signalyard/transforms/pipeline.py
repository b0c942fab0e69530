"""One raw server event in, one :class:`~signalyard.event.AcceptedEvent` out: validate, copy
(only Meta's fields), enrich, clean ``user_data`` (normalize + hash), check Meta's baseline,
tidy ``custom_data`` (no personal data left in it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from signalyard.errors import InputError
from signalyard.event import AcceptedEvent
from signalyard.transforms.custom_data import drop_personal, tidy_contents
from signalyard.transforms.enrich import enrich
from signalyard.transforms.user_data import clean_user_data, clean_user_data_with_identity
from signalyard.transforms.validate import (
    _BROAD_KEYS,
    _SAFE_KEY,
    MAX_EVENT_AGE_SECONDS,
    SERVER_EVENT_FIELDS,
    check_baseline,
    parse_event_time,
    validate_event,
)

__all__ = ["clean_event"]

# Sources whose identity comes from elsewhere: channel ids (checked by validate_event) for
# business messaging, the device (app_data) for app events.
_NO_BASELINE: Final = frozenset(("business_messaging", "app"))

# Meta's fields, and Signalyard's own that a source adds before cleaning (the consent state
# kept for the store, the event's own click ids and browser ids; ``_``-fields are never sent).
_KEPT_FIELDS: Final = SERVER_EVENT_FIELDS | {"_consent", "_click_ids", "_browser_ids"}
MAX_MESSAGES: Final = 50
"""Messages about one event, at most (then one saying how many more there were)."""


def _known_fields(event: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """``event`` with only :data:`_KEPT_FIELDS`, and a message per field dropped."""
    kept: dict[str, Any] = {}
    for key, value in event.items():
        if key in _KEPT_FIELDS:
            kept[key] = value
        elif isinstance(key, str) and _SAFE_KEY.fullmatch(key):
            warnings.append(f"{key}: not a Meta server-event field (not stored); dropped")
        else:
            warnings.append("a field that is not a Meta server-event field (not stored); dropped")
    return kept


def _baseline(user_data: dict[str, Any], warnings: list[str]) -> None:
    try:
        check_baseline(user_data)
    except InputError as error:
        dropped = [
            w
            for w in warnings
            if w.startswith(("user_data.", "user_data:")) and w.endswith("; dropped")
        ]
        if not dropped:
            raise
        raise InputError(
            error.field,
            f"{error.rule} (dropped before this check: {' | '.join(dropped)})",
            code=error.code,
            subcode=error.subcode,
            title=error.title,
        ) from None


def clean_event(
    raw: object,
    *,
    dataset_id: str,
    default_country: str | None,
    now: float,
    new_id: Callable[[], str],
    source: str = "graph_api",
    test_event_code: str | None = None,
    max_future_seconds: int = 600,
    max_age_seconds: int = MAX_EVENT_AGE_SECONDS,
    identity: tuple[str, ...] = (),
) -> AcceptedEvent:
    """Validate and clean one server event (Meta's wire shape) received for ``dataset_id``.

    - :func:`~signalyard.transforms.validate.validate_event` (``now`` and
      ``max_future_seconds`` and ``max_age_seconds`` for the time window);
    - a copy is made: ``raw`` is never modified (nested values the transforms do not
      change, such as ``custom_data.contents``, are shared with it); top-level fields that are
      not Meta's (nor ``_consent``) are left out of it, each with a message;
    - :func:`~signalyard.transforms.enrich.enrich`: ``fbc`` from ``fbclid``, ``event_id``
      from ``new_id()`` when missing;
    - :func:`~signalyard.transforms.user_data.clean_user_data` with ``default_country``;
      with ``identity`` (names of :data:`~signalyard.transforms.identity.VARIANTS`, in the
      order to store them), the identity variants are made from the normalized plaintext too
      and kept as ``_identity`` (never sent; see :mod:`~signalyard.transforms.identity`).
      Without, nothing more is computed and the event is exactly as before;
    - :func:`~signalyard.transforms.validate.check_baseline` (not for business_messaging,
      whose channel ids identify the person, nor app, identified by its device);
    - ``custom_data.currency`` uppercased, ``custom_data.value`` a float, decimal strings in
      ``contents`` numbers; strings in ``custom_data`` shaped like an email address or a
      phone number dropped, each with a message
      (:func:`~signalyard.transforms.custom_data.drop_personal`); top-level ``null`` fields
      removed; ``event_time`` an int, ``event_id`` a string.
    - At most :data:`MAX_MESSAGES` messages (then one saying how many more).

    Raises :class:`InputError` with a field path relative to the event (the caller puts
    ``data[i]`` before it). Returns the event with the messages worth telling the sender.
    """
    validate_event(
        raw, now=now, max_future_seconds=max_future_seconds, max_age_seconds=max_age_seconds
    )
    assert isinstance(raw, dict)
    event: dict[str, Any] = dict(raw)
    if None in event.values():
        event = {key: value for key, value in event.items() if value is not None}
    dropped_fields: list[str] = []
    if not _KEPT_FIELDS.issuperset(event):
        event = _known_fields(event, dropped_fields)
    event_time = event["event_time"]
    if type(event_time) is not int:
        event_time = parse_event_time(event_time)
        event["event_time"] = event_time

    url = event.get("event_source_url")
    event_id = event.get("event_id")
    if (type(url) is str and "fbclid=" in url) or not (type(event_id) is str and event_id.strip()):
        warnings = enrich(event, now=now, new_id=new_id)
    else:
        warnings = []  # nothing enrich would add: no fbclid in the URL, an event_id given
    if dropped_fields:
        warnings.extend(dropped_fields)
    found: dict[str, dict[str, str | None]] | None = None
    if identity:
        user_data, user_warnings, found = clean_user_data_with_identity(
            event["user_data"], default_country=default_country, now=now, variants=identity
        )
    else:
        user_data, user_warnings = clean_user_data(
            event["user_data"], default_country=default_country, now=now
        )
    if user_warnings:
        warnings.extend(user_warnings)
    event["user_data"] = user_data
    if found:
        # Set after the fields were filtered: a sender's own "_identity" never gets here.
        event["_identity"] = found
    # Every value clean_user_data keeps is present (non-empty), so a key outside every
    # too-broad combination is enough: the full check only when all keys are in them.
    if event["action_source"] not in _NO_BASELINE and _BROAD_KEYS.issuperset(user_data):
        _baseline(user_data, warnings)

    custom_data = event.get("custom_data")
    if custom_data is not None:
        custom_data = dict(custom_data)
        currency = custom_data.get("currency")
        if currency is not None:
            custom_data["currency"] = currency.upper()
        value = custom_data.get("value")
        if value is not None and type(value) is not float:
            custom_data["value"] = float(value)
        contents = custom_data.get("contents")
        if contents:
            custom_data["contents"] = tidy_contents(contents)
        custom_data, personal = drop_personal(custom_data)
        if personal:
            warnings.extend(personal)
        event["custom_data"] = custom_data

    event_id = event["event_id"]
    if not isinstance(event_id, str):
        event_id = str(event_id)
        event["event_id"] = event_id
    if len(warnings) > MAX_MESSAGES:
        more = len(warnings) - MAX_MESSAGES
        del warnings[MAX_MESSAGES:]
        warnings.append(f"{more} more messages about this event, not shown")
    try:
        # Encoded once, here: the store writes these bytes. orjson refuses what JSON cannot
        # carry on (objects nested over 254 levels, integers over 64 bits): a 400, not a 500.
        encoded = orjson.dumps(event)
    except orjson.JSONEncodeError as error:
        raise InputError(_unencodable_field(event), _encode_rule(error)) from None
    return AcceptedEvent(
        dataset_id=dataset_id,
        event_name=event["event_name"],
        event_id=event_id,
        event_time=event_time,
        payload=event,
        source=source,
        test_event_code=test_event_code,
        warnings=tuple(warnings),
        encoded=encoded,
    )


def _unencodable_field(event: dict[str, Any]) -> str:
    """The top-level field that JSON cannot carry (only looked for on that rare failure)."""
    for key, value in event.items():
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError:
            return str(key)
    return ""


def _encode_rule(error: orjson.JSONEncodeError) -> str:
    text = str(error)
    if "recursion" in text.lower():
        return "objects or lists are nested too deeply to store"
    if "integer" in text.lower():
        return "holds an integer over 64 bits"
    return "holds a value JSON cannot represent"
