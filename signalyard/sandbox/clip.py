"""What the sandbox keeps of a received event for inspection: bounded, whatever was sent.

The sandbox records what it accepted so that ``/_sandbox/events`` can show it, not to keep
every byte: long strings are cut (:func:`clip_text`, :func:`clip_json`), an event still too
large after that is stored as a placeholder naming its size, and long identifiers used as
keys (deduplication, statistics) are replaced by a digest (:func:`key_text`), so that the
memory a recording costs is bounded by these limits, not by the sender.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

MAX_STRING = 1024
"""Characters kept of any string value of a stored event (and of its name and ids)."""
MAX_STORED_EVENT = 64 * 1024
"""Bytes of one stored event (as JSON) after cutting strings; past it, a placeholder."""
MAX_KEY = 128
"""Characters of an identifier used as a key; a longer one is keyed by its digest."""
TRUNCATED_KEY = "_sandbox_truncated"
"""Set on a stored event whose strings were cut, or that was too large to keep."""


def clip_text(value: str, limit: int = MAX_STRING) -> str:
    """``value``, or its first ``limit`` characters and how many more there were."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}...[{len(value) - limit} more characters]"


def clip_optional(value: str | None, limit: int = MAX_STRING) -> str | None:
    return None if value is None else clip_text(value, limit)


def _clip(value: Any, cut: list[int]) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            cut[0] += 1
            return clip_text(value)
        return value
    if isinstance(value, dict):
        return {clip_text(str(k), MAX_STRING): _clip(v, cut) for k, v in value.items()}
    if isinstance(value, list):
        return [_clip(v, cut) for v in value]
    return value


_LONG_RUN = re.compile(rb'"[^"\\]{%d}' % (MAX_STRING + 1))
"""A quote followed by more than :data:`MAX_STRING` bytes that are neither a quote nor a
backslash. In an encoding without a backslash (no escape) every string is such a run after
its opening quote, so no match means no string to cut (a match may also be a long run of
numbers after a closing quote: the general path then decides). A character class, scanned
once from each quote: a few nanoseconds a byte. (The alternation it replaced,
``"(?:[^"\\]|\\.){1025,}"``, took 38 us for a typical 1.4 KB Meta event, half of what the
sandbox spent per event it accepted, and restarting at every escaped quote it was quadratic
in a string full of them.)"""


_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
"""One JSON string, escapes included; possessive, so it never backtracks. Matched one after
the other from the start of an encoding, the matches are its strings (outside strings JSON
has no quote)."""


def _may_have_long_string(encoded: bytes) -> bool:
    """Whether ``encoded`` may hold a string over :data:`MAX_STRING` characters; linear in its
    size. Without a backslash, :data:`_LONG_RUN`; with one, each string's length in bytes
    (quotes included), which is at least its number of characters plus two."""
    if b"\\" not in encoded:
        return _LONG_RUN.search(encoded) is not None
    return any(m.end() - m.start() > MAX_STRING + 2 for m in _STRING.finditer(encoded))


def clip_json(event: dict[str, Any]) -> bytes:
    """``event`` as compact JSON for storage: strings over :data:`MAX_STRING` characters cut
    (and :data:`TRUNCATED_KEY` set to how many), and an event still over
    :data:`MAX_STORED_EVENT` bytes, or nested too deeply to encode, replaced by a placeholder
    with its name, id and why. Linear in the event's size. The common case (nothing to cut)
    is one encoding and one scan of it, both in C: the sandbox records every event it
    accepts, and rebuilding each one cost it a fifth of its time under load."""
    try:
        encoded = orjson.dumps(event)
    except (orjson.JSONEncodeError, RecursionError):
        encoded = None  # non-string keys, or too deep: the general path says which
    if (
        encoded is not None
        and len(encoded) <= MAX_STORED_EVENT
        and not _may_have_long_string(encoded)
    ):
        return encoded
    return clip_json_general(event)


def clip_json_general(event: dict[str, Any]) -> bytes:
    """:func:`clip_json` without its fast path (every value rebuilt)."""
    cut = [0]
    try:
        clipped = _clip(event, cut)
        if cut[0]:
            clipped[TRUNCATED_KEY] = f"{cut[0]} string value(s) cut to {MAX_STRING} characters"
        payload = orjson.dumps(clipped)
    except (RecursionError, orjson.JSONEncodeError):
        return _placeholder(event, "the event is nested too deeply to store")
    if len(payload) <= MAX_STORED_EVENT:
        return payload
    return _placeholder(
        event,
        f"the event is {len(payload)} bytes once its strings are cut; "
        f"the sandbox stores events up to {MAX_STORED_EVENT} bytes",
    )


def _placeholder(event: dict[str, Any], why: str) -> bytes:
    kept: dict[str, Any] = {}
    for key in ("event_name", "event_id", "event_time", "action_source"):
        value = event.get(key)
        if isinstance(value, str):
            kept[key] = clip_text(value)
        elif isinstance(value, int | float):
            kept[key] = value
    kept[TRUNCATED_KEY] = why
    return orjson.dumps(kept)


NO_EVENT_NAME = "(no event name)"
"""The statistics' label for the events sent without an event name."""
NOT_AN_OBJECT = "_sandbox_not_an_object"
"""The key under which an element of a batch that is not an object is stored."""


def name_label(event_name: str | None) -> str:
    """The statistics' label of ``event_name``: cut to :data:`MAX_KEY`, or
    :data:`NO_EVENT_NAME`."""
    return clip_text(event_name or NO_EVENT_NAME, MAX_KEY)


def clip_element(raw: Any) -> bytes:
    """:func:`clip_json` of a batch element, one that is not an object kept under
    :data:`NOT_AN_OBJECT`."""
    return clip_json(raw if isinstance(raw, dict) else {NOT_AN_OBJECT: raw})


def key_text(value: str) -> str:
    """``value`` if short, else a digest of it: equal values still give equal keys."""
    if len(value) <= MAX_KEY:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
