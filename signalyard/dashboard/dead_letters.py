"""What a replay can do for a dead letter.

- The platform refused the event as invalid (Graph code 100: a parameter of the event was
  wrong): sent again unchanged, it would be refused again. Its Replay button says so and
  reads "Replay anyway" (the cause may have been a destination option since corrected);
  **Replay all** leaves it out.
- The event is past the platform's age limit (the worker dead-lettered it for that, or it
  has grown older than the limit since): the worker would dead-letter it again before
  sending it. No Replay button; **Replay all** leaves it out.
- Anything else (a refusal that was not about the event, e.g. an answer from a proxy or a
  wrong ``graph_url``) may succeed once the cause is fixed: a plain Replay.

The same rule is given to the store as a :class:`ReplayRule` (:func:`bulk_rule`), so
**Replay all** selects the replayable dead letters in its query and reaches them however many
others died since.
"""

from __future__ import annotations

from dataclasses import dataclass

from signalyard.sinks.spec import SinkSpec
from signalyard.store.base import DeadLetter, ReplayRule

__all__ = [
    "AGE_LIMIT_REASON",
    "REPLAY_BATCH",
    "Replay",
    "bulk_rule",
    "replay_of",
]

AGE_LIMIT_REASON = "event_time is too close to the platform's limit"
"""How the delivery worker's reason for an event too old to send begins."""
REPLAY_BATCH = 10_000
"""A replay of a whole destination queues at most this many of its replayable dead letters
(the most recent first); the page says how many are left, and pressing again queues them."""


@dataclass(frozen=True, slots=True)
class Replay:
    one: bool
    """A Replay button on its row (and a replay of this one alone is done)."""
    in_bulk: bool
    """Included in "Replay all"."""
    note: str
    """Why a replay would fail again; empty when it can succeed."""


_CAN = Replay(True, True, "")
_INVALID = Replay(
    True,
    False,
    "The platform refused this event as invalid: sent again unchanged, it would be refused"
    " again. Fix the event at its source and send it anew; replay it only if the cause was"
    " a destination option you have since corrected",
)
_TOO_OLD = Replay(
    False,
    False,
    "Not replayable: the event is past the platform's age limit and can no longer be sent",
)


def oldest_sendable(now: float, spec: SinkSpec) -> int:
    """The oldest ``event_time`` the destination's platform still accepts at ``now``."""
    return int(now) - spec.max_age_seconds


def replay_of(dead: DeadLetter, *, now: float, spec: SinkSpec) -> Replay:
    """Whether (and how) a dead letter of a destination of ``spec``'s kind can be replayed."""
    if dead.reason.startswith(AGE_LIMIT_REASON) or dead.event_time < oldest_sendable(now, spec):
        return _TOO_OLD
    if spec.invalid_code is not None and dead.code == spec.invalid_code:
        return _INVALID
    return _CAN


def bulk_rule(now: float, spec: SinkSpec) -> ReplayRule:
    """The dead letters **Replay all** queues (``replay_of(...).in_bulk``) for a destination
    of ``spec``'s kind, as the store's query checks them."""
    return ReplayRule(
        skip_code=spec.invalid_code,
        skip_reason_prefix=AGE_LIMIT_REASON,
        min_event_time=oldest_sendable(now, spec),
    )
