"""What the sandbox holds: recorded events, request statuses, dedup keys, statistics, issued
tokens, quota usage and faults.

Bounded whatever is sent: the newest events are kept, at most ``max_events`` weighing at most
``max_bytes`` together (counted by :func:`footprint`; an event's payload is cut by
:mod:`signalyard.sandbox.clip`), the newest ``max_requests`` request statuses and log entries,
and ``max_dedup_keys`` dedup keys (oldest forgotten first). Statistics are running counters,
so they survive the eviction.

An accepted event is recorded once per destination it goes to (its ``destinationReferences``,
else every destination of the request), with that destination's conversion action. Then, as
Google processes it after answering, it gets one outcome:

* ``too_old``: its ``eventTimestamp`` is more than ``max_event_age`` (90 days by default, the
  longest Google Ads click-through window: an assumption) in the past;
  ``PROCESSING_ERROR_REASON_EVENT_TOO_OLD``;
* ``denied_consent``: ``adUserData`` is ``CONSENT_DENIED``;
  ``PROCESSING_ERROR_REASON_DENIED_CONSENT``;
* ``deduplicated``: an earlier event with the same ``(conversion action, transactionId)``
  was kept; ``PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID``. Google documents that "a
  conversion with the same order id and conversion action combination was already uploaded"
  is refused; the sandbox assumes no time window (as Google Ads' order ids) within its memory
  of ``max_dedup_keys`` keys. Events without ``transactionId`` are never deduplicated;
* ``kept`` otherwise.

``requestStatus:retrieve`` reports these per destination once ``processing_seconds`` have
passed since the request was accepted (``PROCESSING`` before).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...clock import Clock
from ..clip import MAX_KEY, clip_json, clip_optional, clip_text, key_text
from ..counters import bump
from ..recording import DEFAULT_MAX_BYTES, EVENT_OVERHEAD, Recordings
from .faults import FaultBook
from .quota import PER_DAY, PER_MINUTE, Quota
from .stats import Statistics, coverage_keys
from .tokens import TOKEN_LIFETIME, Credentials, TokenBook
from .validate import CheckedRequest

__all__ = [
    "DEFAULT_MAX_BYTES",
    "REASONS",
    "RecordedEvent",
    "RequestRecord",
    "SandboxState",
    "footprint",
]

MAX_EVENT_AGE = 90 * 86400
PROCESSING_SECONDS = 2.0
REASONS = {
    "too_old": "PROCESSING_ERROR_REASON_EVENT_TOO_OLD",
    "denied_consent": "PROCESSING_ERROR_REASON_DENIED_CONSENT",
    "deduplicated": "PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID",
}


@dataclass(slots=True)
class RecordedEvent:
    """One event as received for one destination, with what the sandbox made of it."""

    seq: int
    received_at: float
    request_id: str
    conversion_action: str
    operating_account: str
    transaction_id: str | None
    event_timestamp: str | None
    status: str
    keys: tuple[str, ...]
    ad_user_data: str
    ad_personalization: str
    payload: bytes
    dedup_of: int | None = None

    @property
    def event(self) -> Any:
        return orjson.loads(self.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "request_id": self.request_id,
            "conversion_action": self.conversion_action,
            "operating_account": self.operating_account,
            "transaction_id": self.transaction_id,
            "event_timestamp": self.event_timestamp,
            "status": self.status,
            "processing_error": REASONS.get(self.status),
            "dedup_of": self.dedup_of,
            "keys": list(self.keys),
            "consent": {
                "adUserData": self.ad_user_data,
                "adPersonalization": self.ad_personalization,
            },
            "event": orjson.Fragment(self.payload),
        }


def footprint(rec: RecordedEvent) -> int:
    """The bytes ``rec`` holds, as counted against ``max_bytes``."""
    size = EVENT_OVERHEAD + len(rec.payload) + len(rec.request_id)
    size += len(rec.conversion_action) + len(rec.operating_account)
    for text in (rec.transaction_id, rec.event_timestamp):
        if text is not None:
            size += len(text)
    return size


@dataclass(slots=True)
class DestinationStatus:
    destination: bytes
    record_count: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def to_json(self, processing: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"destination": orjson.Fragment(self.destination)}
        failed = sum(self.errors.values())
        if processing:
            out["requestStatus"] = "PROCESSING"
        elif failed == 0:
            out["requestStatus"] = "SUCCESS"
        else:
            out["requestStatus"] = "FAILED" if failed >= self.record_count else "PARTIAL_SUCCESS"
            out["errorInfo"] = {
                "errorCounts": [
                    {"recordCount": str(n), "reason": reason}
                    for reason, n in sorted(self.errors.items())
                ]
            }
        out["eventsIngestionStatus"] = {"recordCount": str(self.record_count)}
        return out


@dataclass(slots=True)
class RequestStatus:
    request_id: str
    accepted_at: float
    project: str
    destinations: list[DestinationStatus]

    def to_json(self, now: float, processing_seconds: float) -> dict[str, Any]:
        processing = now < self.accepted_at + processing_seconds
        return {"requestStatusPerDestination": [d.to_json(processing) for d in self.destinations]}


@dataclass(slots=True)
class RequestRecord:
    """One request to the API routes, whatever its outcome. Holds no token."""

    seq: int
    received_at: float
    route: str
    status: int
    reason: str | None
    message: str | None
    events: int | None
    request_id: str | None
    project: str | None
    validate_only: bool = False
    fault_id: str | None = None
    fault_kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "route": self.route,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "events": self.events,
            "request_id": self.request_id,
            "project": self.project,
            "validate_only": self.validate_only,
            "fault": None
            if self.fault_id is None
            else {"id": self.fault_id, "kind": self.fault_kind},
        }


class SandboxState(Recordings[RecordedEvent, RequestRecord]):
    """Everything the sandbox holds. Thread-safe. ``faults``, issued tokens and credentials
    survive :meth:`reset`.

    ``quota_per_minute``/``quota_per_day``: the IngestionService quota per project (300 and
    100,000, as documented). ``clients`` (OAuth client id -> secret) and ``service_accounts``
    (email -> PEM public key or None) restrict the token endpoint to those credentials
    (default: any well-formed one). ``token_lifetime``: seconds an access token lives.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        max_events: int = 200_000,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_requests: int = 10_000,
        max_dedup_keys: int = 1_000_000,
        max_event_age: float = MAX_EVENT_AGE,
        processing_seconds: float = PROCESSING_SECONDS,
        quota_per_minute: int = PER_MINUTE,
        quota_per_day: int = PER_DAY,
        token_lifetime: int = TOKEN_LIFETIME,
        clients: Mapping[str, str] | None = None,
        service_accounts: Mapping[str, str | bytes | None] | None = None,
    ) -> None:
        super().__init__(
            clock=clock,
            max_events=max_events,
            max_bytes=max_bytes,
            max_requests=max_requests,
            footprint=footprint,
        )
        self.max_dedup_keys = max_dedup_keys
        self.max_event_age = max_event_age
        self.processing_seconds = processing_seconds
        self.token_lifetime = token_lifetime
        self.faults = FaultBook()
        self.tokens = TokenBook()
        self.quota = Quota(quota_per_minute, quota_per_day)
        self.credentials = Credentials(clients, service_accounts)
        self._statuses: OrderedDict[str, RequestStatus] = OrderedDict()
        self._dedup: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._stats = Statistics()

    # --- reading ---------------------------------------------------------------------------

    def events(
        self,
        *,
        conversion_action: str | None = None,
        transaction_id: str | None = None,
        request_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        """Recorded events, newest first, filtered on the given fields."""
        return self._find_events(
            limit,
            conversion_action=conversion_action,
            transaction_id=transaction_id,
            request_id=request_id,
            status=status,
        )

    def requests(self, *, limit: int | None = None) -> list[RequestRecord]:
        return self._find_requests(limit)

    def request_status(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            status = self._statuses.get(request_id)
            if status is None:
                return None
            return status.to_json(self.clock.now(), self.processing_seconds)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            stats = self._stats.to_json()
            stats["totals"].update(
                {
                    **self._held(),
                    "dedup_keys": len(self._dedup),
                    "tokens_issued_held": len(self.tokens),
                }
            )
            return {
                **self._period(),
                "quota": {
                    "per_minute": self.quota.per_minute,
                    "per_day": self.quota.per_day,
                },
                **stats,
            }

    # --- writing ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget events, request statuses and log, dedup keys, statistics and quota usage
        (faults and issued tokens are kept)."""
        with self._lock:
            self._forget()
            self._statuses.clear()
            self._dedup.clear()
            self._stats = Statistics()
            self.quota.clear()

    def log_request(self, record: RequestRecord) -> None:
        with self._lock:
            record.message = clip_optional(record.message)
            record.project = clip_optional(record.project, MAX_KEY)
            self._requests.append(record)  # its seq assigned
            if record.route == "ingest":
                self._stats.add_request(record.status, record.reason)

    def record_rejection(self, conversion_actions: list[str], invalid_events: int) -> None:
        """Count a request refused for its content against its conversion actions."""
        with self._lock:
            for action in dict.fromkeys(clip_text(a, MAX_KEY) for a in conversion_actions):
                stats = self._stats.action(action)
                stats.requests += 1
                stats.rejected_requests += 1
                stats.invalid += invalid_events

    def record_validated(self, checked: CheckedRequest) -> None:
        """Count a valid ``validateOnly`` request: nothing is recorded."""
        with self._lock:
            for k, dest in enumerate(checked.destinations):
                stats = self._stats.action(clip_text(dest.conversion_action, MAX_KEY))
                stats.requests += 1
                stats.validated_only += sum(1 for e in checked.events if k in e.destinations)

    def record_batch(
        self, checked: CheckedRequest, *, request_id: str, project: str, received_at: float
    ) -> list[RecordedEvent]:
        """Record an accepted request's events (all of them: it was valid) and its status."""
        dests = checked.destinations
        actions = [clip_text(d.conversion_action, MAX_KEY) for d in dests]
        statuses = [DestinationStatus(clip_json(d.sent)) for d in dests]
        out: list[RecordedEvent] = []
        with self._lock:
            for action in dict.fromkeys(actions):
                self._stats.action(action).requests += 1
            for ev in checked.events:
                payload = clip_json(ev.event)
                kinds = coverage_keys(ev.keys, ev.ad_user_data)
                for k in ev.destinations:
                    rec = RecordedEvent(
                        seq=self._events.next_seq(),
                        received_at=received_at,
                        request_id=request_id,
                        conversion_action=actions[k],
                        operating_account=clip_text(dests[k].account_id, MAX_KEY),
                        transaction_id=clip_optional(ev.transaction_id),
                        event_timestamp=clip_optional(ev.event.get("eventTimestamp"), MAX_KEY),
                        status="kept",
                        keys=tuple(sorted(ev.keys)),
                        ad_user_data=ev.ad_user_data,
                        ad_personalization=ev.ad_personalization,
                        payload=payload,
                    )
                    stats = self._stats.action(actions[k])
                    stats.add_event(kinds)
                    self._process(
                        rec,
                        dests[k].conversion_action,
                        ev.transaction_id,
                        ev.timestamp,
                        received_at,
                    )
                    statuses[k].record_count += 1
                    if rec.status != "kept":
                        reason = REASONS[rec.status]
                        bump(statuses[k].errors, reason)
                        if rec.status == "deduplicated":
                            stats.deduplicated += 1
                        elif rec.status == "too_old":
                            stats.too_old += 1
                        else:
                            stats.denied_consent += 1
                    self._keep(rec)
                    out.append(rec)
            self._statuses[request_id] = RequestStatus(request_id, received_at, project, statuses)
            while len(self._statuses) > self.max_requests:
                self._statuses.popitem(last=False)
        return out

    def _process(
        self,
        rec: RecordedEvent,
        action: str,
        transaction_id: str | None,
        timestamp: float,
        now: float,
    ) -> None:
        if timestamp < now - self.max_event_age:
            rec.status = "too_old"
        elif rec.ad_user_data == "CONSENT_DENIED":
            rec.status = "denied_consent"
        elif transaction_id is not None:
            # Full ids as keys (long ones by digest): cutting never merges two events.
            key = (key_text(action), key_text(transaction_id))
            first = self._dedup.get(key)
            if first is not None:
                rec.status = "deduplicated"
                rec.dedup_of = first
            else:
                self._dedup[key] = rec.seq
                while len(self._dedup) > self.max_dedup_keys:
                    self._dedup.popitem(last=False)
