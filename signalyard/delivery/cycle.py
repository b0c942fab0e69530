"""A delivery cycle: the rows one claim took for a destination, split into batches (one
request each), how a batch's answer reads (pure functions), and the log line of a cycle that
failed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from signalyard.delivery.request_window import RequestWindow
from signalyard.event import ServerEvent
from signalyard.outcome import Delivered, Outcome, Paused, Rejected, Retry, SendResult
from signalyard.sinks import spec_for
from signalyard.sinks.base import Sink
from signalyard.store.base import ClaimedEvent, Destination

log = logging.getLogger("signalyard.delivery")


@dataclass
class Cycle:
    destination: Destination
    sink: Sink
    paused: Paused | None = None
    window: RequestWindow | None = None
    claimed: int = 0
    """Rows this cycle handles (its count of handled events): those claimed, expired ones
    included, less those released for a later cycle."""
    batches: list[list[ClaimedEvent]] = field(default_factory=list)
    """What is left to send once the claim is made, each batch one request."""
    full: bool = False
    """The claim took as many rows as it asked for: more may be due."""


def leased(cycles: Iterable[Cycle]) -> list[int]:
    """The outbox ids of ``cycles``' batches (settled ones included: renewing skips them)."""
    return [c.outbox_id for cycle in cycles for batch in cycle.batches for c in batch]


def refused_whole(outcomes: Sequence[Outcome]) -> bool:
    """Whether a per-event answer refused a batch of several events whole: every event
    rejected with one and the same reason (a platform that answers per event may still refuse
    a request for one event it does not name). Such a batch is bisected like a whole-batch
    platform's, so that the bad event is found and the others are delivered."""
    first = outcomes[0] if outcomes else None
    return (
        len(outcomes) > 1
        and isinstance(first, Rejected)
        and all(outcome == first for outcome in outcomes)
    )


def one_outcome(result: SendResult) -> Outcome:
    """The worst of the batch's outcomes (pause > reject > retry > delivered): the batch's
    outcome for a platform that answers a batch whole, and how a request is recorded."""
    outcomes = result.outcomes
    for kind in (Paused, Rejected, Retry):
        for o in outcomes:
            if isinstance(o, kind):
                return o
    return outcomes[0] if outcomes else Delivered()


def split_batches(claimed: list[ClaimedEvent], size: int) -> list[list[ClaimedEvent]]:
    groups: dict[str | None, list[ClaimedEvent]] = {}
    for c in claimed:
        groups.setdefault(c.test_event_code, []).append(c)
    out: list[list[ClaimedEvent]] = []
    for group in groups.values():
        out.extend(group[i : i + size] for i in range(0, len(group), size))
    return out


def as_consented(kind: str, claimed: ClaimedEvent) -> ServerEvent:
    """The payload as the destination's consent decision allows it to be sent, by the rule of
    the destination's kind."""
    if claimed.consent_action is None or claimed.consent_action == "full":
        return claimed.payload
    stored = claimed.payload.get("_consent")
    region = stored.get("region") if isinstance(stored, dict) else None
    return spec_for(kind).apply_consent(claimed.payload, claimed.consent_action, region)


def log_failed(task: asyncio.Task[int], destination_id: int) -> bool:
    """Log a cycle that failed (it released the rows it had not settled); whether it
    failed."""
    if task.cancelled():
        return False
    error = task.exception()
    if error is None:
        return False
    log.error("Delivery cycle failed; retrying. destination_id=%d", destination_id, exc_info=error)
    return True
