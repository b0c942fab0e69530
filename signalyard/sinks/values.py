"""Reading a canonical event's values the same way in every ``payload.py``: a value of the
wrong type is left out (None) rather than sent, so one bad optional field never loses an event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from signalyard.event import ServerEvent

__all__ = [
    "click_id",
    "currency",
    "each",
    "event_id",
    "event_seconds",
    "hashes",
    "id_list",
    "id_text",
    "integer",
    "limited_data_use",
    "mapping",
    "number",
    "one_or_many",
    "put",
    "text",
]

_T = TypeVar("_T")


def put(out: dict[str, Any], key: str, value: object) -> None:
    """Set ``out[key]`` unless ``value`` is None or empty (a string, list or dict): an
    optional field is left out rather than sent blank. 0 and False are values."""
    if value is None or (isinstance(value, str | list | dict) and not value):
        return
    out[key] = value


def mapping(value: object) -> Mapping[str, Any]:
    """A mapping (``user_data``, ``custom_data``...), or an empty one for anything else."""
    return value if isinstance(value, Mapping) else {}


def text(value: object) -> str | None:
    """A string without surrounding blanks; None for a blank or a non-string."""
    return value.strip() or None if isinstance(value, str) else None


def id_text(value: object) -> str | None:
    """An id as a string: SKUs and order ids sent as (whole) numbers are written out."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return text(value)


def currency(value: object) -> str | None:
    """A currency code, upper case (as given otherwise), or None."""
    found = text(value)
    return found.upper() if found else None


def id_list(value: object) -> list[str]:
    """A list's ids written as strings (:func:`id_text`), the unusable ones left out."""
    if not isinstance(value, list):
        return []
    return [t for t in (id_text(item) for item in value) if t]


def each(value: object, build: Callable[[object], _T]) -> list[_T]:
    """``build`` of each item of a list (``contents``), the empty results left out; [] for
    a non-list."""
    if not isinstance(value, list):
        return []
    return [built for built in (build(item) for item in value) if built]


def number(value: object) -> float | int | None:
    """A finite number, or a string holding one; None otherwise (``True`` is no number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            found = float(value.strip())
        except ValueError:
            return None
        return found if math.isfinite(found) else None
    return None


def integer(value: object) -> int | None:
    """A whole :func:`number` as an ``int``, or None."""
    found = number(value)
    if found is None or (isinstance(found, float) and not found.is_integer()):
        return None
    return int(found)


def hashes(value: object) -> list[str]:
    """A hashed key's values (a string or a list of strings), without blanks or repeats."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, str) and item and item not in out:
            out.append(item)
    return out


def one_or_many(values: list[str]) -> str | list[str]:
    """A single value alone, several as a list."""
    return values[0] if len(values) == 1 else values


def event_seconds(event: ServerEvent) -> int | None:
    """``event_time`` as whole Unix seconds, or None when it is not a number."""
    event_time = event.get("event_time")
    if isinstance(event_time, int | float) and not isinstance(event_time, bool):
        return int(event_time)
    return None


def event_id(event: ServerEvent) -> str | None:
    """``event_id`` written as a string, or None when absent or empty."""
    value = event.get("event_id")
    return None if value is None or value == "" else str(value)


def limited_data_use(event: ServerEvent) -> bool:
    """Whether the event carries Meta's Limited Data Use flag (``data_processing_options``
    holds ``"LDU"``: set by the ``ldu`` consent action, or sent with the event)."""
    options = event.get("data_processing_options")
    return isinstance(options, list) and "LDU" in options


def click_id(event: ServerEvent, name: str) -> str | None:
    """The event's own click id ``name`` (``_click_ids``), else the query parameter of that
    name in ``event_source_url``."""
    clicks = event.get("_click_ids")
    if isinstance(clicks, Mapping):
        own = text(clicks.get(name))
        if own:
            return own
    url = event.get("event_source_url")
    if isinstance(url, str) and f"{name}=" in url:
        try:
            found = parse_qs(urlsplit(url).query).get(name)
        except ValueError:
            return None
        if found and found[0].strip():
            return found[0].strip()
    return None
