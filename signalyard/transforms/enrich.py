"""Fill in what an event can be given without asking the sender: ``fbc`` from the click id
in the page URL, and an ``event_id`` so that retries to the platform deduplicate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

__all__ = ["enrich", "fbclid_from_url"]


def fbclid_from_url(url: str) -> str | None:
    """The first non-empty ``fbclid`` query parameter of ``url``, percent-decoded only: never
    case-changed, ``+`` not turned into a space (Meta compares it byte for byte)."""
    query = url.partition("#")[0].partition("?")[2]
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "fbclid" and value:
            return unquote(value)
    return None


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def enrich(event: dict[str, Any], *, now: float, new_id: Callable[[], str]) -> list[str]:
    """Complete ``event`` in place and return messages saying what was added.

    - ``user_data.fbc`` absent and ``event_source_url`` carrying ``fbclid``: set ``fbc`` to
      ``fb.1.{event_time in ms}.{fbclid}`` (reference §3.2; subdomain index 1 as for a value
      made server-side). ``event_time`` falls back to ``now`` if it is not an integer.
    - ``event_id`` absent or empty: set to ``new_id()``.

    Only ``event`` itself is modified (``user_data`` is replaced, not changed in place), so a
    shallow copy of an event is enough to keep the original intact.
    """
    messages: list[str] = []
    user_data = event.get("user_data")
    url = event.get("event_source_url")
    if (
        isinstance(user_data, dict)
        and isinstance(url, str)
        and "fbclid=" in url
        and _absent(user_data.get("fbc"))
    ):
        fbclid = fbclid_from_url(url)
        if fbclid:
            event_time = event.get("event_time")
            if not isinstance(event_time, int) or isinstance(event_time, bool):
                event_time = int(now)
            # A new user_data: nested objects of the event are never modified.
            event["user_data"] = {**user_data, "fbc": f"fb.1.{event_time * 1000}.{fbclid}"}
            messages.append("user_data.fbc: set from the fbclid in event_source_url")
    if _absent(event.get("event_id")):
        event_id = new_id()
        event["event_id"] = event_id
        messages.append(
            f"event_id: none given; assigned {event_id} so that deliveries of this event "
            "deduplicate (send your own to deduplicate against the Pixel)"
        )
    return messages
