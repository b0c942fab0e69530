"""The answer to a request whose own fields passed, from its checked events.

* every event accepted: ``{"code": 0, "message": "OK", "request_id": ..., "data": {}}``;
* no event accepted: code 40002 with the first invalid event's message
  (``Batch.2.event_time: Not a valid integer``), as TikTok answers a bad event; nothing is
  recorded;
* some accepted, some not: code **20001**, a partial success. The reference (§3) knows the
  code (RudderStack counts it as a success) but not its body, so the shape below is the
  sandbox's **assumption**, chosen so that a sink can settle every event by its own outcome::

      {"code": 20001,
       "message": "Partial success: 1 of 3 events failed. Batch.2.event_time: Not a valid integer",
       "request_id": "...",
       "data": {"events_received": 3, "events_accepted": 2, "events_failed": 1,
                "failed_events": [{"index": 2, "event_id": "order-3", "code": 40002,
                                   "message": "Batch.2.event_time: Not a valid integer"}]}}

  ``index`` is the event's position in ``data``; ``event_id`` is the event's (``null`` if
  it had none). Events not listed were accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..clip import MAX_STRING, clip_optional
from . import errors
from .errors import TikTokError
from .validate import CheckedEvent


@dataclass(frozen=True, slots=True)
class Answer:
    """Code 0 or 20001 with its message and ``data``."""

    code: int
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def failed_event(c: CheckedEvent) -> dict[str, Any]:
    return {
        "index": c.index,
        "event_id": clip_optional(c.event_id, MAX_STRING),
        "code": errors.INVALID,
        "message": c.error,
    }


def answer(checked: list[CheckedEvent]) -> Answer:
    """The answer to ``checked``; raises the 40002 :class:`TikTokError` when no event was
    accepted."""
    failed = [c for c in checked if not c.accepted]
    if not failed:
        return Answer(errors.OK, "OK")
    first = failed[0].error or ""
    if len(failed) == len(checked):
        raise TikTokError(errors.INVALID, first)
    return Answer(
        errors.PARTIAL,
        f"Partial success: {len(failed)} of {len(checked)} events failed. {first}",
        {
            "events_received": len(checked),
            "events_accepted": len(checked) - len(failed),
            "events_failed": len(failed),
            "failed_events": [failed_event(c) for c in failed],
        },
    )
