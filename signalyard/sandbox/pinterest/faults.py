"""Fault injection: make the sandbox fail the way Pinterest fails, on purpose.

A fault is created with ``POST /_sandbox/faults`` (or :meth:`FaultBook.add`) from JSON like::

    {"kind": "server_error", "status": 503, "count": 2}
    {"kind": "timeout", "delay": 0.2, "ad_account_id": "549755885175"}
    {"kind": "throttle", "retry_after": 30}
    {"kind": "expired_token", "token": "pina_..."}
    {"kind": "invalid_event", "event_ids": ["order-17"]}

Kinds
    ``server_error``   HTTP ``status`` (500 default, any 5xx) with Pinterest's JSON error body
                       (503: "The endpoint has been ramped down..."). Nothing is recorded.
    ``timeout``        the events are processed and recorded, then the answer is delayed by
                       ``delay`` seconds (default 30) so the client times out; a web event
                       sent again is then deduplicated.
    ``throttle``       HTTP 429 with ``Retry-After: retry_after`` (default 60).
    ``expired_token``  ``token`` (or every token if absent) gets HTTP 401 ``Authentication
                       failed.`` until the fault goes; another token works.
    ``invalid_event``  the events whose ``event_id`` is in ``event_ids`` fail (``status:
                       "failed"`` in the 200 answer), the others are processed: Pinterest
                       answers each event on its own.

Common fields: ``count`` (requests the fault applies to; default unlimited), ``seconds``
(active that long from creation, on the injected clock), ``ad_account_id`` (only requests to
that ad account). Faults are tried in creation order; the first active one that matches a
request is applied (and its ``count`` consumed). Tokens are kept as SHA-256 digests only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .. import faults_common as common
from ..digest import digest_prefix
from ..faults_common import FaultBase, FaultSpecError

__all__ = ["KINDS", "Fault", "FaultBook", "FaultSpecError", "parse_fault"]

FaultKind = Literal["server_error", "timeout", "throttle", "expired_token", "invalid_event"]
KINDS: tuple[str, ...] = ("server_error", "timeout", "throttle", "expired_token", "invalid_event")

_COMMON = {"kind", "count", "seconds", "ad_account_id"}
_ALLOWED: dict[str, set[str]] = {
    "server_error": _COMMON | {"status"},
    "timeout": _COMMON | {"delay"},
    "throttle": _COMMON | {"retry_after"},
    "expired_token": _COMMON | {"token"},
    "invalid_event": _COMMON | {"event_ids"},
}


@dataclass(slots=True)
class Fault(FaultBase):
    kind: FaultKind
    ad_account_id: str | None = None
    status: int = 500
    delay: float = 30.0
    retry_after: int = 60
    token_sha256: str | None = None
    event_ids: frozenset[str] = field(default_factory=frozenset)

    def matches(
        self, ad_account_id: str | None, token_sha256: str | None, event_ids: Sequence[str | None]
    ) -> bool:
        if self.ad_account_id is not None and self.ad_account_id != ad_account_id:
            return False
        return common.kind_matches(
            self.kind, self.token_sha256, token_sha256, self.event_ids, event_ids
        )

    def names(self, event_id: str | None) -> bool:
        """Whether this (``invalid_event``) fault names ``event_id``."""
        return event_id is not None and event_id in self.event_ids

    def to_json(self, now: float) -> dict[str, Any]:
        out = self.common_json(now)
        out["ad_account_id"] = self.ad_account_id
        if self.kind == "server_error":
            out["status"] = self.status
        if self.kind == "timeout":
            out["delay"] = self.delay
        if self.kind == "throttle":
            out["retry_after"] = self.retry_after
        if self.kind == "expired_token":
            out["token_sha256_prefix"] = digest_prefix(self.token_sha256)
        if self.kind == "invalid_event":
            out["event_ids"] = sorted(self.event_ids)
        return out


def parse_fault(spec: Any, fault_id: str, now: float) -> Fault:
    """Build a :class:`Fault` from its JSON description. Raises :class:`FaultSpecError`."""
    kind = common.check_spec(spec, _ALLOWED)
    account = common.scope_id(spec, "ad_account_id")
    count, seconds = common.lifetime(spec)
    fault = Fault(
        id=fault_id,
        kind=cast(FaultKind, kind),
        created_at=now,
        count=count,
        seconds=seconds,
        ad_account_id=account,
    )
    if kind == "server_error":
        fault.status = common.server_status(spec)
    elif kind == "timeout":
        fault.delay = common.delay(spec)
    elif kind == "throttle":
        fault.retry_after = common.retry_after(spec, default=60)
    elif kind == "expired_token":
        fault.token_sha256 = common.token(spec)
    else:
        fault.event_ids = common.id_set(spec, "event_ids")
    return fault


class FaultBook(common.FaultBook[Fault]):
    """Pinterest's faults, in creation order (:class:`~signalyard.sandbox.faults_common.
    FaultBook`)."""

    def __init__(self) -> None:
        super().__init__(parse_fault)

    def take(
        self,
        *,
        ad_account_id: str | None,
        token_sha256: str | None,
        event_ids: Sequence[str | None],
        now: float,
    ) -> Fault | None:
        """The first active fault matching this request, with one use consumed."""
        return self.first(now, lambda f: f.matches(ad_account_id, token_sha256, event_ids))
