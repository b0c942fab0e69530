"""What the sandbox received: events, requests, their deduplication, and the conversion rules.

:class:`SandboxState` is in memory and bounded like every sandbox's
(:class:`~signalyard.sandbox.recording.Recordings`): the newest ``max_events`` events
weighing at most ``max_bytes``, the newest ``max_requests`` requests. Statistics
(:meth:`SandboxState.summary`, :mod:`.stats`) are running counters since the last reset.
Tokens are never kept: a request record holds the first 12 hex digits of the token's SHA-256.

Only the elements LinkedIn took are recorded as events (their ``userInfo`` values replaced by
``"[redacted]"``: plaintext names never stay in the sandbox); an element refused in a batch
answer is counted, and its index and LinkedIn's message are in its request's record.

Deduplication: LinkedIn deduplicates a conversion by ``eventId`` (against the Insight Tag's
event id) for the same rule; the sandbox keeps the first element of a ``(rule, eventId)`` key
and marks later ones ``deduplicated`` within 48 hours of the first (the window is the
sandbox's assumption: LinkedIn publishes none). Elements without ``eventId`` are never
deduplicated. Both are answered 201, as LinkedIn does.

Conversion rules: any rule id is taken as an enabled ``CONVERSIONS_API`` rule of the ad
account the read names, unless set otherwise with :meth:`SandboxState.set_rule`
(``PUT /_sandbox/rules/{id}``), e.g. ``{"conversionMethod": "INSIGHT_TAG"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ...clock import Clock
from ..clip import MAX_KEY, clip_json, clip_optional, clip_text, key_text
from ..counters import bump, capped
from ..dedup_memory import DEDUP_WINDOW, DedupMemory
from ..diagnostics import NO_DIAGNOSTICS, Diagnostic, diagnostics_footprint, stored_diagnostics
from ..recording import DEFAULT_MAX_BYTES, EVENT_OVERHEAD, Recordings
from .faults import FaultBook
from .stats import MAX_RULES, OTHER_RULES, RuleStats, totals
from .validate import Checked

__all__ = ["DEDUP_WINDOW", "RecordedEvent", "RequestRecord", "SandboxState", "footprint"]

RULE_FIELDS = frozenset(("conversionMethod", "enabled", "type", "name"))


@dataclass(slots=True)
class RecordedEvent:
    """One element LinkedIn took, with what the sandbox made of it."""

    seq: int
    received_at: float
    conversion_rule_id: str
    event_id: str | None
    happened_at: int
    request_id: str
    status: str = "accepted"
    dedup: str | None = None
    dedup_of: int | None = None
    diagnostics: tuple[Diagnostic, ...] = NO_DIAGNOSTICS
    payload: bytes = b"null"

    @property
    def event(self) -> Any:
        """The element as received (decoded again from its stored JSON)."""
        return orjson.loads(self.payload)

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "conversion_rule_id": self.conversion_rule_id,
            "event_id": self.event_id,
            "conversion_happened_at": self.happened_at,
            "status": self.status,
            "request_id": self.request_id,
            "dedup": {"status": self.dedup, "of": self.dedup_of},
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "element": orjson.Fragment(self.payload),
        }


def footprint(rec: RecordedEvent) -> int:
    size = EVENT_OVERHEAD + len(rec.payload) + len(rec.conversion_rule_id) + len(rec.request_id)
    if rec.event_id is not None:
        size += len(rec.event_id)
    return size + diagnostics_footprint(rec.diagnostics)


@dataclass(slots=True)
class RequestRecord:
    """One request to the sandbox's LinkedIn routes, whatever its outcome. Holds no token."""

    seq: int
    received_at: float
    method: str
    status: int
    request_id: str
    code: str | None = None
    message: str | None = None
    version: str | None = None
    conversion_rule_id: str | None = None
    elements: int | None = None
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    errors: tuple[tuple[int, str], ...] = ()
    token_sha256_prefix: str | None = None
    fault_id: str | None = None
    fault_kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "method": self.method,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": self.request_id,
            "linkedin_version": self.version,
            "conversion_rule_id": self.conversion_rule_id,
            "elements": self.elements,
            "accepted": self.accepted,
            "invalid": self.invalid,
            "deduplicated": self.deduplicated,
            "errors": [{"index": i, "message": m} for i, m in self.errors],
            "token_sha256_prefix": self.token_sha256_prefix,
            "fault": None
            if self.fault_id is None
            else {"id": self.fault_id, "kind": self.fault_kind},
        }


def _payload(raw: dict[str, Any]) -> bytes:
    user = raw.get("user")
    if isinstance(user, dict) and isinstance(user.get("userInfo"), dict):
        info = {k: "[redacted]" for k in user["userInfo"]}
        raw = {**raw, "user": {**user, "userInfo": info}}
    return clip_json(raw)


