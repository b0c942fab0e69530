"""Fault injection: make the sandbox fail the way Reddit fails, on purpose.

A fault is created with ``POST /_sandbox/faults`` (or :meth:`FaultBook.add`) from JSON like::

    {"kind": "server_error", "status": 503, "count": 2}
    {"kind": "timeout", "delay": 0.2, "ad_account_id": "a2_abc123"}
    {"kind": "throttle", "retry_after": 60}
    {"kind": "expired_token", "token": "..."}
    {"kind": "invalid_event", "conversion_ids": ["order-17"]}

Kinds
    ``server_error``   HTTP ``status`` (500 default, any 5xx) with ``{"error": {"code",
                       "message"}}``. Nothing is recorded.
    ``timeout``        the events are accepted and recorded, then the answer is delayed by
                       ``delay`` seconds (default 30) so the client times out; a retry of the
                       same events is then deduplicated.
    ``throttle``       HTTP 429 with ``Retry-After: retry_after`` (default 60 s).
    ``expired_token``  ``token`` (or every token if absent) gets HTTP 401 ``UNAUTHORIZED``
                       until the fault goes; another token works.
    ``invalid_event``  a request holding an event whose ``event_metadata.conversion_id`` is
                       in ``conversion_ids`` is refused whole with HTTP 400, that event in
                       ``invalid_events`` (as Reddit refuses an invalid event).

Common fields: ``count`` (requests the fault applies to; default unlimited), ``seconds``
(active that long from creation, on the injected clock), ``ad_account_id`` (only requests
to that account). Faults are tried in creation order; the first active one that matches a
request is applied (and its ``count`` consumed). Tokens are kept as SHA-256 digests only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .. import faults_common as common
from ..digest import digest_prefix
from ..faults_common import FaultBase, FaultSpecError

__all__ = ["KINDS", "Fault", "FaultBook", "FaultKind", "FaultSpecError", "parse_fault"]

FaultKind = Literal["server_error", "timeout", "throttle", "expired_token", "invalid_event"]
KINDS: tuple[str, ...] = ("server_error", "timeout", "throttle", "expired_token", "invalid_event")
MAX_FAULT_IDS = 1000

_COMMON = {"kind", "count", "seconds", "ad_account_id"}
_ALLOWED: dict[str, set[str]] = {
    "server_error": _COMMON | {"status"},
    "timeout": _COMMON | {"delay"},
    "throttle": _COMMON | {"retry_after"},
    "expired_token": _COMMON | {"token"},
    "invalid_event": _COMMON | {"conversion_ids"},
}


@dataclass(slots=True)
class Fault(FaultBase):
    kind: FaultKind
    ad_account_id: str | None = None
    status: int = 500
    delay: float = 30.0
    retry_after: int = 60
    token_sha256: str | None = None
    conversion_ids: frozenset[str] = field(default_factory=frozenset)

    def matches(
        self,
        ad_account_id: str | None,
        token_sha256: str | None,
        conversion_ids: Sequence[str | None],
    ) -> bool:
        if self.ad_account_id is not None and self.ad_account_id != ad_account_id:
            return False
        return common.kind_matches(
            self.kind, self.token_sha256, token_sha256, self.conversion_ids, conversion_ids
        )

    def names(self, conversion_id: str | None) -> bool:
        """Whether this (``invalid_event``) fault names ``conversion_id``."""
        return conversion_id is not None and conversion_id in self.conversion_ids

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
            out["conversion_ids"] = sorted(self.conversion_ids)
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
        ids = common.id_set(spec, "conversion_ids")
        if len(ids) > MAX_FAULT_IDS:
            raise FaultSpecError(f"conversion_ids holds at most {MAX_FAULT_IDS} ids")
        fault.conversion_ids = ids
    return fault


class FaultBook(common.FaultBook[Fault]):
    """Reddit's faults, in creation order (:class:`~signalyard.sandbox.faults_common.FaultBook`)."""

    def __init__(self) -> None:
        super().__init__(parse_fault)

    def take(
        self,
        *,
        ad_account_id: str | None,
        token_sha256: str | None,
        conversion_ids: Sequence[str | None],
        now: float,
    ) -> Fault | None:
        """The first active fault matching this request, with one use consumed."""
        return self.first(now, lambda f: f.matches(ad_account_id, token_sha256, conversion_ids))
