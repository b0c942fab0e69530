"""Fault injection: make the sandbox fail the way Meta fails, on purpose.

A fault is created with ``POST /_sandbox/faults`` (or :meth:`FaultBook.add`) from JSON like::

    {"kind": "server_error", "status": 503, "count": 2}
    {"kind": "timeout", "delay": 0.2, "dataset_id": "1234567890"}
    {"kind": "throttle", "code": 80004, "regain_minutes": 5, "seconds": 60}
    {"kind": "expired_token", "token": "EAAB..."}
    {"kind": "invalid_event", "event_ids": ["order-17"]}

Kinds
    ``server_error``   HTTP ``status`` (500 default, or 503 & co.) with Graph code 1 (500) or 2
                       (otherwise), ``is_transient: true``; ``code`` overridable.
    ``timeout``        the events are accepted and recorded, then the answer is delayed by
                       ``delay`` seconds (default 30) so the client times out; a retry of the
                       same event_ids is then a server-side duplicate.
    ``throttle``       HTTP ``status`` (400 default) with code 17/2446079 (``code`` may be 4,
                       613 or 80004), ``X-Business-Use-Case-Usage`` carrying
                       ``estimated_time_to_regain_access`` = ``regain_minutes`` (default 0) and
                       ``X-App-Usage``.
    ``expired_token``  ``token`` (or every token if absent) gets 190/463 until the fault goes;
                       another token works.
    ``invalid_event``  a request containing an event whose ``event_id`` is in ``event_ids`` is
                       rejected whole with 100/2804019, naming that event's index.

Common fields: ``count`` (requests the fault applies to; default unlimited), ``seconds``
(active that long from creation, on the injected clock), ``dataset_id`` (only requests to that
dataset). Faults are tried in creation order; the first active one that matches a request is
applied (and its ``count`` consumed). Tokens are kept as SHA-256 digests only.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .errors import THROTTLE_MESSAGES

FaultKind = Literal["server_error", "timeout", "throttle", "expired_token", "invalid_event"]
KINDS: tuple[str, ...] = ("server_error", "timeout", "throttle", "expired_token", "invalid_event")
MAX_FAULTS = 1000

_COMMON = {"kind", "count", "seconds", "dataset_id"}
_ALLOWED: dict[str, set[str]] = {
    "server_error": _COMMON | {"status", "code"},
    "timeout": _COMMON | {"delay"},
    "throttle": _COMMON | {"status", "code", "regain_minutes"},
    "expired_token": _COMMON | {"token"},
    "invalid_event": _COMMON | {"event_ids"},
}


class FaultSpecError(ValueError):
    """A fault description that cannot be used; the message says why."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Fault:
    id: str
    kind: FaultKind
    created_at: float
    count: int | None = None
    seconds: float | None = None
    dataset_id: str | None = None
    status: int = 400
    code: int = 0
    delay: float = 30.0
    regain_minutes: int = 0
    token_sha256: str | None = None
    event_ids: frozenset[str] = field(default_factory=frozenset)
    applied: int = 0

    def remaining(self) -> int | None:
        return None if self.count is None else max(0, self.count - self.applied)

    def active(self, now: float) -> bool:
        if self.count is not None and self.applied >= self.count:
            return False
        return self.seconds is None or now < self.created_at + self.seconds

    def matches(
        self, dataset_id: str, token_sha256: str | None, event_ids: Sequence[str | None]
    ) -> bool:
        if self.dataset_id is not None and self.dataset_id != dataset_id:
            return False
        if self.kind == "expired_token":
            return self.token_sha256 is None or self.token_sha256 == token_sha256
        if self.kind == "invalid_event":
            return self.first_invalid(event_ids) is not None
        return True

    def first_invalid(self, event_ids: Sequence[str | None]) -> int | None:
        for i, event_id in enumerate(event_ids):
            if event_id is not None and event_id in self.event_ids:
                return i
        return None

    def to_json(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "active": self.active(now),
            "created_at": self.created_at,
            "count": self.count,
            "remaining": self.remaining(),
            "applied": self.applied,
            "seconds": self.seconds,
            "expires_at": None if self.seconds is None else self.created_at + self.seconds,
            "dataset_id": self.dataset_id,
        }
        if self.kind in ("server_error", "throttle"):
            out["status"] = self.status
            out["code"] = self.code
        if self.kind == "timeout":
            out["delay"] = self.delay
        if self.kind == "throttle":
            out["regain_minutes"] = self.regain_minutes
        if self.kind == "expired_token":
            out["token_sha256_prefix"] = self.token_sha256[:12] if self.token_sha256 else None
        if self.kind == "invalid_event":
            out["event_ids"] = sorted(self.event_ids)
        return out


