"""What the sandbox received: events, requests and running statistics.

:class:`SandboxState` is in memory and bounded like every sandbox's
(:class:`~signalyard.sandbox.recording.Recordings`): the newest ``max_events`` events within
``max_bytes``, the newest ``max_requests`` requests. Statistics (:meth:`SandboxState.summary`)
are running counters since the last reset, per measurement id and event name: counts only,
never a value that was sent.

Only ``/mp/collect`` records events: each event of a request it took is kept with its
``status``, ``accepted`` or ``dropped`` (what GA4 would silently drop, with the rule). The
validation server's requests are logged as requests only (with how many messages they got):
GA4 never keeps what it validates. API secrets are never kept: a request record holds the
first 12 hex digits of the secret's SHA-256. GA4 does not deduplicate events (it has no event
id), so neither does the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ...clock import Clock
from ..clip import MAX_KEY, clip_json, clip_optional, clip_text
from ..counters import bump, capped
from ..recording import DEFAULT_MAX_BYTES, EVENT_OVERHEAD, Recordings
from .faults import FaultBook

__all__ = ["MAX_STREAMS", "RecordedEvent", "RequestRecord", "SandboxState", "footprint"]

MAX_STREAMS = 1000
"""Measurement ids with their own statistics; more are counted under OTHER_STREAMS."""
MAX_NAMES = 500
OTHER_STREAMS = "(other measurement ids)"
OTHER_NAMES = "(other event names)"
KEYS = ("client_id", "sha256_email_address", "sha256_phone_number", "ip_override", "consent")
"""What the coverage of the summary counts: the request-level fields an event came with."""


@dataclass(slots=True)
class RecordedEvent:
    """One event ``/mp/collect`` received, with what the sandbox made of it."""

    seq: int
    received_at: float
    measurement_id: str | None
    event_name: str | None
    event_id: str | None
    status: str
    error: str | None = None
    code: str | None = None
    payload: bytes = b"null"

    @property
    def event(self) -> Any:
        """The event with its request's fields, as received (decoded from its stored JSON)."""
        return orjson.loads(self.payload)

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "measurement_id": self.measurement_id,
            "name": self.event_name,
            "event_id": self.event_id,
            "status": self.status,
            "error": self.error,
            "validation_code": self.code,
            "data": orjson.Fragment(self.payload),
        }


def footprint(rec: RecordedEvent) -> int:
    size = EVENT_OVERHEAD + len(rec.payload)
    for text in (rec.measurement_id, rec.event_name, rec.event_id, rec.error):
        if text is not None:
            size += len(text)
    return size


@dataclass(slots=True)
class RequestRecord:
    """One request to either endpoint, whatever its outcome. Holds no secret."""

    seq: int
    received_at: float
    endpoint: str
    status: int
    measurement_id: str | None = None
    events: int | None = None
    accepted: int = 0
    dropped: int = 0
    messages: int = 0
    secret_sha256_prefix: str | None = None
    fault_id: str | None = None
    fault_kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "endpoint": self.endpoint,
            "status": self.status,
            "measurement_id": self.measurement_id,
            "events": self.events,
            "accepted": self.accepted,
            "dropped": self.dropped,
            "validation_messages": self.messages,
            "secret_sha256_prefix": self.secret_sha256_prefix,
            "fault": None
            if self.fault_id is None
            else {"id": self.fault_id, "kind": self.fault_kind},
        }


@dataclass(slots=True)
class NameStats:
    received: int = 0
    accepted: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    validated: int = 0
    found_invalid: int = 0
    coverage: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        n = self.accepted
        return {
            "received": self.received,
            "accepted": self.accepted,
            "dropped": dict(sorted(self.dropped.items())),
            "validated": self.validated,
            "found_invalid_by_validation": self.found_invalid,
            "coverage": {k: round(self.coverage.get(k, 0) / n, 4) if n else 0.0 for k in KEYS},
        }


