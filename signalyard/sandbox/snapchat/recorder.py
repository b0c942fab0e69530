"""What the sandbox received: events, requests and their deduplication.

:class:`SandboxState` is in memory and bounded (the newest ``max_events`` events weighing at
most ``max_bytes``, the newest ``max_requests`` requests; see
:mod:`signalyard.sandbox.recording`); its statistics (:mod:`.stats`) are running counters
since the last reset. Tokens are never kept: a request record holds the first 12 hex digits
of the token's SHA-256. An event is kept as the compact JSON it arrived as, long strings cut
(:mod:`signalyard.sandbox.clip`).

``POST /events`` is all or nothing: every event of a request answered ``VALID`` is recorded
(``accepted``); a request refused (a token error, a bad body, an invalid event, a fault)
records none, and the statistics count its invalid events. ``POST /events/validate``
records every event as a test event, ``accepted`` or ``invalid`` with its message.

Deduplication is simulated on ``(asset_id, event_name, event_id)`` within 48 hours of the
first receipt (the window a third party, Stape, gives for Snap's dedup against the pixel's
``client_dedup_id``; unconfirmed by Snap): the first accepted event is kept, later ones are
``deduplicated``. Events without ``event_id`` are never deduplicated; test (validate) events
only among themselves. The dedup memory is bounded (``max_dedup_keys``, oldest first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ...clock import Clock
from ..clip import MAX_KEY, clip_element, clip_optional, clip_text, key_text, name_label
from ..counters import bump, capped
from ..dedup_memory import DEDUP_WINDOW, DedupMemory
from ..diagnostics import NO_DIAGNOSTICS, Diagnostic, diagnostics_footprint, stored_diagnostics
from ..recording import DEFAULT_MAX_BYTES, EVENT_OVERHEAD, Recordings
from .faults import FaultBook
from .stats import AssetStats, totals
from .validate import CheckedEvent

__all__ = ["MAX_ASSETS", "RecordedEvent", "RequestRecord", "SandboxState"]

MAX_ASSETS = 1000
OTHER_ASSETS = "(other assets)"

DedupKey = tuple[bool, str, str, str]


@dataclass(slots=True)
class RecordedEvent:
    seq: int
    received_at: float
    asset_id: str
    event_name: str | None
    event_id: str | None
    event_time: int | None
    action_source: str | None
    status: str
    test: bool = False
    error: str | None = None
    limited_use: bool = False
    dedup: str | None = None
    dedup_of: int | None = None
    diagnostics: tuple[Diagnostic, ...] = NO_DIAGNOSTICS
    payload: bytes = b"null"

    @property
    def event(self) -> Any:
        return orjson.loads(self.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "asset_id": self.asset_id,
            "event_name": self.event_name,
            "event_id": self.event_id,
            "event_time": self.event_time,
            "action_source": self.action_source,
            "status": self.status,
            "error": self.error,
            "test": self.test,
            "limited_use": self.limited_use,
            "dedup": {"status": self.dedup, "of": self.dedup_of},
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "data": orjson.Fragment(self.payload),
        }


def footprint(rec: RecordedEvent) -> int:
    size = EVENT_OVERHEAD + len(rec.payload) + len(rec.asset_id)
    for text in (rec.event_name, rec.event_id, rec.error, rec.action_source):
        if text is not None:
            size += len(text)
    return size + diagnostics_footprint(rec.diagnostics)


@dataclass(slots=True)
class RequestRecord:
    """One request to an events endpoint, whatever its answer. Holds no token."""

    seq: int
    received_at: float
    endpoint: str
    status: int
    code: str | None
    message: str | None
    asset_id: str | None = None
    events: int | None = None
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    token_sha256_prefix: str | None = None
    fault_id: str | None = None
    fault_kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "endpoint": self.endpoint,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "asset_id": self.asset_id,
            "events": self.events,
            "accepted": self.accepted,
            "invalid": self.invalid,
            "deduplicated": self.deduplicated,
            "token_sha256_prefix": self.token_sha256_prefix,
            "fault": None
            if self.fault_id is None
            else {"id": self.fault_id, "kind": self.fault_kind},
        }


class SandboxState(Recordings[RecordedEvent, RequestRecord]):
    """Everything the sandbox holds: recordings, dedup memory, statistics and faults.
    ``faults`` survives :meth:`reset`; clear it with ``faults.clear()``."""

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
        self._assets: dict[str, AssetStats] = {}

    def events(
        self,
        *,
        asset_id: str | None = None,
        event_name: str | None = None,
        event_id: str | None = None,
        test: bool | None = None,
        status: str | None = None,
        dedup: str | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        """Recorded events, newest first, filtered on the given fields (all by default)."""
        return self._find_events(
            limit,
            asset_id=asset_id,
            event_name=event_name,
            event_id=event_id,
            test=test,
            status=status,
            dedup=dedup,
        )

    def requests(
        self, *, asset_id: str | None = None, limit: int | None = None
    ) -> list[RequestRecord]:
        return self._find_requests(limit, asset_id=asset_id)

    def summary(self) -> dict[str, Any]:
        """Per asset and event name: counts, dedup, diagnostics, key coverage."""
        with self._lock:
            return {
                **self._period(),
                "totals": {**totals(self._assets.values()), **self._held()},
                "assets": {k: v.to_json() for k, v in sorted(self._assets.items())},
            }

    def stats(self, asset_id: str, now: float) -> dict[str, Any]:
        """``GET .../events/validate/stats``: per test and live, the events of the past hour
        and the newest event's time (Snap's ``StatsData``)."""
        with self._lock:
            out: dict[str, Any] = {}
            for label, test in (("test", True), ("live", False)):
                recent = [
                    e.received_at
                    for e in self._events
                    if e.asset_id == asset_id
                    and e.test == test
                    and e.status == "accepted"
                    and e.received_at >= now - 3600
                ]
                out[label] = {
                    "event_count_past_hour": len(recent),
                    "latest_event_ts": int(max(recent, default=0)),
                }
            return out

    def reset(self) -> None:
        with self._lock:
            self._forget()
            self._dedup.clear()
            self._assets.clear()

    def _asset(self, asset_id: str) -> AssetStats:
        return capped(self._assets, asset_id, MAX_ASSETS, OTHER_ASSETS, AssetStats)

    def record_request(self, record: RequestRecord) -> RequestRecord:
        with self._lock:
            record.asset_id = clip_optional(record.asset_id, MAX_KEY)
            record.message = clip_optional(record.message)
            self._requests.append(record)
            if record.asset_id is not None:
                self._asset(record.asset_id).add_request(record.status, record.code)
            return record

    def count_refused(self, asset_id: str, checked: list[CheckedEvent]) -> None:
        """Count the invalid events of a request refused whole (nothing is recorded)."""
        with self._lock:
            stats = self._asset(clip_text(asset_id, MAX_KEY))
            for c in checked:
                if not c.accepted:
                    name = stats.name(name_label(c.event_name))
                    name.received += 1
                    name.invalid += 1

    def record_events(
        self, asset_id: str, checked: list[CheckedEvent], *, received_at: float, test: bool
    ) -> list[RecordedEvent]:
        """Record the events of a request taken (``test``: a validate request)."""
        asset = clip_text(asset_id, MAX_KEY)
        with self._lock:
            stats = self._asset(asset)
            stats.add_batch(len(checked))
            out: list[RecordedEvent] = []
            for c in checked:
                rec = RecordedEvent(
                    seq=self._events.next_seq(),
                    received_at=received_at,
                    asset_id=asset,
                    event_name=clip_optional(c.event_name),
                    event_id=clip_optional(c.event_id),
                    event_time=c.event_time,
                    action_source=c.action_source,
                    status="accepted" if c.accepted else "invalid",
                    test=test,
                    error=clip_optional(c.error),
                    limited_use=c.limited_use,
                    diagnostics=stored_diagnostics(c.diagnostics),
                    payload=clip_element(c.event),
                )
                name = stats.name(name_label(c.event_name))
                name.received += 1
                name.test_events += test
                if c.accepted:
                    name.accepted += 1
                    name.limited_use += c.limited_use
                    bump(name.masks, c.match_mask)
                    for d in c.diagnostics:
                        bump(name.diagnostics, d.code)
                    self._dedup_one(rec, asset, test)
                    if rec.dedup == "deduplicated":
                        name.deduplicated += 1
                    elif rec.dedup == "no_event_id":
                        name.without_event_id += 1
                else:
                    name.invalid += 1
                self._keep(rec)
                out.append(rec)
            return out

    def _dedup_one(self, rec: RecordedEvent, asset: str, test: bool) -> None:
        if rec.event_id is None or rec.event_name is None:
            rec.dedup = "no_event_id"
            return
        key = (test, asset, key_text(rec.event_name), key_text(rec.event_id))
        rec.dedup_of = self._dedup.first(key, seq=rec.seq, at=rec.received_at)
        rec.dedup = "kept" if rec.dedup_of is None else "deduplicated"
