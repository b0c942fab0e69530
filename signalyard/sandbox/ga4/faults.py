"""Fault injection: make the sandbox fail the way GA4 (or what stands in front of it) fails.

A fault is created with ``POST /_sandbox/faults`` (or :meth:`FaultBook.add`) from JSON like::

    {"kind": "server_error", "status": 503, "count": 2}
    {"kind": "throttle", "retry_after": 30}
    {"kind": "revoked_secret"}
    {"kind": "proxy_denied", "status": 401}
    {"kind": "invalid_event", "event_ids": ["order-17"]}

Kinds
    ``server_error``    HTTP ``status`` (500 default, any 5xx) with Google's HTML error page;
                        nothing is recorded.
    ``throttle``        429 with Google's HTML page and ``Retry-After`` (``retry_after``
                        seconds, default 30). GA4 documents no rate limit for the
                        Measurement Protocol; this is what Google's front end answers when it
                        sheds load.
    ``revoked_secret``  what a deleted or wrong API secret really gives: ``/mp/collect``
                        still answers 204 and drops every event (recorded as ``dropped``,
                        "api_secret not valid for the stream"); the validation server does
                        not check secrets and is not affected. No sink can hear of it.
    ``proxy_denied``    401 or 403 (``status``, default 403) from a proxy or gateway in front
                        of GA4, on both endpoints: GA4 has no credential error of its own, so
                        this is the only "expired credential" a sender can see, and the one
                        the conformance suite's ``expired_credential`` maps to.
    ``invalid_event``   an event whose ``event_id`` param is in ``event_ids`` breaks a rule:
                        the validation server names it (``VALUE_INVALID``), ``/mp/collect``
                        drops it silently.

Common fields: ``count`` (requests the fault applies to; default unlimited), ``seconds``
(active that long from creation, on the injected clock), ``measurement_id`` (only requests
to that stream), ``endpoint`` (``collect`` or ``debug``; default both). Faults are tried in
creation order; the first active one that matches a request is applied (and its ``count``
consumed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .. import faults_common as common
from ..faults_common import FaultBase, FaultSpecError, number

__all__ = ["KINDS", "Fault", "FaultBook", "FaultSpecError", "parse_fault"]

FaultKind = Literal["server_error", "throttle", "revoked_secret", "proxy_denied", "invalid_event"]
KINDS: tuple[str, ...] = (
    "server_error",
    "throttle",
    "revoked_secret",
    "proxy_denied",
    "invalid_event",
)
ENDPOINTS = ("collect", "debug")
_COMMON = {"kind", "count", "seconds", "measurement_id", "endpoint"}
_ALLOWED: dict[str, set[str]] = {
    "server_error": _COMMON | {"status"},
    "throttle": _COMMON | {"retry_after"},
    "revoked_secret": _COMMON,
    "proxy_denied": _COMMON | {"status"},
    "invalid_event": _COMMON | {"event_ids"},
}


@dataclass(slots=True)
class Fault(FaultBase):
    kind: FaultKind
    measurement_id: str | None = None
    endpoint: str | None = None
    status: int = 500
    retry_after: int = 30
    event_ids: frozenset[str] = field(default_factory=frozenset)

    def matches(self, measurement_id: str | None, endpoint: str, ids: Sequence[str | None]) -> bool:
        if self.measurement_id is not None and self.measurement_id != measurement_id:
            return False
        if self.endpoint is not None and self.endpoint != endpoint:
            return False
        if self.kind == "revoked_secret" and endpoint == "debug":
            return False  # the validation server does not check secrets
        if self.kind == "invalid_event":
            return common.first_named(self.event_ids, ids) is not None
        return True

    def to_json(self, now: float) -> dict[str, Any]:
        out = self.common_json(now)
        out["measurement_id"] = self.measurement_id
        out["endpoint"] = self.endpoint
        if self.kind in ("server_error", "proxy_denied"):
            out["status"] = self.status
        if self.kind == "throttle":
            out["retry_after"] = self.retry_after
        if self.kind == "invalid_event":
            out["event_ids"] = sorted(self.event_ids)
        return out


def parse_fault(spec: Any, fault_id: str, now: float) -> Fault:
    """Build a :class:`Fault` from its JSON description. Raises :class:`FaultSpecError`."""
    kind = common.check_spec(spec, _ALLOWED)
    measurement_id = common.scope_id(spec, "measurement_id")
    endpoint = spec.get("endpoint")
    if endpoint is not None and endpoint not in ENDPOINTS:
        raise FaultSpecError("endpoint must be collect or debug")
    count, seconds = common.lifetime(spec)
    fault = Fault(
        id=fault_id,
        kind=cast(FaultKind, kind),
        created_at=now,
        count=count,
        seconds=seconds,
        measurement_id=measurement_id,
        endpoint=endpoint,
    )
    if kind == "server_error":
        fault.status = common.server_status(spec)
    elif kind == "throttle":
        fault.retry_after = common.retry_after(spec, default=30, minimum=0)
    elif kind == "proxy_denied":
        fault.status = number(spec, "status", integer=True, minimum=401) or 403
        if fault.status not in (401, 403):
            raise FaultSpecError("status must be 401 or 403")
    elif kind == "invalid_event":
        fault.event_ids = common.id_set(spec, "event_ids")
    return fault


class FaultBook(common.FaultBook[Fault]):
    """GA4's faults, in creation order (:class:`~signalyard.sandbox.faults_common.FaultBook`)."""

    def __init__(self) -> None:
        super().__init__(parse_fault)

    def take(
        self, *, measurement_id: str | None, endpoint: str, event_ids: Sequence[str | None],
        now: float,
    ) -> Fault | None:  # fmt: skip
        """The first active fault matching this request, with one use consumed."""
        return self.first(now, lambda f: f.matches(measurement_id, endpoint, event_ids))