class SandboxState(Recordings[RecordedEvent, RequestRecord]):
    """Everything the sandbox holds: recordings, dedup memory, statistics, rules and faults.
    ``faults`` and the rules survive :meth:`reset`."""

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
        self._dedup: DedupMemory[tuple[str, str]] = DedupMemory(max_dedup_keys, dedup_window)
        self._rules_stats: dict[str, RuleStats] = {}
        self._rules: dict[str, dict[str, Any]] = {}

    # --- conversion rules -----------------------------------------------------------------

    def set_rule(self, rule_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Override fields of a rule (``conversionMethod``, ``enabled``, ``type``, ``name``)."""
        unknown = set(fields) - RULE_FIELDS
        if unknown or not rule_id.isdigit():
            raise ValueError(
                "a rule is set by its numeric id with fields among"
                f" {', '.join(sorted(RULE_FIELDS))}"
            )
        with self._lock:
            self._rules.setdefault(rule_id, {}).update(fields)
            return dict(self._rules[rule_id])

    def rule(self, rule_id: str, account_urn: str) -> dict[str, Any]:
        """The rule as ``GET /rest/conversions/{id}`` shows it."""
        with self._lock:
            own = dict(self._rules.get(rule_id, {}))
        return {
            "id": int(rule_id),
            "account": account_urn,
            "name": own.get("name", f"Sandbox rule {rule_id}"),
            "type": own.get("type", "PURCHASE"),
            "conversionMethod": own.get("conversionMethod", "CONVERSIONS_API"),
            "enabled": own.get("enabled", True),
            "attributionType": "LAST_TOUCH_BY_CAMPAIGN",
            "postClickAttributionWindowSize": 30,
            "viewThroughAttributionWindowSize": 7,
        }

    def method_of(self, rule_id: str) -> str:
        with self._lock:
            return str(self._rules.get(rule_id, {}).get("conversionMethod", "CONVERSIONS_API"))

    # --- reading ---------------------------------------------------------------------------

    def events(
        self,
        *,
        conversion_rule_id: str | None = None,
        event_id: str | None = None,
        status: str | None = None,
        dedup: str | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        """Recorded events, newest first, filtered on the given fields (all by default)."""
        return self._find_events(
            limit,
            conversion_rule_id=conversion_rule_id,
            event_id=event_id,
            status=status,
            dedup=dedup,
        )

    def requests(
        self, *, conversion_rule_id: str | None = None, limit: int | None = None
    ) -> list[RequestRecord]:
        """Recorded requests, newest first (all by default)."""
        return self._find_requests(limit, conversion_rule_id=conversion_rule_id)

    def summary(self) -> dict[str, Any]:
        """Per conversion rule: counts, dedup, diagnostics, user-id coverage."""
        with self._lock:
            return {
                **self._period(),
                "totals": {**totals(self._rules_stats.values()), **self._held()},
                "conversion_rules": {k: v.to_json() for k, v in sorted(self._rules_stats.items())},
            }

    # --- writing ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every event, request, dedup key and statistic (faults and rules are kept)."""
        with self._lock:
            self._forget()
            self._dedup.clear()
            self._rules_stats.clear()

    def _stats(self, rule_id: str) -> RuleStats:
        return capped(
            self._rules_stats, clip_text(rule_id, MAX_KEY), MAX_RULES, OTHER_RULES, RuleStats
        )

    def record_request(self, record: RequestRecord) -> RequestRecord:
        """Log one request (its ``seq`` is assigned here) and count it for its rule."""
        with self._lock:
            record.message = clip_optional(record.message)
            record.version = clip_optional(record.version, MAX_KEY)
            record.errors = tuple((i, clip_text(m)) for i, m in record.errors[:100])
            self._requests.append(record)
            if record.conversion_rule_id is not None:
                self._stats(record.conversion_rule_id).add_request(record.status)
            return record

    def record(self, checked: list[Checked], *, received_at: float, request_id: str) -> int:
        """Record the elements LinkedIn took and count the refused ones; returns how many
        were deduplicated."""
        deduplicated = 0
        with self._lock:
            for c in checked:
                stats = self._stats(c.rule_id)
                stats.received += 1
                if not c.accepted:
                    stats.invalid += 1
                    continue
                stats.accepted += 1
                bump(stats.masks, c.mask)
                for d in c.diagnostics:
                    bump(stats.diagnostics, d.code)
                rec = RecordedEvent(
                    seq=self._events.next_seq(),
                    received_at=received_at,
                    conversion_rule_id=clip_text(c.rule_id, MAX_KEY),
                    event_id=clip_optional(c.event_id),
                    happened_at=c.happened_at,
                    request_id=request_id,
                    diagnostics=stored_diagnostics(c.diagnostics),
                    payload=_payload(c.raw),
                )
                self._dedup_one(rec, c)
                if rec.dedup == "deduplicated":
                    stats.deduplicated += 1
                    deduplicated += 1
                elif rec.dedup == "no_event_id":
                    stats.without_event_id += 1
                self._keep(rec)
        return deduplicated

    def _dedup_one(self, rec: RecordedEvent, c: Checked) -> None:
        if c.event_id is None:
            rec.dedup = "no_event_id"
            return
        key = (key_text(c.rule_id), key_text(c.event_id))
        rec.dedup_of = self._dedup.first(key, seq=rec.seq, at=rec.received_at)
        rec.dedup = "kept" if rec.dedup_of is None else "deduplicated"
