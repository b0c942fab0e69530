"""What happened to an event at a destination: a value, never an exception.

A sink turns one HTTP exchange into one :class:`SendResult`: the :class:`Attempt` (what was
seen on the wire, recorded for every try) and one outcome per event of the batch:

- :class:`Delivered`: the platform accepted it.
- :class:`Retry`: try again after ``after`` seconds (``None``: the worker's backoff decides).
  ``throttled`` retries do not count against the event's attempts.
- :class:`Rejected`: the platform refused it for good. In a batch of several events the worker
  bisects to find the one to dead-letter; a single rejected event is dead-lettered.
- :class:`Paused`: the destination itself cannot be used (token expired, permission removed);
  every event stays queued until the destination is fixed.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Delivered:
    pass


@dataclass(frozen=True, slots=True)
class Retry:
    reason: str
    after: float | None = None
    throttled: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    code: int | None = None
    subcode: int | None = None


DESTINATION = "<destination>"
"""Stands for the destination's name in a :attr:`Paused.fix` (a sink does not know it):
``Paused.fix_for`` puts the name in."""


@dataclass(frozen=True, slots=True)
class Paused:
    reason: str
    fix: str
    """What to do, as commands to run; :data:`DESTINATION` stands for the destination."""
    code: int | None = None
    subcode: int | None = None

    def fix_for(self, destination: str) -> str:
        """The fix with the destination's name (quoted for a shell when it needs to be)."""
        return self.fix.replace(DESTINATION, shlex.quote(destination))


Outcome = Delivered | Retry | Rejected | Paused


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request to a platform, as recorded in the store (no personal data, no secrets)."""

    http_status: int | None
    code: int | None = None
    subcode: int | None = None
    trace_id: str | None = None
    message: str | None = None
    duration_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class SendResult:
    attempt: Attempt
    outcomes: tuple[Outcome, ...]