@dataclass(slots=True)
class StreamStats:
    requests: dict[str, int] = field(default_factory=dict)
    names: dict[str, NameStats] = field(default_factory=dict)

    def name(self, name: str) -> NameStats:
        return capped(self.names, name, MAX_NAMES, OTHER_NAMES, NameStats)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "events": {k: v.to_json() for k, v in sorted(self.names.items())},
        }


class SandboxState(Recordings[RecordedEvent, RequestRecord]):
    """Everything the sandbox holds: recordings, statistics and faults (which survive
    :meth:`reset`; clear them with ``faults.clear()``). Thread-safe."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        max_events: int = 200_000,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_requests: int = 10_000,
        max_dedup_keys: int = 0,
    ) -> None:
        """``max_dedup_keys`` is taken as every sandbox's state takes it, and unused: GA4
        does not deduplicate."""
        del max_dedup_keys
        super().__init__(
            clock=clock,
            max_events=max_events,
            max_bytes=max_bytes,
            max_requests=max_requests,
            footprint=footprint,
        )
        self.faults = FaultBook()
        self._streams: dict[str, StreamStats] = {}

    def events(
        self,
        *,
        measurement_id: str | None = None,
        name: str | None = None,
        event_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        """Recorded events, newest first, filtered on the given fields (all by default)."""
        return self._find_events(
            limit, measurement_id=measurement_id, event_name=name, event_id=event_id,
            status=status,
        )  # fmt: skip

    def requests(
        self, *, endpoint: str | None = None, limit: int | None = None
    ) -> list[RequestRecord]:
        return self._find_requests(limit, endpoint=endpoint)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            accepted = sum(n.accepted for s in self._streams.values() for n in s.names.values())
            received = sum(n.received for s in self._streams.values() for n in s.names.values())
            return {
                **self._period(),
                "totals": {"received": received, "accepted": accepted, **self._held()},
                "streams": {k: v.to_json() for k, v in sorted(self._streams.items())},
            }

    def reset(self) -> None:
        with self._lock:
            self._forget()
            self._streams.clear()

    def _stream(self, measurement_id: str | None) -> StreamStats:
        key = clip_text(measurement_id or "(no measurement_id)", MAX_KEY)
        return capped(self._streams, key, MAX_STREAMS, OTHER_STREAMS, StreamStats)

    def record_request(self, record: RequestRecord) -> RequestRecord:
        with self._lock:
            record.measurement_id = clip_optional(record.measurement_id, MAX_KEY)
            self._requests.append(record)
            bump(self._stream(record.measurement_id).requests, f"{record.endpoint} {record.status}")
            return record

    def count_validated(
        self, measurement_id: str | None, names: list[str], invalid: set[int]
    ) -> None:
        """Count the events the validation server checked (``invalid``: their indexes)."""
        with self._lock:
            stream = self._stream(measurement_id)
            for i, name in enumerate(names):
                stats = stream.name(clip_text(name, MAX_KEY))
                stats.validated += 1
                stats.found_invalid += i in invalid

    def record_event(
        self,
        *,
        measurement_id: str | None,
        name: str,
        event_id: str | None,
        error: tuple[str, str] | None,
        keys: frozenset[str],
        data: dict[str, Any],
        received_at: float,
    ) -> RecordedEvent:
        """Keep one event ``/mp/collect`` received (``error``: validation code and why it is
        dropped; ``keys``: the :data:`KEYS` its request carried)."""
        with self._lock:
            rec = RecordedEvent(
                seq=self._events.next_seq(),
                received_at=received_at,
                measurement_id=clip_optional(measurement_id, MAX_KEY),
                event_name=clip_text(name),
                event_id=clip_optional(event_id),
                status="accepted" if error is None else "dropped",
                error=None if error is None else clip_text(error[1]),
                code=None if error is None else error[0],
                payload=clip_json(data),
            )
            stats = self._stream(measurement_id).name(clip_text(name, MAX_KEY))
            stats.received += 1
            if error is None:
                stats.accepted += 1
                for key in keys:
                    bump(stats.coverage, key)
            else:
                bump(stats.dropped, error[0])
            self._keep(rec)
            return rec
