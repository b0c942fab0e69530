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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .. import faults_common as common
from ..digest import digest_prefix
from ..faults_common import FaultBase, FaultSpecError, number
from .errors import THROTTLE_MESSAGES

__all__ = ["KINDS", "Fault", "FaultBook", "FaultKind", "FaultSpecError", "parse_fault"]

FaultKind = Literal["server_error", "timeout", "throttle", "expired_token", "invalid_event"]
KINDS: tuple[str, ...] = ("server_error", "timeout", "throttle", "expired_token", "invalid_event")

_COMMON = {"kind", "count", "seconds", "dataset_id"}
_ALLOWED: dict[str, set[str]] = {
    "server_error": _COMMON | {"status", "code"},
    "timeout": _COMMON | {"delay"},
    "throttle": _COMMON | {"status", "code", "regain_minutes"},
    "expired_token": _COMMON | {"token"},
    "invalid_event": _COMMON | {"event_ids"},
}


@dataclass(slots=True)
class Fault(FaultBase):
    kind: FaultKind
    dataset_id: str | None = None
    status: int = 400
    code: int = 0
    delay: float = 30.0
    regain_minutes: int = 0
    token_sha256: str | None = None
    event_ids: frozenset[str] = field(default_factory=frozenset)

    def matches(
        self, dataset_id: str, token_sha256: str | None, event_ids: Sequence[str | None]
    ) -> bool:
        if self.dataset_id is not None and self.dataset_id != dataset_id:
            return False
        return common.kind_matches(
            self.kind, self.token_sha256, token_sha256, self.event_ids, event_ids
        )

    def first_invalid(self, event_ids: Sequence[str | None]) -> int | None:
        return common.first_named(self.event_ids, event_ids)

    def to_json(self, now: float) -> dict[str, Any]:
        out = self.common_json(now)
        out["dataset_id"] = self.dataset_id
        if self.kind in ("server_error", "throttle"):
            out["status"] = self.status
            out["code"] = self.code
        if self.kind == "timeout":
            out["delay"] = self.delay
        if self.kind == "throttle":
            out["regain_minutes"] = self.regain_minutes
        if self.kind == "expired_token":
            out["token_sha256_prefix"] = digest_prefix(self.token_sha256)
        if self.kind == "invalid_event":
            out["event_ids"] = sorted(self.event_ids)
        return out


def parse_fault(spec: Any, fault_id: str, now: float) -> Fault:
    """Build a :class:`Fault` from its JSON description. Raises :class:`FaultSpecError`."""
    kind = common.check_spec(spec, _ALLOWED)
    dataset_id = spec.get("dataset_id")
    if dataset_id is not None and not isinstance(dataset_id, str | int):
        raise FaultSpecError("dataset_id must be a string")
    count, seconds = common.lifetime(spec)
    fault = Fault(
        id=fault_id,
        kind=cast(FaultKind, kind),
        created_at=now,
        count=count,
        seconds=seconds,
        dataset_id=None if dataset_id is None else str(dataset_id),
    )
    if kind == "server_error":
        fault.status = common.server_status(spec)
        default_code = 1 if fault.status == 500 else 2
        fault.code = number(spec, "code", integer=True, minimum=1) or default_code
    elif kind == "timeout":
        fault.delay = common.delay(spec)
    elif kind == "throttle":
        fault.status = number(spec, "status", integer=True, minimum=400) or 400
        if fault.status > 599:
            raise FaultSpecError("status must be a 4xx or 5xx code")
        fault.code = number(spec, "code", integer=True, minimum=1) or 17
        if fault.code not in THROTTLE_MESSAGES:
            codes = ", ".join(str(c) for c in sorted(THROTTLE_MESSAGES))
            raise FaultSpecError(f"throttle code must be one of {codes}")
        fault.regain_minutes = number(spec, "regain_minutes", integer=True, minimum=0) or 0
    elif kind == "expired_token":
        fault.token_sha256 = common.token(spec)
    else:
        fault.event_ids = common.id_set(spec, "event_ids")
    return fault


class FaultBook(common.FaultBook[Fault]):
    """Meta's faults, in creation order (:class:`~signalyard.sandbox.faults_common.FaultBook`)."""

    def __init__(self) -> None:
        super().__init__(parse_fault)

    def take(
        self,
        *,
        dataset_id: str,
        token_sha256: str | None,
        event_ids: Sequence[str | None],
        now: float,
    ) -> Fault | None:
        """The first active fault matching this request, with one use consumed."""
        return self.first(now, lambda f: f.matches(dataset_id, token_sha256, event_ids))
