"""What the sandbox received: events, requests and their deduplication.

:class:`SandboxState` is in memory and bounded: the newest events are kept, at most
``max_events`` of them (default 200,000) weighing at most ``max_bytes`` together (default
256 MiB, counted by :func:`footprint`), and the newest ``max_requests`` requests (default
10,000); older ones are dropped first. Statistics (:meth:`SandboxState.summary`, counted in
:mod:`.stats`) are running counters since the last reset, so they survive that eviction.
Tokens are never kept: a request record holds the first 12 hex digits of the token's SHA-256.
An event is kept as the compact JSON it arrived as, with long strings cut (see
:mod:`signalyard.sandbox.clip`); so are its name and ids, its first ``MAX_DIAGNOSTICS``
diagnostics, and the text fields of request records.

Every event of a request answered 0 (OK) or 20001 (partial) is recorded with its ``status``:
``accepted``, or ``invalid`` with TikTok's message for it. A request refused whole (a token
error, a 40002 on the request's own fields or on every one of its events, a fault) records
no event; its request record says why, and the statistics count its invalid events.

Deduplication (reference §3, TikTok's help on event deduplication) is simulated on the key
``(event_source_id, event, event_id)`` within 48 hours of the first receipt of that key:
the first accepted event is kept, later ones are marked ``deduplicated``. Events without
``event_id`` are never deduplicated (TikTok then tries the ``_ttp`` cookie; the sandbox
does not). Test events (with a ``test_event_code``) are deduplicated among the events of
the same test code only, never against live events: an assumption (TikTok's Test Events tool
shows them apart). The dedup memory is bounded too (``max_dedup_keys``, oldest first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ...clock import Clock
from ..clip import MAX_KEY, clip_element, clip_optional, clip_text, key_text, name_label
from ..counters import bump, capped
from ..dedup_memory import DEDUP_WINDOW, DedupMemory
from ..diagnostics import (
    MAX_DIAGNOSTICS,
    NO_DIAGNOSTICS,
    Diagnostic,
    diagnostics_footprint,
    stored_diagnostics,
)
from ..recording import DEFAULT_MAX_BYTES, EVENT_OVERHEAD, Recordings
from .faults import FaultBook
from .stats import SourceStats, totals
from .validate import CheckedEvent, TrackRequest

__all__ = [
    "DEDUP_WINDOW",
    "DEFAULT_MAX_BYTES",
    "MAX_DIAGNOSTICS",
    "MAX_SOURCES",
    "OTHER_SOURCES",
    "RecordedEvent",
    "RequestRecord",
    "SandboxState",
    "footprint",
]

MAX_SOURCES = 1000
"""Event sources with their own statistics; more are counted under OTHER_SOURCES."""
OTHER_SOURCES = "(other event sources)"

DedupKey = tuple[str, str, str, str]


@dataclass(slots=True)
class RecordedEvent:
    """One event as the sandbox received it, with what the sandbox made of it."""

    seq: int
    received_at: float
    event_source: str
    event_source_id: str
    event_name: str | None
    event_id: str | None
    event_time: int | None
    status: str
    error: str | None = None
    test_event_code: str | None = None
    request_id: str | None = None
    partner_name: str | None = None
    limited_data_use: bool = False
    dedup: str | None = None
    dedup_of: int | None = None
    diagnostics: tuple[Diagnostic, ...] = NO_DIAGNOSTICS
    payload: bytes = b"null"

    @property
    def event(self) -> Any:
        """The event object as received (decoded again from its stored JSON)."""
        return orjson.loads(self.payload)

    @property
    def is_test(self) -> bool:
        return self.test_event_code is not None

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "event_source": self.event_source,
            "event_source_id": self.event_source_id,
            "event": self.event_name,
            "event_id": self.event_id,
            "event_time": self.event_time,
            "status": self.status,
            "error": self.error,
            "test": self.is_test,
            "test_event_code": self.test_event_code,
            "partner_name": self.partner_name,
            "limited_data_use": self.limited_data_use,
            "request_id": self.request_id,
            "dedup": {"status": self.dedup, "of": self.dedup_of},
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "data": orjson.Fragment(self.payload),
        }


def footprint(rec: RecordedEvent) -> int:
    """The bytes ``rec`` holds, as the state counts them against ``max_bytes``: its stored
    JSON, its strings and diagnostics, and a fixed overhead."""
    size = EVENT_OVERHEAD + len(rec.payload) + len(rec.event_source_id)
    for text in (
        rec.event_name,
        rec.event_id,
        rec.error,
        rec.test_event_code,
        rec.request_id,
        rec.partner_name,
    ):
        if text is not None:
            size += len(text)
    return size + diagnostics_footprint(rec.diagnostics)


@dataclass(slots=True)
class RequestRecord:
    """One request to the track endpoint, whatever its outcome. Holds no token."""

    seq: int
    received_at: float
    status: int
    code: int | None
    message: str | None
    request_id: str
    event_source: str | None = None
    event_source_id: str | None = None
    events: int | None = None
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    test_event_code: str | None = None
    partner_name: str | None = None
    token_sha256_prefix: str | None = None
    fault_id: str | None = None
    fault_kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": self.request_id,
            "event_source": self.event_source,
            "event_source_id": self.event_source_id,
            "events": self.events,
            "accepted": self.accepted,
            "invalid": self.invalid,
            "deduplicated": self.deduplicated,
            "test_event_code": self.test_event_code,
            "partner_name": self.partner_name,
            "token_sha256_prefix": self.token_sha256_prefix,
            "fault": None
            if self.fault_id is None
            else {"id": self.fault_id, "kind": self.fault_kind},
        }


def _dedup_key(source_id: str, c: CheckedEvent) -> DedupKey | None:
    """The deduplication key of an accepted event (long parts digested: equal stays equal),
    or None for an event without ``event_id``."""
    if c.event_id is None or c.event_name is None:
        return None
    return (
        key_text(c.test_event_code or ""),
        key_text(source_id),
        key_text(c.event_name),
        key_text(c.event_id),
    )


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
        self._sources: dict[str, SourceStats] = {}

    # --- reading ---------------------------------------------------------------------------

    def events(
        self,
        *,
        event_source_id: str | None = None,
        event: str | None = None,
        event_id: str | None = None,
        test_event_code: str | None = None,
        test: bool | None = None,
        status: str | None = None,
        dedup: str | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        """Recorded events, newest first, filtered on the given fields (all by default)."""
        return self._find_events(
            limit,
            event_source_id=event_source_id,
            event_name=event,
            event_id=event_id,
            test_event_code=test_event_code,
            is_test=test,
            status=status,
            dedup=dedup,
        )

    def requests(
        self, *, event_source_id: str | None = None, limit: int | None = None
    ) -> list[RequestRecord]:
        """Recorded requests, newest first (all by default)."""
        return self._find_requests(limit, event_source_id=event_source_id)

    def summary(self) -> dict[str, Any]:
        """Per event source and event name: counts, dedup, diagnostics, key coverage."""
        with self._lock:
            return {
                **self._period(),
                "totals": {
                    **totals(self._sources.values()),
                    **self._held(),
                },
                "event_sources": {k: v.to_json() for k, v in sorted(self._sources.items())},
            }

    # --- writing ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every event, request, dedup key and statistic (faults are kept)."""
        with self._lock:
            self._forget()
            self._dedup.clear()
            self._sources.clear()

    def _source(self, source_id: str) -> SourceStats:
        return capped(self._sources, source_id, MAX_SOURCES, OTHER_SOURCES, SourceStats)

    def record_request(self, record: RequestRecord) -> RequestRecord:
        """Log one request (its ``seq`` is assigned here) and count it for its source."""
        with self._lock:
            record.event_source_id = clip_optional(record.event_source_id, MAX_KEY)
            record.event_source = clip_optional(record.event_source, MAX_KEY)
            record.message = clip_optional(record.message)
            record.test_event_code = clip_optional(record.test_event_code, MAX_KEY)
            record.partner_name = clip_optional(record.partner_name, MAX_KEY)
            self._requests.append(record)  # its seq assigned
            if record.event_source_id is not None:
                stats = self._source(record.event_source_id)
                stats.add_request(record.status, record.code)
            return record

    def count_refused(self, req: TrackRequest, checked: list[CheckedEvent]) -> None:
        """Count the invalid events of a request refused whole (nothing is recorded)."""
        with self._lock:
            stats = self._source(clip_text(req.event_source_id, MAX_KEY))
            stats.event_source = req.event_source
            for c in checked:
                if not c.accepted:
                    nstats = stats.name(name_label(c.event_name))
                    nstats.received += 1
                    nstats.invalid += 1

    def record_events(
        self,
        req: TrackRequest,
        checked: list[CheckedEvent],
        *,
        received_at: float,
        request_id: str,
    ) -> list[RecordedEvent]:
        """Record every event of a request answered 0 or 20001, accepted or invalid, and
        deduplicate the accepted ones."""
        source_id = clip_text(req.event_source_id, MAX_KEY)
        partner = clip_optional(req.partner_name, MAX_KEY)
        with self._lock:
            stats = self._source(source_id)
            stats.event_source = req.event_source
            stats.add_batch(len(checked))
            seen: set[int] = set()
            out: list[RecordedEvent] = []
            for c in checked:
                rec = RecordedEvent(
                    seq=self._events.next_seq(),
                    received_at=received_at,
                    event_source=req.event_source,
                    event_source_id=source_id,
                    event_name=clip_optional(c.event_name),
                    event_id=clip_optional(c.event_id),
                    event_time=c.event_time,
                    status="accepted" if c.accepted else "invalid",
                    error=clip_optional(c.error),
                    test_event_code=clip_optional(c.test_event_code, MAX_KEY),
                    request_id=request_id,
                    partner_name=partner,
                    limited_data_use=c.limited_data_use,
                    diagnostics=stored_diagnostics(c.diagnostics),
                    payload=clip_element(c.event),
                )
                nstats = stats.name(name_label(c.event_name))
                nstats.received += 1
                if id(nstats) not in seen:
                    seen.add(id(nstats))
                    nstats.requests += 1
                if c.test_event_code is not None:
                    nstats.test_events += 1
                if c.accepted:
                    nstats.accepted += 1
                    nstats.limited_data_use += c.limited_data_use
                    bump(nstats.masks, c.match_mask)
                    for d in c.diagnostics:
                        bump(nstats.diagnostics, d.code)
                    self._dedup_one(rec, _dedup_key(req.event_source_id, c))
                    if rec.dedup == "deduplicated":
                        nstats.deduplicated += 1
                    elif rec.dedup == "no_event_id":
                        nstats.without_event_id += 1
                    else:
                        nstats.distinct_event_ids += 1
                else:
                    nstats.invalid += 1
                self._keep(rec)
                out.append(rec)
            return out

    def _dedup_one(self, rec: RecordedEvent, key: DedupKey | None) -> None:
        if key is None:
            rec.dedup = "no_event_id"
            return
        rec.dedup_of = self._dedup.first(key, seq=rec.seq, at=rec.received_at)
        rec.dedup = "kept" if rec.dedup_of is None else "deduplicated"
