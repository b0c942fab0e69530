"""Reading a platform's answer the same way in every sink: a message safe to keep, how long
``Retry-After`` asks to wait, a code, and the outcome of no answer at all.

A platform's error text may quote what it was sent (an e-mail address, an IP address): a
message goes into the attempts table, logs and the dashboard only through :func:`scrub`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from signalyard.outcome import Attempt, Outcome, Retry

__all__ = [
    "MAX_MESSAGE",
    "Outcomes",
    "body_text",
    "code_of",
    "header",
    "json_or_none",
    "no_answer",
    "retry_after",
    "scrub",
]

Outcomes = tuple[Outcome, ...]
"""One outcome per event of a request, in order."""

MAX_MESSAGE = 300
"""Characters of a platform's message kept with an attempt."""

_EMAIL = re.compile(r"[^\s@'\"<>(),;:]+@[^\s@'\"<>(),;:]+\.[A-Za-z]{2,}")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){3,7}[0-9A-Fa-f]{0,4}(?![\w:])")


def scrub(text: str) -> str:
    """Mask e-mail and IP addresses, collapse whitespace, cut to :data:`MAX_MESSAGE`
    characters."""
    text = _EMAIL.sub("[email]", text)
    text = _IPV4.sub("[ip]", text)
    text = _IPV6.sub("[ip]", text)
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    return text


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Header ``name`` (any case), or None."""
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lower), None)


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds ``Retry-After`` asks for (a number of seconds or an HTTP date, against
    ``now``), or None when absent, unreadable or not in the future."""
    value = header(headers, "retry-after")
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        seconds = math.nan
    if math.isfinite(seconds):
        return seconds if seconds > 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wait = when.timestamp() - now
    return wait if math.isfinite(wait) and wait > 0 else None


def json_or_none(body: bytes) -> Any:
    """The body's JSON, or None when empty or not JSON."""
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def body_text(body: bytes) -> str:
    """The start of a body that is not JSON, as a message (:func:`scrub`; empty when blank)."""
    return scrub(body[:1000].decode("utf-8", "replace"))


def code_of(value: object) -> int | None:
    """A code in an answer: an ``int``, or up to 18 ASCII digits written as text; None
    otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 18:  # "²" is a digit to isdigit
            return int(text)
    return None


def no_answer(platform: str, n_events: int) -> tuple[Attempt, Outcomes]:
    """A request ``platform`` did not answer (a network error or a timeout): retried."""
    reason = f"no answer from {platform} (network error or timeout)"
    return Attempt(None, message=reason), (Retry(reason),) * n_events