def _number(spec: dict[str, Any], key: str, *, integer: bool, minimum: float) -> Any:
    value = spec.get(key)
    if value is None:
        return None
    ok_type = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise FaultSpecError(f"{key} must be {kind} >= {minimum:g}")
    return value


def parse_fault(spec: Any, *, fault_id: str, now: float) -> Fault:
    """Build a :class:`Fault` from its JSON description. Raises :class:`FaultSpecError`."""
    if not isinstance(spec, dict):
        raise FaultSpecError("a fault must be a JSON object")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise FaultSpecError(f"kind must be one of {', '.join(KINDS)}")
    unknown = set(spec) - _ALLOWED[kind]
    if unknown:
        raise FaultSpecError(f"unknown field(s) for {kind}: {', '.join(sorted(unknown))}")
    dataset_id = spec.get("dataset_id")
    if dataset_id is not None and not isinstance(dataset_id, str | int):
        raise FaultSpecError("dataset_id must be a string")
    fault = Fault(
        id=fault_id,
        kind=cast(FaultKind, kind),
        created_at=now,
        count=_number(spec, "count", integer=True, minimum=1),
        seconds=_number(spec, "seconds", integer=False, minimum=0),
        dataset_id=None if dataset_id is None else str(dataset_id),
    )
    if kind == "server_error":
        fault.status = _number(spec, "status", integer=True, minimum=500) or 500
        if fault.status > 599:
            raise FaultSpecError("status must be a 5xx code")
        default_code = 1 if fault.status == 500 else 2
        fault.code = _number(spec, "code", integer=True, minimum=1) or default_code
    elif kind == "timeout":
        delay = _number(spec, "delay", integer=False, minimum=0)
        fault.delay = 30.0 if delay is None else float(delay)
    elif kind == "throttle":
        fault.status = _number(spec, "status", integer=True, minimum=400) or 400
        if fault.status > 599:
            raise FaultSpecError("status must be a 4xx or 5xx code")
        fault.code = _number(spec, "code", integer=True, minimum=1) or 17
        if fault.code not in THROTTLE_MESSAGES:
            codes = ", ".join(str(c) for c in sorted(THROTTLE_MESSAGES))
            raise FaultSpecError(f"throttle code must be one of {codes}")
        fault.regain_minutes = _number(spec, "regain_minutes", integer=True, minimum=0) or 0
    elif kind == "expired_token":
        token = spec.get("token")
        if token is not None:
            if not isinstance(token, str) or not token:
                raise FaultSpecError("token must be a non-empty string")
            fault.token_sha256 = token_digest(token)
    else:
        event_ids = spec.get("event_ids")
        if (
            not isinstance(event_ids, list)
            or not event_ids
            or not all(isinstance(e, str | int) and not isinstance(e, bool) for e in event_ids)
        ):
            raise FaultSpecError("event_ids must be a non-empty array of strings")
        fault.event_ids = frozenset(str(e) for e in event_ids)
    return fault


class FaultBook:
    """The active faults, in creation order. Safe to use from several threads."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._next = 1
        self._lock = threading.Lock()

    def add(self, spec: Any, now: float) -> Fault:
        """Add one fault from its JSON description. Raises :class:`FaultSpecError`."""
        with self._lock:
            if len(self._faults) >= MAX_FAULTS:
                raise FaultSpecError(f"at most {MAX_FAULTS} faults; DELETE some first")
            fault = parse_fault(spec, fault_id=f"f{self._next}", now=now)
            self._next += 1
            self._faults.append(fault)
            return fault

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) < before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        return len(self._faults)

    def add_many(self, specs: list[Any], now: float) -> list[Fault]:
        """Add several faults, all or none."""
        with self._lock:
            if len(self._faults) + len(specs) > MAX_FAULTS:
                raise FaultSpecError(f"at most {MAX_FAULTS} faults; DELETE some first")
            added: list[Fault] = []
            for i, spec in enumerate(specs):
                try:
                    added.append(parse_fault(spec, fault_id=f"f{self._next + i}", now=now))
                except FaultSpecError as exc:
                    raise FaultSpecError(f"faults[{i}]: {exc}") from None
            self._next += len(specs)
            self._faults.extend(added)
            return added

    def get(self, fault_id: str) -> Fault | None:
        with self._lock:
            return next((f for f in self._faults if f.id == fault_id), None)

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(
        self,
        *,
        dataset_id: str,
        token_sha256: str | None,
        event_ids: Sequence[str | None],
        now: float,
    ) -> Fault | None:
        """The first active fault matching this request, with one use consumed."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.active(now) and fault.matches(dataset_id, token_sha256, event_ids):
                    fault.applied += 1
                    return fault
        return None
