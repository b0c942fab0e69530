"""The words every sandbox shares, for the conformance suite that every registered platform
runs (tests/sinks/test_conformance.py): a fault by its common name as this sandbox's own
``POST /_sandbox/faults`` body, and the ids of the events this sandbox accepted.

GA4 has no credential error: a revoked API secret still gets 204 and its events are dropped
without a word (the ``revoked_secret`` fault). The suite's ``expired_credential`` is
therefore the one refusal a sender can see, a proxy's 401/403 in front of GA4
(``proxy_denied``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..faults_common import shared_fault
from .recorder import SandboxState

__all__ = ["fault", "received"]


def fault(kind: str, *, event_ids: Sequence[str] = (), count: int | None = None) -> dict[str, Any]:
    """``kind``: ``server_error``, ``throttle``, ``expired_credential`` or ``invalid_event``
    (an event whose ``event_id`` param is one of ``event_ids`` breaks a rule)."""
    return shared_fault(kind, event_ids, count, expired="proxy_denied")


def received(state: SandboxState) -> list[str]:
    """The ``event_id`` params of the events ``/mp/collect`` accepted, oldest first."""
    return [str(e.event_id) for e in reversed(state.events(status="accepted")) if e.event_id]
