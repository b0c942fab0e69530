"""What the sandbox received: events, requests and their deduplication.

:class:`SandboxState` is in memory and bounded: the newest events are kept, at most
``max_events`` of them (default 200,000) weighing at most ``max_bytes`` together (default
256 MiB, counted by :func:`footprint`), and the newest ``max_requests`` requests (default
10,000); older ones are dropped first. Statistics (:meth:`SandboxState.summary`, counted in
:mod:`.stats`) are running counters since the last reset, so they survive that eviction.
Tokens are never kept: a request record holds the first 12 hex digits of the token's SHA-256.
An event is kept as the compact JSON it arrived as, with long strings cut (see
:mod:`signalyard.sandbox.clip`), with its first ``MAX_DIAGNOSTICS`` diagnostics.

Reddit processes a request whole: the events of a request answered 200 are recorded, all
accepted; a refused request (an invalid event, a body Reddit cannot read, a token error, a
fault) records no event; its request record says why, and the statistics count its invalid
events.

Deduplication: Reddit deduplicates a server event against the pixel's by ``conversion_id``
(keeping the copy with more metadata and match keys). The sandbox keys on ``(ad account,
event name, conversion_id)`` within 48 hours of the first receipt (the window is an
assumption: Reddit publishes none) and keeps the first copy, marking later ones
``deduplicated``. Events without ``conversion_id`` are never deduplicated. Test events
(``test_mode: true``) are deduplicated among test events only. The dedup memory is bounded
(``max_dedup_keys``, oldest first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ...clock import Clock
from ..clip import MAX_KEY, clip_json, clip_optional, clip_text, key_text, name_label
from ..counters import bump, capped
from ..dedup_memory import DEDUP_WINDOW, DedupMemory
from ..diagnostics import (
    NO_DIAGNOSTICS,
    Diagnostic,
    diagnostics_footprint,
    stored_diagnostics,
)
from ..recording import DEFAULT_MAX_BYTES, EVENT_OVERHEAD, Recordings
from .faults import FaultBook
from .stats import AccountStats, totals
from .validate import CheckedEvent, EventsRequest

__all__ = ["MAX_ACCOUNTS", "RecordedEvent", "RequestRecord", "SandboxState", "footprint"]

MAX_ACCOUNTS = 1000
"""Ad accounts with their own statistics; more are counted under OTHER_ACCOUNTS."""
OTHER_ACCOUNTS = "(other ad accounts)"

DedupKey = tuple[str, str, str, str]


@dataclass(slots=True)
class RecordedEvent:
    """One accepted event as the sandbox received it, with what the sandbox made of it."""

    seq: int
    received_at: float
    ad_account_id: str
    event_name: str | None
    conversion_id: str | None
    event_at: float | None
    test: bool = False
    limited_data_use: bool = False
    dedup: str | None = None
    dedup_of: int | None = None
    diagnostics: tuple[Diagnostic, ...] = NO_DIAGNOSTICS
    payload: bytes = b"null"
    status: str = "accepted"

    @property
    def event(self) -> Any:
        """The event object as received (decoded again from its stored JSON)."""
        return orjson.loads(self.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "ad_account_id": self.ad_account_id,
            "event": self.event_name,
            "conversion_id": self.conversion_id,
            "event_at": self.event_at,
            "status": self.status,
            "test": self.test,
            "limited_data_use": self.limited_data_use,
            "dedup": {"status": self.dedup, "of": self.dedup_of},
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "data": orjson.Fragment(self.payload),
        }


def footprint(rec: RecordedEvent) -> int:
    """The bytes ``rec`` holds, as the state counts them against ``max_bytes``."""
    size = EVENT_OVERHEAD + len(rec.payload) + len(rec.ad_account_id)
    for text in (rec.event_name, rec.conversion_id):
        if text is not None:
            size += len(text)
    return size + diagnostics_footprint(rec.diagnostics)


@dataclass(slots=True)
class RequestRecord:
    """One request to the conversions endpoint, whatever its outcome. Holds no token."""

    seq: int
    received_at: float
    status: int
    message: str | None
    ad_account_id: str | None = None
    events: int | None = None
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    test_mode: bool = False
    token_sha256_prefix: str | None = None
    fault_id: str | None = None
    fault_kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "status": self.status,
            "message": self.message,
            "ad_account_id": self.ad_account_id,
            "events": self.events,
            "accepted": self.accepted,
            "invalid": self.invalid,
            "deduplicated": self.deduplicated,
            "test_mode": self.test_mode,
            "token_sha256_prefix": self.token_sha256_prefix,
            "fault": None
            if self.fault_id is None
            else {"id": self.fault_id, "kind": self.fault_kind},
        }


class SandboxState(Recordings[RecordedEvent, RequestRecord]):
    """Everything the sandbox holds: recordings, dedup memory, statistics and faults.

    Thread-safe: the ASGI app mutates it on its event loop while tests or the gateway read it
    from elsewhere. ``faults`` survives :meth:`reset`; clear it with ``faults.clear()``.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        max_events: int = 200_000,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_requests: int = 10_000,
        max_dedup_keys: int = 200_000,
        dedup_window: float = DEDUP_WINDOW,
    ) -> None:
        super().__init__(
            clock=clock,
            max_events=max_events,
            max_bytes=max_bytes,
            max_requests=max_requests,
            footprint=footprint,
        )
        self.faults = FaultBook()
        self._dedup: DedupMemory[DedupKey] = DedupMemory(max_dedup_keys, dedup_window)
        self._accounts: dict[str, AccountStats] = {}

    # --- reading ---------------------------------------------------------------------------

    def events(
        self,
        *,
        ad_account_id: str | None = None,
        event: str | None = None,
        conversion_id: str | None = None,
        test: bool | None = None,
        dedup: str | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        """Recorded events, newest first, filtered on the given fields (all by default)."""
        return self._find_events(
            limit,
            ad_account_id=ad_account_id,
            event_name=event,
            conversion_id=conversion_id,
            test=test,
            dedup=dedup,
        )

    def requests(
        self, *, ad_account_id: str | None = None, limit: int | None = None
    ) -> list[RequestRecord]:
        """Recorded requests, newest first (all by default)."""
        return self._find_requests(limit, ad_account_id=ad_account_id)

    def summary(self) -> dict[str, Any]:
        """Per ad account and event name: counts, dedup, diagnostics, key coverage."""
        with self._lock:
            return {
                **self._period(),
                "totals": {**totals(self._accounts.values()), **self._held()},
                "ad_accounts": {k: v.to_json() for k, v in sorted(self._accounts.items())},
            }

    # --- writing ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every event, request, dedup key and statistic (faults are kept)."""
        with self._lock:
            self._forget()
            self._dedup.clear()
            self._accounts.clear()

    def _account(self, account: str) -> AccountStats:
        return capped(self._accounts, account, MAX_ACCOUNTS, OTHER_ACCOUNTS, AccountStats)

    def record_request(self, record: RequestRecord) -> RequestRecord:
        """Log one request (its ``seq`` is assigned here) and count it for its account."""
        with self._lock:
            record.ad_account_id = clip_optional(record.ad_account_id, MAX_KEY)
            record.message = clip_optional(record.message)
            self._requests.append(record)
            if record.ad_account_id is not None:
                self._account(record.ad_account_id).add_request(record.status)
            return record

    def count_refused(self, req: EventsRequest, checked: list[CheckedEvent]) -> None:
        """Count the events of a request refused for its invalid events (nothing recorded)."""
        with self._lock:
            stats = self._account(clip_text(req.ad_account_id, MAX_KEY))
            for c in checked:
                if not c.accepted:
                    nstats = stats.name(name_label(c.event_name))
                    nstats.received += 1
                    nstats.invalid += 1

    def record_events(
        self, req: EventsRequest, checked: list[CheckedEvent], *, received_at: float
    ) -> list[RecordedEvent]:
        """Record every event of a request answered 200 and deduplicate them."""
        account = clip_text(req.ad_account_id, MAX_KEY)
        with self._lock:
            stats = self._account(account)
            stats.add_batch(len(checked))
            seen: set[int] = set()
            out: list[RecordedEvent] = []
            for c in checked:
                rec = RecordedEvent(
                    seq=self._events.next_seq(),
                    received_at=received_at,
                    ad_account_id=account,
                    event_name=clip_optional(c.event_name),
                    conversion_id=clip_optional(c.conversion_id),
                    event_at=c.event_at,
                    test=c.test_mode,
                    limited_data_use=c.limited_data_use,
                    diagnostics=stored_diagnostics(c.diagnostics),
                    payload=clip_json(c.event),
                )
                nstats = stats.name(name_label(c.event_name))
                nstats.received += 1
                nstats.accepted += 1
                if id(nstats) not in seen:
                    seen.add(id(nstats))
                    nstats.requests += 1
                nstats.test_events += c.test_mode
                nstats.limited_data_use += c.limited_data_use
                bump(nstats.masks, c.match_mask)
                for d in c.diagnostics:
                    bump(nstats.diagnostics, d.code)
                self._dedup_one(rec, _dedup_key(account, c))
                if rec.dedup == "deduplicated":
                    nstats.deduplicated += 1
                elif rec.dedup == "no_conversion_id":
                    nstats.without_conversion_id += 1
                else:
                    nstats.distinct_conversion_ids += 1
                self._keep(rec)
                out.append(rec)
            return out

    def _dedup_one(self, rec: RecordedEvent, key: DedupKey | None) -> None:
        if key is None:
            rec.dedup = "no_conversion_id"
            return
        rec.dedup_of = self._dedup.first(key, seq=rec.seq, at=rec.received_at)
        rec.dedup = "kept" if rec.dedup_of is None else "deduplicated"


def _dedup_key(account: str, c: CheckedEvent) -> DedupKey | None:
    """The deduplication key of an accepted event (long parts digested: equal stays equal),
    or None for an event without ``conversion_id``."""
    if c.conversion_id is None or c.event_name is None:
        return None
    return (
        "test" if c.test_mode else "live",
        key_text(account),
        key_text(c.event_name),
        key_text(c.conversion_id),
    )
