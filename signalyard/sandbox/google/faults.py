"""Fault injection: make the sandbox fail the way Google fails, on purpose.

A fault is created with ``POST /_sandbox/faults`` (or :meth:`FaultBook.add`) from JSON like::

    {"kind": "server_error", "status": 503, "count": 2}
    {"kind": "timeout", "delay": 0.2}
    {"kind": "throttle", "retry_after": 30, "seconds": 60}
    {"kind": "expired_credential", "refresh_token": "1//0g..."}
    {"kind": "invalid_event", "transaction_ids": ["order-17"]}

Kinds
    ``server_error``        HTTP ``status`` 500 (``INTERNAL``, default), 502/503
                            (``UNAVAILABLE``) or 504 (``DEADLINE_EXCEEDED``) in Google's
                            error model.
    ``timeout``             the request is accepted and recorded, then answered ``delay``
                            seconds late (default 30): a client that retries sends the same
                            transactionIds again, which the dedup view shows.
    ``throttle``            429 ``RESOURCE_EXHAUSTED``; with ``retry_after`` (seconds) a
                            ``Retry-After`` header and a ``google.rpc.RetryInfo`` detail.
    ``expired_credential``  the refresh token (``refresh_token``), the service account
                            (``client_email``) or, with neither, every credential is revoked:
                            ``/token`` answers ``invalid_grant`` and the access tokens issued
                            from it get 401 ``UNAUTHENTICATED`` while the fault is active.
    ``invalid_event``       a request holding an event whose ``transactionId`` is in
                            ``transaction_ids`` is refused whole (400 ``INVALID_ARGUMENT``,
                            reason ``INVALID_EVENT``) naming that event's index.

Common fields: ``count`` (requests the fault applies to; default unlimited), ``seconds``
(active that long from creation, on the injected clock) and ``conversion_action`` (only
requests with a destination of that ``productDestinationId``; not for
``expired_credential``). Faults are tried in creation order; the first active one that matches
a request is applied and its ``count`` consumed. Credentials are kept as digests only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .. import faults_common as common
from ..faults_common import FaultBase, FaultSpecError, number
from .errors import SERVER_ERROR_STATUSES
from .tokens import refresh_credential, service_account_credential

__all__ = ["KINDS", "Fault", "FaultBook", "FaultKind", "FaultSpecError", "Route", "parse_fault"]

FaultKind = Literal["server_error", "timeout", "throttle", "expired_credential", "invalid_event"]
KINDS: tuple[str, ...] = (
    "server_error",
    "timeout",
    "throttle",
    "expired_credential",
    "invalid_event",
)
Route = Literal["token", "ingest"]

_COMMON = {"kind", "count", "seconds"}
_ALLOWED: dict[str, set[str]] = {
    "server_error": _COMMON | {"conversion_action", "status"},
    "timeout": _COMMON | {"conversion_action", "delay"},
    "throttle": _COMMON | {"conversion_action", "retry_after"},
    "expired_credential": _COMMON | {"refresh_token", "client_email"},
    "invalid_event": _COMMON | {"conversion_action", "transaction_ids"},
}


@dataclass(slots=True)
class Fault(FaultBase):
    kind: FaultKind
    conversion_action: str | None = None
    status: int = 500
    delay: float = 30.0
    retry_after: int | None = None
    credential: str | None = None
    credential_label: str | None = None
    transaction_ids: frozenset[str] = field(default_factory=frozenset)

    def revokes(self, credential: str | None) -> bool:
        return self.kind == "expired_credential" and (
            self.credential is None or self.credential == credential
        )

    def matches(
        self,
        route: Route,
        credential: str | None,
        conversion_actions: Sequence[str],
        transaction_ids: Sequence[str | None],
    ) -> bool:
        if self.kind == "expired_credential":
            return self.revokes(credential)
        if route != "ingest":
            return False
        if self.conversion_action is not None and self.conversion_action not in conversion_actions:
            return False
        if self.kind == "invalid_event":
            return self.first_invalid(transaction_ids) is not None
        return True

    def first_invalid(self, transaction_ids: Sequence[str | None]) -> int | None:
        return common.first_named(self.transaction_ids, transaction_ids)

    def to_json(self, now: float) -> dict[str, Any]:
        out = self.common_json(now)
        if self.kind != "expired_credential":
            out["conversion_action"] = self.conversion_action
        if self.kind == "server_error":
            out["status"] = self.status
        elif self.kind == "timeout":
            out["delay"] = self.delay
        elif self.kind == "throttle":
            out["retry_after"] = self.retry_after
        elif self.kind == "expired_credential":
            out["credential"] = self.credential_label or "every credential"
        else:
            out["transaction_ids"] = sorted(self.transaction_ids)
        return out


def _text(spec: dict[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise FaultSpecError(f"{key} must be a non-empty string")
    return str(value)


def _credential(fault: Fault, spec: dict[str, Any]) -> None:
    refresh_token = _text(spec, "refresh_token")
    client_email = _text(spec, "client_email")
    if refresh_token is not None and client_email is not None:
        raise FaultSpecError("give refresh_token or client_email, not both")
    if refresh_token is not None:
        fault.credential = refresh_credential(refresh_token)
        fault.credential_label = f"refresh token sha256:{fault.credential[:12]}"
    elif client_email is not None:
        fault.credential = service_account_credential(client_email)
        fault.credential_label = f"service account {client_email[:128]}"


def parse_fault(spec: Any, fault_id: str, now: float) -> Fault:
    """Build a :class:`Fault` from its JSON description. Raises :class:`FaultSpecError`."""
    kind = common.check_spec(spec, _ALLOWED)
    count, seconds = common.lifetime(spec)
    fault = Fault(
        id=fault_id,
        kind=cast(FaultKind, kind),
        created_at=now,
        count=count,
        seconds=seconds,
        conversion_action=_text(spec, "conversion_action"),
    )
    if kind == "server_error":
        fault.status = number(spec, "status", integer=True, minimum=500) or 500
        if fault.status not in SERVER_ERROR_STATUSES:
            codes = ", ".join(str(s) for s in SERVER_ERROR_STATUSES)
            raise FaultSpecError(f"status must be one of {codes}")
    elif kind == "timeout":
        fault.delay = common.delay(spec)
    elif kind == "throttle":
        fault.retry_after = number(spec, "retry_after", integer=True, minimum=0)
    elif kind == "expired_credential":
        _credential(fault, spec)
    else:
        fault.transaction_ids = common.id_set(spec, "transaction_ids")
    return fault


class FaultBook(common.FaultBook[Fault]):
    """Google's faults, in creation order (:class:`~signalyard.sandbox.faults_common.FaultBook`)."""

    def __init__(self) -> None:
        super().__init__(parse_fault)

    def take(
        self,
        route: Route,
        *,
        now: float,
        credential: str | None,
        conversion_actions: Sequence[str] = (),
        transaction_ids: Sequence[str | None] = (),
    ) -> Fault | None:
        """The first active fault matching this request, with one use consumed."""
        return self.first(
            now, lambda f: f.matches(route, credential, conversion_actions, transaction_ids)
        )
