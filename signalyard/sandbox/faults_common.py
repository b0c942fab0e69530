"""What every sandbox's injected faults share: the fault book and the common fields.

A fault is described in JSON (``POST /_sandbox/faults``) by its ``kind`` and fields; the
common ones are ``count`` (requests it applies to; default unlimited) and ``seconds``
(active that long from creation, on the injected clock). What the kinds are, what they
match (the platform's scope field: dataset, event source, conversion action) and what they
do is each platform's own (``sandbox/<platform>/faults.py``): it plugs its parser into a
:class:`FaultBook` and asks it for the first active fault matching a request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .digest import token_digest

MAX_FAULTS = 1000
DEFAULT_DELAY = 30.0
"""Seconds a ``timeout`` fault delays its answer by default."""


class FaultSpecError(ValueError):
    """A fault description that cannot be used; the message says why."""


@dataclass(slots=True)
class FaultBase:
    """The fields every fault has: its id and kind, when it was made, how long and how many
    times it applies, and how many times it was applied."""

    id: str
    kind: str
    created_at: float
    count: int | None = None
    seconds: float | None = None
    applied: int = 0

    def remaining(self) -> int | None:
        return None if self.count is None else max(0, self.count - self.applied)

    def active(self, now: float) -> bool:
        if self.count is not None and self.applied >= self.count:
            return False
        return self.seconds is None or now < self.created_at + self.seconds

    def to_json(self, now: float) -> dict[str, Any]:
        """The fault as shown at ``/_sandbox/faults`` (a platform adds its kinds' fields)."""
        return self.common_json(now)

    def common_json(self, now: float) -> dict[str, Any]:
        """The common fields, first in the fault's JSON."""
        return {
            "id": self.id,
            "kind": self.kind,
            "active": self.active(now),
            "created_at": self.created_at,
            "count": self.count,
            "remaining": self.remaining(),
            "applied": self.applied,
            "seconds": self.seconds,
            "expires_at": None if self.seconds is None else self.created_at + self.seconds,
        }


def check_spec(spec: Any, allowed: Mapping[str, Collection[str]]) -> str:
    """The kind of ``spec``, a JSON object whose fields are all ``allowed`` for its kind
    (``allowed``: kind -> field names, in the order the kinds are listed in errors)."""
    if not isinstance(spec, dict):
        raise FaultSpecError("a fault must be a JSON object")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in allowed:
        raise FaultSpecError(f"kind must be one of {', '.join(allowed)}")
    unknown = set(spec) - set(allowed[kind])
    if unknown:
        raise FaultSpecError(f"unknown field(s) for {kind}: {', '.join(sorted(unknown))}")
    return kind


def number(spec: Mapping[str, Any], key: str, *, integer: bool, minimum: float) -> Any:
    """``spec[key]``: None when absent, else an integer (or any number) >= ``minimum``."""
    value = spec.get(key)
    if value is None:
        return None
    ok_type = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise FaultSpecError(f"{key} must be {kind} >= {minimum:g}")
    return value


def lifetime(spec: Mapping[str, Any]) -> tuple[int | None, float | None]:
    """The common ``count`` (>= 1) and ``seconds`` (>= 0) of ``spec``, None when absent."""
    return (
        number(spec, "count", integer=True, minimum=1),
        number(spec, "seconds", integer=False, minimum=0),
    )


def scope_id(spec: Mapping[str, Any], key: str) -> str | None:
    """``spec[key]``, the id a fault is limited to: None when absent, else a non-empty string."""
    value = spec.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise FaultSpecError(f"{key} must be a non-empty string")
    return value


def flag(spec: Mapping[str, Any], key: str) -> bool:
    """``spec[key]``: true or false (false when absent)."""
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise FaultSpecError(f"{key} must be true or false")
    return value


def server_status(spec: Mapping[str, Any], default: int = 500) -> int:
    """A ``server_error`` fault's ``status``: a 5xx code (``default`` when absent)."""
    status: int = number(spec, "status", integer=True, minimum=500) or default
    if status > 599:
        raise FaultSpecError("status must be a 5xx code")
    return status


def retry_after(spec: Mapping[str, Any], *, default: int, minimum: int = 1) -> int:
    """A ``throttle`` fault's ``retry_after`` in seconds, >= ``minimum`` (``default`` when
    absent)."""
    value = number(spec, "retry_after", integer=True, minimum=minimum)
    return default if value is None else int(value)


def delay(spec: Mapping[str, Any]) -> float:
    """A ``timeout`` fault's ``delay`` in seconds (default :data:`DEFAULT_DELAY`)."""
    value = number(spec, "delay", integer=False, minimum=0)
    return DEFAULT_DELAY if value is None else float(value)


def token(spec: Mapping[str, Any]) -> str | None:
    """The digest of an ``expired_token`` fault's ``token`` (None: every token)."""
    value = spec.get("token")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise FaultSpecError("token must be a non-empty string")
    return token_digest(value)


def id_set(spec: Mapping[str, Any], key: str) -> frozenset[str]:
    """``spec[key]``: a non-empty array of ids (strings, or integers taken as strings)."""
    ids = spec.get(key)
    if (
        not isinstance(ids, list)
        or not ids
        or not all(isinstance(e, str | int) and not isinstance(e, bool) for e in ids)
    ):
        raise FaultSpecError(f"{key} must be a non-empty array of strings")
    return frozenset(str(e) for e in ids)


def first_named(ids: frozenset[str], sent: Sequence[str | None]) -> int | None:
    """The index of the first of ``sent`` that is in ``ids``, or None."""
    for i, value in enumerate(sent):
        if value is not None and value in ids:
            return i
    return None


def kind_matches(
    kind: str,
    fault_token: str | None,
    token_sha256: str | None,
    named: frozenset[str],
    sent: Sequence[str | None],
) -> bool:
    """Whether a fault in scope of a request applies to it by its kind: an ``expired_token``
    one to its token's digest (every token when None), an ``invalid_event`` one when ``sent``
    holds an id it ``named``, any other always."""
    if kind == "expired_token":
        return fault_token is None or fault_token == token_sha256
    if kind == "invalid_event":
        return first_named(named, sent) is not None
    return True


def shared_fault(
    kind: str,
    event_ids: Sequence[str],
    count: int | None,
    *,
    expired: str = "expired_token",
    ids_field: str = "event_ids",
) -> dict[str, Any]:
    """A fault by the name the conformance suite gives it (``server_error``, ``throttle``,
    ``expired_credential``: the kind ``expired``, ``invalid_event``: ``event_ids`` under
    ``ids_field``) as a sandbox's ``POST /_sandbox/faults`` body."""
    spec: dict[str, Any] = {"kind": expired if kind == "expired_credential" else kind}
    if kind == "invalid_event":
        spec[ids_field] = list(event_ids)
    if count is not None:
        spec["count"] = count
    return spec


F = TypeVar("F", bound=FaultBase)


class FaultBook(Generic[F]):
    """The injected faults, in creation order, at most :data:`MAX_FAULTS`. Safe to use from
        several threads. ``parse(spec, fault_id, now)`` makes one of the platform's faults from
    its JSON, or raises :class:`FaultSpecError`."""

    def __init__(self, parse: Callable[[Any, str, float], F]) -> None:
        self._parse = parse
        self._faults: list[F] = []
        self._next = 1
        self._lock = threading.Lock()

    def add(self, spec: Any, now: float) -> F:
        """Add one fault from its JSON description. Raises :class:`FaultSpecError`."""
        return self.add_many([spec], now, numbered=False)[0]

    def add_many(self, specs: list[Any], now: float, *, numbered: bool = True) -> list[F]:
        """Add several faults, all or none. Raises :class:`FaultSpecError` (naming the
        index of the bad one when ``numbered``)."""
        with self._lock:
            if len(self._faults) + len(specs) > MAX_FAULTS:
                raise FaultSpecError(f"at most {MAX_FAULTS} faults; DELETE some first")
            added: list[F] = []
            for i, spec in enumerate(specs):
                try:
                    added.append(self._parse(spec, f"f{self._next + i}", now))
                except FaultSpecError as exc:
                    raise FaultSpecError(f"faults[{i}]: {exc}" if numbered else str(exc)) from None
            self._next += len(specs)
            self._faults.extend(added)
            return added

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) < before

    def clear(self) -> int:
        """Remove every fault; how many there were."""
        with self._lock:
            removed = len(self._faults)
            self._faults.clear()
            return removed

    def __len__(self) -> int:
        return len(self._faults)

    def get(self, fault_id: str) -> F | None:
        with self._lock:
            return next((f for f in self._faults if f.id == fault_id), None)

    def faults(self) -> list[F]:
        with self._lock:
            return list(self._faults)

    def first(self, now: float, matches: Callable[[F], bool]) -> F | None:
        """The first active fault that ``matches`` a request, with one use consumed."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.active(now) and matches(fault):
                    fault.applied += 1
                    return fault
        return None
