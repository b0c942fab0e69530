"""Fault injection: make the sandbox fail the way LinkedIn fails, on purpose.

A fault is created with ``POST /_sandbox/faults`` (or :meth:`FaultBook.add`) from JSON like::

    {"kind": "server_error", "status": 503, "count": 2}
    {"kind": "timeout", "delay": 0.2}
    {"kind": "throttle", "retry_after": 60}
    {"kind": "expired_token", "token": "AQV...", "revoked": true}
    {"kind": "invalid_event", "event_ids": ["order-17"]}
    {"kind": "invalid_event", "event_ids": ["order-17"], "whole": true}

Kinds
    ``server_error``   HTTP ``status`` (500 default, any 5xx) with LinkedIn's JSON body.
                       Nothing is recorded.
    ``timeout``        the events are taken and recorded, then the answer is delayed by
                       ``delay`` seconds (default 30) so the client times out; a retry of the
                       same events is then deduplicated by ``eventId``.
    ``throttle``       HTTP 429 ``TOO_MANY_REQUESTS``, with ``Retry-After: retry_after``
                       seconds when given.
    ``expired_token``  ``token`` (or every token if absent) gets 401
                       ``EXPIRED_ACCESS_TOKEN`` (``"revoked": true``: ``REVOKED_ACCESS_TOKEN``)
                       until the fault goes; another token works.
    ``invalid_event``  the elements whose ``eventId`` is in ``event_ids`` are refused in the
                       batch answer (their own ``status`` 400), the others taken; with
                       ``"whole": true`` the request is refused whole with a 400 naming the
                       first such element's path (``/elements/<i>/eventId``).

Common fields: ``count`` (requests the fault applies to; default unlimited), ``seconds``
(active that long from creation, on the injected clock), ``conversion_rule_id`` (only
requests to that rule, or reads of it). Faults are tried in creation order; the first active
one that matches a request is applied (and its ``count`` consumed). Tokens are kept as SHA-256
digests only.
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

_COMMON = {"kind", "count", "seconds", "conversion_rule_id"}
_ALLOWED: dict[str, set[str]] = {
    "server_error": _COMMON | {"status"},
    "timeout": _COMMON | {"delay"},
    "throttle": _COMMON | {"retry_after"},
    "expired_token": _COMMON | {"token", "revoked"},
    "invalid_event": _COMMON | {"event_ids", "whole"},
}


@dataclass(slots=True)
class Fault(FaultBase):
    kind: FaultKind
    conversion_rule_id: str | None = None
    status: int = 500
    delay: float = 30.0
    retry_after: int = 0
    token_sha256: str | None = None
    revoked: bool = False
    event_ids: frozenset[str] = field(default_factory=frozenset)
    whole: bool = False

    def matches(
        self,
        rule_ids: Sequence[str | None],
        token_sha256: str | None,
        event_ids: Sequence[str | None],
    ) -> bool:
        if self.conversion_rule_id is not None and self.conversion_rule_id not in rule_ids:
            return False
        return common.kind_matches(
            self.kind, self.token_sha256, token_sha256, self.event_ids, event_ids
        )

    def names(self, event_id: str | None) -> bool:
        """Whether this (``invalid_event``) fault names ``event_id``."""
        return event_id is not None and event_id in self.event_ids

    def to_json(self, now: float) -> dict[str, Any]:
        out = self.common_json(now)
        out["conversion_rule_id"] = self.conversion_rule_id
        if self.kind == "server_error":
            out["status"] = self.status
        if self.kind == "timeout":
            out["delay"] = self.delay
        if self.kind == "throttle":
            out["retry_after"] = self.retry_after
        if self.kind == "expired_token":
            out["token_sha256_prefix"] = digest_prefix(self.token_sha256)
            out["revoked"] = self.revoked
        if self.kind == "invalid_event":
            out["event_ids"] = sorted(self.event_ids)
            out["whole"] = self.whole
        return out


def parse_fault(spec: Any, fault_id: str, now: float) -> Fault:
    """Build a :class:`Fault` from its JSON description. Raises :class:`FaultSpecError`."""
    kind = common.check_spec(spec, _ALLOWED)
    rule = spec.get("conversion_rule_id")
    if isinstance(rule, int) and not isinstance(rule, bool):
        rule = str(rule)
    if rule is not None and (not isinstance(rule, str) or not rule.isdigit()):
        raise FaultSpecError("conversion_rule_id must be the rule's numeric id")
    count, seconds = common.lifetime(spec)
    fault = Fault(
        id=fault_id,
        kind=cast(FaultKind, kind),
        created_at=now,
        count=count,
        seconds=seconds,
        conversion_rule_id=rule,
    )
    if kind == "server_error":
        fault.status = common.server_status(spec)
    elif kind == "timeout":
        fault.delay = common.delay(spec)
    elif kind == "throttle":
        fault.retry_after = common.retry_after(spec, default=0, minimum=0)
    elif kind == "expired_token":
        fault.token_sha256 = common.token(spec)
        fault.revoked = common.flag(spec, "revoked")
    else:
        fault.event_ids = common.id_set(spec, "event_ids")
        fault.whole = common.flag(spec, "whole")
    return fault


class FaultBook(common.FaultBook[Fault]):
    """LinkedIn's faults, in creation order
    (:class:`~signalyard.sandbox.faults_common.FaultBook`)."""

    def __init__(self) -> None:
        super().__init__(parse_fault)

    def take(
        self,
        *,
        rule_ids: Sequence[str | None],
        token_sha256: str | None,
        event_ids: Sequence[str | None],
        now: float,
    ) -> Fault | None:
        """The first active fault matching this request, with one use consumed."""
        return self.first(now, lambda f: f.matches(rule_ids, token_sha256, event_ids))
