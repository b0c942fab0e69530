"""What the sandbox received: events, requests and their deduplication.

:class:`SandboxState` is in memory and bounded: the newest events are kept, at most
``max_events`` of them (default 200,000) weighing at most ``max_bytes`` together (default
256 MiB, counted by :func:`footprint`), and the newest ``max_requests`` requests (default
10,000); older ones are dropped first. Statistics (:meth:`SandboxState.summary`, counted in
:mod:`.stats`) are running counters since the last reset, so they survive that eviction.
Tokens are never kept: a request record holds the first 12 hex digits of the token's SHA-256.
An event is kept as the compact JSON it arrived as (after decoding), with long strings cut
(see :mod:`signalyard.sandbox.clip`); so are its name and ids, its first ``MAX_DIAGNOSTICS``
diagnostics, and the text fields of request records.

Deduplication (reference §5) is simulated on the key ``(dataset_id, event_name, event_id)``
within 48 hours of the first receipt of that key: the first event is kept, later ones are
marked ``deduplicated``, and the pair is labelled ``<first source>/<later source>``
(``server`` for events posted to the Graph endpoint, ``browser`` for Pixel events simulated
with :meth:`SandboxState.record_browser_event`). When a browser and a server event with the
same key arrive within 5 minutes of each other, the browser event is the one kept (Meta's
stated preference) and the server event is marked deduplicated. Meta's treatment of two
*server* events with the same key is unconfirmed; the sandbox deduplicates them so that
retries show up. Events without ``event_id`` are never deduplicated. The dedup memory is
bounded too (``max_dedup_keys``, oldest keys forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from ...clock import Clock
from ..clip import MAX_KEY, clip_json, clip_optional, clip_text, key_text
from ..counters import bump, capped
from ..dedup_memory import DEDUP_WINDOW, prune
from ..diagnostics import (
    MAX_DIAGNOSTICS,
    NO_DIAGNOSTICS,
    Diagnostic,
    diagnostics_footprint,
    stored_diagnostics,
)
from ..recording import DEFAULT_MAX_BYTES, EVENT_OVERHEAD, Recordings
from .faults import FaultBook
from .stats import DatasetStats, NameStats, totals
from .validate import CheckedEvent

__all__ = [
    "DEDUP_WINDOW",
    "DEFAULT_MAX_BYTES",
    "MAX_DATASETS",
    "MAX_DIAGNOSTICS",
    "OTHER_DATASETS",
    "RecordedEvent",
    "RequestRecord",
    "SandboxState",
    "footprint",
]

BROWSER_PREFERENCE_WINDOW = 5 * 60
MAX_DATASETS = 1000
"""Datasets with their own statistics; requests to more are counted under OTHER_DATASETS."""
OTHER_DATASETS = "(other datasets)"


@dataclass(slots=True)
class RecordedEvent:
    """One event as the sandbox received it, with what the sandbox made of it."""

    seq: int
    received_at: float
    dataset_id: str
    event_name: str
    event_id: str | None
    event_time: int | None
    action_source: str | None
    source: str
    test_event_code: str | None = None
    trace_id: str | None = None
    partner_agent: str | None = None
    dedup: str = "kept"
    dedup_of: int | None = None
    dedup_pair: str | None = None
    dedup_reason: str | None = None
    diagnostics: tuple[Diagnostic, ...] = NO_DIAGNOSTICS
    payload: bytes = b"null"

    @property
    def event(self) -> Any:
        """The event object as received (decoded again from its stored JSON)."""
        return orjson.loads(self.payload)

    @property
    def is_test(self) -> bool:
        return self.test_event_code is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "dataset_id": self.dataset_id,
            "source": self.source,
            "event_name": self.event_name,
            "event_id": self.event_id,
            "event_time": self.event_time,
            "action_source": self.action_source,
            "test": self.is_test,
            "test_event_code": self.test_event_code,
            "partner_agent": self.partner_agent,
            "fbtrace_id": self.trace_id,
            "dedup": {
                "status": self.dedup,
                "of": self.dedup_of,
                "pair": self.dedup_pair,
                "reason": self.dedup_reason,
            },
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "event": orjson.Fragment(self.payload),
        }


def footprint(rec: RecordedEvent) -> int:
    """The bytes ``rec`` holds, as the state counts them against ``max_bytes``: its stored
    JSON, its strings and diagnostics, and a fixed overhead."""
    size = EVENT_OVERHEAD + len(rec.payload) + len(rec.dataset_id) + len(rec.event_name)
    for text in (rec.event_id, rec.test_event_code, rec.trace_id, rec.partner_agent):
        if text is not None:
            size += len(text)
    return size + diagnostics_footprint(rec.diagnostics)


@dataclass(slots=True)
class RequestRecord:
    """One request to the Graph endpoint, whatever its outcome. Holds no token."""

    seq: int
    received_at: float
    dataset_id: str
    api_version: str
    status: int
    code: int | None
    subcode: int | None
    message: str | None
    events: int | None
    deduplicated: int
    test_event_code: str | None
    token_sha256_prefix: str | None
    token_source: str | None
    encoding: str | None
    partner_agent: str | None
    fbtrace_id: str
    fault_id: str | None = None
    fault_kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "dataset_id": self.dataset_id,
            "api_version": self.api_version,
            "status": self.status,
            "code": self.code,
            "error_subcode": self.subcode,
            "message": self.message,
            "events": self.events,
            "deduplicated": self.deduplicated,
            "test_event_code": self.test_event_code,
            "token_sha256_prefix": self.token_sha256_prefix,
            "token_source": self.token_source,
            "encoding": self.encoding,
            "partner_agent": self.partner_agent,
            "fbtrace_id": self.fbtrace_id,
            "fault": None
            if self.fault_id is None
            else {"id": self.fault_id, "kind": self.fault_kind},
        }


def _dedup_key(
    dataset_id: str, event_name: str, event_id: str | None
) -> tuple[str, str, str] | None:
    """The deduplication key of an event (long parts digested: equal stays equal), or None
    for an event without ``event_id``."""
    if event_id is None:
        return None
    return (key_text(dataset_id), key_text(event_name), key_text(event_id))


@dataclass(slots=True)
class _DedupEntry:
    first_at: float  # first receipt of the key: the 48 h window starts here
    kept_at: float
    kept_seq: int
    kept_source: str


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
        self.max_dedup_keys = max_dedup_keys
        self.dedup_window = dedup_window
        self.faults = FaultBook()
        self._dedup: OrderedDict[tuple[str, str, str], _DedupEntry] = OrderedDict()
        self._datasets: dict[str, DatasetStats] = {}

    # --- reading ---------------------------------------------------------------------------

    def events(
        self,
        *,
        dataset_id: str | None = None,
        event_name: str | None = None,
        event_id: str | None = None,
        test_event_code: str | None = None,
        source: str | None = None,
        dedup: str | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        """Recorded events, newest first, filtered on the given fields (all by default)."""
        return self._find_events(
            limit,
            dataset_id=dataset_id,
            event_name=event_name,
            event_id=event_id,
            test_event_code=test_event_code,
            source=source,
            dedup=dedup,
        )

    def requests(
        self, *, dataset_id: str | None = None, limit: int | None = None
    ) -> list[RequestRecord]:
        """Recorded requests, newest first (all by default)."""
        return self._find_requests(limit, dataset_id=dataset_id)

    def summary(self) -> dict[str, Any]:
        """Per dataset and event name: counts, batch sizes, dedup pairs, match quality."""
        with self._lock:
            datasets = {k: v.to_json() for k, v in sorted(self._datasets.items())}
            return {
                **self._period(),
                "totals": {
                    **totals(self._datasets.values()),
                    **self._held(),
                },
                "datasets": datasets,
            }

    # --- writing ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every event, request, dedup key and statistic (faults are kept)."""
        with self._lock:
            self._forget()
            self._dedup.clear()
            self._datasets.clear()

    def _dataset(self, dataset_id: str) -> DatasetStats:
        return capped(self._datasets, dataset_id, MAX_DATASETS, OTHER_DATASETS, DatasetStats)

    def record_request(self, record: RequestRecord) -> RequestRecord:
        """Log one request (its ``seq`` is assigned here) and count it for its dataset."""
        with self._lock:
            # Text from the request's path and errors echoing it: any length, so cut.
            record.dataset_id = clip_text(record.dataset_id, MAX_KEY)
            record.api_version = clip_text(record.api_version, MAX_KEY)
            record.message = clip_optional(record.message)
            record.test_event_code = clip_optional(record.test_event_code, MAX_KEY)
            record.partner_agent = clip_optional(record.partner_agent, MAX_KEY)
            self._requests.append(record)  # its seq assigned
            self._dataset(record.dataset_id).add_request(record.status, record.code, record.subcode)
            return record

    def record_batch(
        self,
        dataset_id: str,
        checked: list[CheckedEvent],
        *,
        received_at: float,
        test_event_code: str | None = None,
        trace_id: str | None = None,
        partner_agent: str | None = None,
    ) -> list[RecordedEvent]:
        """Record an accepted request's events (all of them: the request was valid)."""
        raw_dataset_id, dataset_id = dataset_id, clip_text(dataset_id, MAX_KEY)
        test_event_code = clip_optional(test_event_code, MAX_KEY)
        partner_agent = clip_optional(partner_agent, MAX_KEY)
        with self._lock:
            dstats = self._dataset(dataset_id)
            dstats.add_batch(len(checked))
            seen_names: set[int] = set()
            out: list[RecordedEvent] = []
            for c in checked:
                rec = RecordedEvent(
                    seq=self._events.next_seq(),
                    received_at=received_at,
                    dataset_id=dataset_id,
                    event_name=clip_text(c.event_name),
                    event_id=clip_optional(c.event_id),
                    event_time=c.event_time,
                    action_source=c.action_source,
                    source="server",
                    test_event_code=test_event_code,
                    trace_id=trace_id,
                    partner_agent=partner_agent,
                    diagnostics=stored_diagnostics(c.diagnostics),
                    payload=clip_json(c.event),
                )
                nstats = dstats.name(clip_text(c.event_name, MAX_KEY))
                nstats.received += 1
                if test_event_code is not None:
                    nstats.test_events += 1
                bump(nstats.masks, c.match_mask)
                for d in c.diagnostics:
                    bump(nstats.diagnostics, d.code)
                if id(nstats) not in seen_names:
                    seen_names.add(id(nstats))
                    nstats.requests += 1
                self._dedup_one(rec, _dedup_key(raw_dataset_id, c.event_name, c.event_id), nstats)
                self._keep(rec)
                out.append(rec)
            return out

    def record_browser_event(
        self,
        dataset_id: str,
        event_name: str,
        event_id: str,
        time: float | None = None,
    ) -> RecordedEvent:
        """Simulate the Pixel sending ``event_name``/``event_id`` at ``time`` (default: now)."""
        received_at = self.clock.now() if time is None else float(time)
        key = _dedup_key(str(dataset_id), event_name, event_id)
        with self._lock:
            rec = RecordedEvent(
                seq=self._events.next_seq(),
                received_at=received_at,
                dataset_id=clip_text(str(dataset_id), MAX_KEY),
                event_name=clip_text(event_name),
                event_id=clip_text(event_id),
                event_time=int(received_at),
                action_source="website",
                source="browser",
            )
            nstats = self._dataset(rec.dataset_id).name(clip_text(event_name, MAX_KEY))
            nstats.browser_received += 1
            self._dedup_one(rec, key, nstats)
            self._keep(rec)
            return rec

    def _dedup_one(
        self, rec: RecordedEvent, key: tuple[str, str, str] | None, nstats: NameStats
    ) -> None:
        if key is None:
            rec.dedup = "no_event_id"
            nstats.without_event_id += 1
            return
        t = rec.received_at
        window = self.dedup_window
        entry = self._dedup.get(key)
        if entry is None or t >= entry.first_at + window:
            self._dedup[key] = _DedupEntry(
                first_at=t, kept_at=t, kept_seq=rec.seq, kept_source=rec.source
            )
            self._dedup.move_to_end(key)
            nstats.distinct_event_ids += 1
            prune(self._dedup, self.max_dedup_keys, window, t)
            return
        if t < entry.first_at - window:
            return  # far older than the key's window: an unrelated event
        new_is_later = t >= entry.kept_at
        if new_is_later:
            pair = f"{entry.kept_source}/{rec.source}"
        else:
            pair = f"{rec.source}/{entry.kept_source}"
        mixed = entry.kept_source != rec.source
        if mixed and abs(t - entry.kept_at) <= BROWSER_PREFERENCE_WINDOW:
            prefer_new = rec.source == "browser"
            reason = "browser and server events within 5 minutes: the browser event is kept"
        else:
            prefer_new = not new_is_later
            reason = "same event_name and event_id within 48 h: the first received is kept"
        bump(nstats.pairs, pair)
        nstats.deduplicated += 1
        if prefer_new:
            old = self._events.find(entry.kept_seq)
            if old is not None:
                old.dedup = "deduplicated"
                old.dedup_of = rec.seq
                old.dedup_pair = pair
                old.dedup_reason = reason
            entry.kept_at, entry.kept_seq, entry.kept_source = t, rec.seq, rec.source
            entry.first_at = min(entry.first_at, t)
            rec.dedup_pair = pair
        else:
            rec.dedup = "deduplicated"
            rec.dedup_of = entry.kept_seq
            rec.dedup_pair = pair
            rec.dedup_reason = reason
