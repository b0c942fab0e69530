"""Fault injection: make the sandbox fail the way TikTok fails, on purpose.

A fault is created with ``POST /_sandbox/faults`` (or :meth:`FaultBook.add`) from JSON like::

    {"kind": "server_error", "status": 502, "count": 2}
    {"kind": "server_error", "status": 500, "json": true}
    {"kind": "timeout", "delay": 0.2, "event_source_id": "CABC123"}
    {"kind": "throttle", "seconds": 60}
    {"kind": "expired_token", "token": "f0e3..."}
    {"kind": "invalid_event", "event_ids": ["order-17"]}
    {"kind": "invalid_event", "event_ids": ["order-17"], "partial": true}

Kinds
    ``server_error``   HTTP ``status`` (502 default, any 5xx) with the front proxy's nginx
                       HTML page, as TikTok was seen to answer; with ``"json": true`` a JSON
                       body with code 50000 instead. Nothing is recorded.
    ``timeout``        the events are accepted and recorded, then the answer is delayed by
                       ``delay`` seconds (default 30) so the client times out; a retry of the
                       same events is then deduplicated.
    ``throttle``       code 40100 ``Too many requests. Please retry in some time.`` with
                       HTTP ``status`` 200 (TikTok's way; 429 may be asked for).
    ``expired_token``  ``token`` (or every token if absent) gets code 40001 (no permission on
                       the event source) until the fault goes; another token works.
    ``invalid_event``  a request holding an event whose ``event_id`` is in ``event_ids`` is
                       refused whole with 40002 naming that event's index; with
                       ``"partial": true`` the named events are refused and the others
                       accepted, in a 20001 partial answer.

Common fields: ``count`` (requests the fault applies to; default unlimited), ``seconds``
(active that long from creation, on the injected clock), ``event_source_id`` (only requests
to that pixel or event set). Faults are tried in creation order; the first active one that
matches a request is applied (and its ``count`` consumed). Tokens are kept as SHA-256
digests only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .. import faults_common as common
from ..digest import digest_prefix
from ..faults_common import FaultBase, FaultSpecError, number

__all__ = ["KINDS", "Fault", "FaultBook", "FaultKind", "FaultSpecError", "parse_fault"]

FaultKind = Literal["server_error", "timeout", "throttle", "expired_token", "invalid_event"]
KINDS: tuple[str, ...] = ("server_error", "timeout", "throttle", "expired_token", "invalid_event")
MAX_FAULT_EVENT_IDS = 1000

_COMMON = {"kind", "count", "seconds", "event_source_id"}
_ALLOWED: dict[str, set[str]] = {
    "server_error": _COMMON | {"status", "json"},
    "timeout": _COMMON | {"delay"},
    "throttle": _COMMON | {"status"},
    "expired_token": _COMMON | {"token"},
    "invalid_event": _COMMON | {"event_ids", "partial"},
}


@dataclass(slots=True)
class Fault(FaultBase):
    kind: FaultKind
    event_source_id: str | None = None
    status: int = 200
    json: bool = False
    delay: float = 30.0
    token_sha256: str | None = None
    event_ids: frozenset[str] = field(default_factory=frozenset)
    partial: bool = False

    def matches(
        self,
        event_source_id: str | None,
        token_sha256: str | None,
        event_ids: Sequence[str | None],
    ) -> bool:
        if self.event_source_id is not None and self.event_source_id != event_source_id:
            return False
        return common.kind_matches(
            self.kind, self.token_sha256, token_sha256, self.event_ids, event_ids
        )

    def names(self, event_id: str | None) -> bool:
        """Whether this (``invalid_event``) fault names ``event_id``."""
        return event_id is not None and event_id in self.event_ids

    def to_json(self, now: float) -> dict[str, Any]:
        out = self.common_json(now)
        out["event_source_id"] = self.event_source_id
        if self.kind in ("server_error", "throttle"):
            out["status"] = self.status
        if self.kind == "server_error":
            out["json"] = self.json
        if self.kind == "timeout":
            out["delay"] = self.delay
        if self.kind == "expired_token":
            out["token_sha256_prefix"] = digest_prefix(self.token_sha256)
        if self.kind == "invalid_event":
            out["event_ids"] = sorted(self.event_ids)
            out["partial"] = self.partial
        return out


def parse_fault(spec: Any, fault_id: str, now: float) -> Fault:
    """Build a :class:`Fault` from its JSON description. Raises :class:`FaultSpecError`."""
    kind = common.check_spec(spec, _ALLOWED)
    source_id = common.scope_id(spec, "event_source_id")
    count, seconds = common.lifetime(spec)
    fault = Fault(
        id=fault_id,
        kind=cast(FaultKind, kind),
        created_at=now,
        count=count,
        seconds=seconds,
        event_source_id=source_id,
    )
    if kind == "server_error":
        fault.status = common.server_status(spec, 502)
        fault.json = common.flag(spec, "json")
    elif kind == "timeout":
        fault.delay = common.delay(spec)
    elif kind == "throttle":
        fault.status = number(spec, "status", integer=True, minimum=200) or 200
        if fault.status not in (200, 429):
            raise FaultSpecError("status must be 200 (TikTok's) or 429")
    elif kind == "expired_token":
        fault.token_sha256 = common.token(spec)
    else:
        event_ids = spec.get("event_ids")
        if (
            not isinstance(event_ids, list)
            or not event_ids
            or len(event_ids) > MAX_FAULT_EVENT_IDS
            or not all(isinstance(e, str) and e for e in event_ids)
        ):
            raise FaultSpecError(
                f"event_ids must be an array of 1 to {MAX_FAULT_EVENT_IDS} non-empty strings"
            )
        fault.event_ids = frozenset(event_ids)
        fault.partial = common.flag(spec, "partial")
    return fault


class FaultBook(common.FaultBook[Fault]):
    """TikTok's faults, in creation order (:class:`~signalyard.sandbox.faults_common.FaultBook`)."""

    def __init__(self) -> None:
        super().__init__(parse_fault)

    def take(
        self,
        *,
        event_source_id: str | None,
        token_sha256: str | None,
        event_ids: Sequence[str | None],
        now: float,
    ) -> Fault | None:
        """The first active fault matching this request, with one use consumed."""
        return self.first(now, lambda f: f.matches(event_source_id, token_sha256, event_ids))
