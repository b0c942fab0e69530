"""Template filters: numbers, shares, times (UTC) and durations, written the same way on
every page."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

__all__ = ["FILTERS", "duration", "pct", "slug", "utc"]

_NOT_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def pct(share: float | None, digits: int = 0) -> str:
    if share is None:
        return "n/a"
    return f"{share * 100:.{digits}f}%"


def utc(ts: float | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    if ts is None:
        return "n/a"
    return time.strftime(pattern, time.gmtime(ts)) + (" UTC" if "%H" in pattern else "")


def duration(seconds: float | None) -> str:
    """``42 s``, ``17 min``, ``5 h``, ``3 d 4 h``."""
    if seconds is None:
        return "n/a"
    s = max(0.0, seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.0f} h"
    days, rest = divmod(s, 86400)
    return f"{days:.0f} d {rest / 3600:.0f} h"


def number(n: float) -> str:
    return f"{n:,.0f}"


def slug(text: str) -> str:
    """A name usable in an element id and a URL fragment."""
    return _NOT_SLUG.sub("-", text).strip("-") or "-"


FILTERS: dict[str, Callable[..., Any]] = {
    "pct": pct,
    "utc": utc,
    "duration": duration,
    "number": number,
    "slug": slug,
}
