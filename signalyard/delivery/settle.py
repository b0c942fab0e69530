"""Applying a delivery outcome to the rows that got it: recording the request, settling the
rows in the store (delivered, retried after a backoff or a throttle, dead-lettered, released
with the destination paused) and counting them."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

from signalyard.clock import Clock
from signalyard.delivery.backoff import backoff_delay
from signalyard.delivery.cycle import Cycle, one_outcome
from signalyard.insights.recorder import StatsRecorder
from signalyard.metrics import Metrics, outcome_label
from signalyard.outcome import Delivered, Outcome, Paused, Rejected, Retry, SendResult
from signalyard.settings import DeliverySettings
from signalyard.store.base import AttemptRecord, ClaimedEvent, Destination, Store

log = logging.getLogger("signalyard.delivery")


@dataclass(frozen=True, slots=True)
class Settler:
    """What the worker holds that settling needs (built from it for each batch, so that a
    worker whose settings change applies the new ones)."""

    store: Store
    owner: str
    settings: DeliverySettings
    clock: Clock
    metrics: Metrics
    recorder: StatsRecorder | None
    rng: random.Random

    async def pause(self, destination: Destination, paused: Paused) -> None:
        """Pause the destination for ``paused`` unless it changed since it was read for this
        cycle (the operator's new token or resume stands against an answer to the old one)."""
        await self.store.pause(
            destination.id,
            reason=paused.reason,
            fix=paused.fix_for(destination.name),
            now=self.clock.now(),
            unchanged_since=destination.updated_at,
        )
        log.warning(
            "Destination paused. destination=%s code=%s subcode=%s",
            destination.name,
            paused.code,
            paused.subcode,
        )

    async def settle_each(
        self, cycle: Cycle, batch: Sequence[ClaimedEvent], result: SendResult
    ) -> None:
        """A platform that answers each event on its own (``Sink.per_event``): every row is
        settled by its own outcome, rows with equal outcomes together. Nothing is bisected
        and nothing delivered is sent again: a rejected event is dead-lettered with the
        reason the platform gave for it, a retried one retried alone."""
        groups: dict[Outcome, list[ClaimedEvent]] = {}
        for row, outcome in zip(batch, result.outcomes, strict=True):
            groups.setdefault(outcome, []).append(row)
        now = await self.record(cycle, batch, result, one_outcome(result))
        if self.recorder is not None:
            ok = all(isinstance(o, Delivered) for o in groups)
            self.recorder.request(cycle.destination.id, ok=ok, now=now)
        for outcome, rows in groups.items():
            await self.settle(cycle, rows, outcome, now)

    async def record(
        self,
        cycle: Cycle,
        batch: Sequence[ClaimedEvent],
        result: SendResult,
        outcome: Outcome,
    ) -> float:
        """Record the request (as its worst outcome) and count it; the time it was settled."""
        await self.store.record_attempt(
            AttemptRecord(
                destination_id=cycle.destination.id,
                at=self.clock.now(),
                events=len(batch),
                outcome=type(outcome).__name__.lower(),
                attempt=result.attempt,
            )
        )
        self.metrics.delivery_request(cycle.destination, outcome_label(outcome))
        return self.clock.now()

    async def settle(
        self, cycle: Cycle, rows: Sequence[ClaimedEvent], outcome: Outcome, now: float
    ) -> None:
        """Settle ``rows``, which all got ``outcome`` (a ``Rejected`` is final here)."""
        ids = [c.outbox_id for c in rows]
        if isinstance(outcome, Delivered):
            await self.store.settle_delivered(ids, owner=self.owner, now=now)
            if self.recorder is not None:
                self.recorder.delivered(
                    cycle.destination.id, [c.received_at for c in rows], now=now
                )
        elif isinstance(outcome, Retry):
            if outcome.throttled:
                wait = outcome.after
                if wait is None:
                    wait = self.settings.throttle_default_seconds
                wait = max(wait, self.settings.backoff_base_seconds)
                # Written before the rows go back: no other slot claims them in between.
                await self.store.throttle(cycle.destination.id, until=now + wait)
            elif outcome.after is not None:
                wait = outcome.after
            else:
                wait = backoff_delay(
                    max(c.attempts for c in rows),
                    base=self.settings.backoff_base_seconds,
                    cap=self.settings.backoff_max_seconds,
                    rng=self.rng,
                )
            # A throttled answer is the platform's pace, not a failed attempt.
            await self.store.settle_retry(
                ids,
                owner=self.owner,
                due_at=now + wait,
                count_attempt=not outcome.throttled,
                error=outcome.reason,
            )
        elif isinstance(outcome, Rejected):
            await self.store.settle_dead(
                ids,
                owner=self.owner,
                reason=outcome.reason,
                code=outcome.code,
                subcode=outcome.subcode,
                now=now,
            )
            if self.recorder is not None:
                self.recorder.dead(cycle.destination.id, len(rows), now=now)
        else:
            if cycle.paused is None:
                # Written before the rows go back: no other slot claims them in between.
                await self.pause(cycle.destination, outcome)
            cycle.paused = outcome
            await self.store.release(ids, owner=self.owner)
        self.metrics.settled(cycle.destination, outcome_label(outcome), rows, now=now)
