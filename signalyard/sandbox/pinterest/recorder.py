"""What the sandbox received: events, requests and their deduplication.

:class:`SandboxState` is in memory and bounded like every sandbox's
(:class:`~signalyard.sandbox.recording.Recordings`): the newest ``max_events`` events within
``max_bytes``, the newest ``max_requests`` requests; statistics (:mod:`.stats`) are running
counters since the last reset. Tokens are never kept: a request record holds the first 12
hex digits of the token's SHA-256. An event is kept as the compact JSON it arrived as, long
strings cut (:mod:`signalyard.sandbox.clip`).

Every event of a request Pinterest answered 200 with ``status: "processed"`` is recorded. A
``failed`` event is not (Pinterest keeps nothing of it): it is counted in the statistics,
and the request record's ``message`` carries the first failure. A request refused whole (a
token error, a 400, a fault) records no event; its request record says why. Events of a test
request (``?test=true``) are recorded with ``test`` set, for inspection: Pinterest itself
records nothing of them, and they are never deduplicated nor count as received.

Deduplication (reference §5: "Dedup with the Pinterest Tag happens automatically via
``event_id``. Offline events cannot be deduplicated.") is simulated on the key
``(ad_account_id, event_name, event_id)`` within 48 hours of the key's first receipt
[window assumed]: the first processed event is kept, later ones are marked
``deduplicated``; an ``offline`` event is never deduplicated (``dedup: "offline"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ...clock import Clock
from ..clip import MAX_KEY, clip_json, clip_optional, clip_text, key_text, name_label
from ..counters import bump, capped
from ..dedup_memory import DEDUP_WINDOW, DedupMemory
from ..diagnostics import NO_DIAGNOSTICS, Diagnostic, diagnostics_footprint, stored_diagnostics
from ..recording import DEFAULT_MAX_BYTES, EVENT_OVERHEAD, Recordings
from .faults import FaultBook
from .stats import AccountStats, totals
from .validate import CheckedEvent

__all__ = ["DEDUP_WINDOW", "RecordedEvent", "RequestRecord", "SandboxState", "footprint"]

MAX_ACCOUNTS = 1000
OTHER_ACCOUNTS = "(other ad accounts)"
DedupKey = tuple[str, str, str]


@dataclass(slots=True)
class RecordedEvent:
    """One event as the sandbox received it, with what the sandbox made of it."""

    seq: int
    received_at: float
    ad_account_id: str
    event_name: str | None
    event_id: str | None
    event_time: int | None
    status: str
    test: bool = False
    action_source: str | None = None
    ldp: bool = False
    opt_out: bool = False
    request_id: str | None = None
    dedup: str | None = None
    dedup_of: int | None = None
    diagnostics: tuple[Diagnostic, ...] = NO_DIAGNOSTICS
    payload: bytes = b"null"

    @property
    def event(self) -> Any:
        return orjson.loads(self.payload)

    @property
    def accepted(self) -> bool:
        return self.status == "processed"

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "ad_account_id": self.ad_account_id,
            "event_name": self.event_name,
            "event_id": self.event_id,
            "event_time": self.event_time,
            "status": self.status,
            "test": self.test,
            "action_source": self.action_source,
            "limited_data_processing": self.ldp,
            "opt_out": self.opt_out,
            "request_id": self.request_id,
            "dedup": {"status": self.dedup, "of": self.dedup_of},
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "data": orjson.Fragment(self.payload),
        }


def footprint(rec: RecordedEvent) -> int:
    """The bytes ``rec`` holds, as the state counts them against ``max_bytes``."""
    size = EVENT_OVERHEAD + len(rec.payload) + len(rec.ad_account_id)
    for text in (rec.event_name, rec.event_id, rec.request_id, rec.action_source):
        if text is not None:
            size += len(text)
    return size + diagnostics_footprint(rec.diagnostics)


@dataclass(slots=True)
class RequestRecord:
    """One request to the events endpoint, whatever its outcome. Holds no token."""

    seq: int
    received_at: float
    status: int
    code: int | None
    message: str | None
    request_id: str
    ad_account_id: str | None = None
    test: bool = False
    events: int | None = None
    processed: int = 0
    failed: int = 0
    deduplicated: int = 0
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
            "ad_account_id": self.ad_account_id,
            "test": self.test,
            "events": self.events,
            "processed": self.processed,
            "failed": self.failed,
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
        self._accounts: dict[str, AccountStats] = {}

    def events(
        self,
        *,
        ad_account_id: str | None = None,
        event_name: str | None = None,
        event_id: str | None = None,
        status: str | None = None,
        dedup: str | None = None,
        test: bool | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        """Recorded events, newest first, filtered on the given fields (all by default)."""
        return self._find_events(
            limit,
            ad_account_id=ad_account_id,
            event_name=event_name,
            event_id=event_id,
            status=status,
            dedup=dedup,
            test=test,
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

    def reset(self) -> None:
        """Forget every event, request, dedup key and statistic (faults are kept)."""
        with self._lock:
            self._forget()
            self._dedup.clear()
            self._accounts.clear()

    def _account(self, ad_account_id: str) -> AccountStats:
        return capped(self._accounts, ad_account_id, MAX_ACCOUNTS, OTHER_ACCOUNTS, AccountStats)

    def record_request(self, record: RequestRecord) -> RequestRecord:
        """Log one request (its ``seq`` is assigned here) and count it for its account."""
        with self._lock:
            record.ad_account_id = clip_optional(record.ad_account_id, MAX_KEY)
            record.message = clip_optional(record.message)
            self._requests.append(record)
            if record.ad_account_id is not None:
                self._account(record.ad_account_id).add_request(record.status, record.code)
            return record

    def record_events(
        self,
        ad_account_id: str,
        checked: list[CheckedEvent],
        *,
        test: bool,
        received_at: float,
        request_id: str,
    ) -> list[RecordedEvent]:
        """Record the processed events of a request answered 200 (deduplicated unless in a
        test request) and count every event; the processed ones recorded are returned."""
        account = clip_text(ad_account_id, MAX_KEY)
        with self._lock:
            stats = self._account(account)
            stats.add_batch(len(checked))
            out: list[RecordedEvent] = []
            for c in checked:
                rec = RecordedEvent(
                    seq=self._events.next_seq(),
                    received_at=received_at,
                    ad_account_id=account,
                    event_name=clip_optional(c.event_name),
                    event_id=clip_optional(c.event_id),
                    event_time=c.event_time,
                    status="processed",
                    test=test,
                    action_source=c.action_source,
                    ldp=c.ldp,
                    opt_out=c.opt_out,
                    request_id=request_id,
                    diagnostics=stored_diagnostics(c.diagnostics),
                    payload=clip_json(c.event if isinstance(c.event, dict) else {"_": c.event}),
                )
                nstats = stats.name(name_label(c.event_name))
                nstats.received += 1
                nstats.test_events += test
                if c.accepted:
                    nstats.processed += 1
                    nstats.limited_data_processing += c.ldp
                    nstats.opt_out += c.opt_out
                    bump(nstats.masks, c.match_mask)
                    for d in c.diagnostics:
                        bump(nstats.diagnostics, d.code)
                    if not test:
                        self._dedup_one(rec, account, c)
                        nstats.deduplicated += rec.dedup == "deduplicated"
                    self._keep(rec)
                    out.append(rec)
                else:
                    nstats.failed += 1
            return out

    def _dedup_one(self, rec: RecordedEvent, account: str, c: CheckedEvent) -> None:
        if c.action_source == "offline":
            rec.dedup = "offline"  # offline events cannot be deduplicated
            return
        key = (account, key_text(c.event_name or ""), key_text(c.event_id or ""))
        rec.dedup_of = self._dedup.first(key, seq=rec.seq, at=rec.received_at)
        rec.dedup = "kept" if rec.dedup_of is None else "deduplicated"
