"""The words every sandbox shares, for the conformance suite that every registered platform
runs (tests/sinks/test_conformance.py): a fault by its common name as this sandbox's own
``POST /_sandbox/faults`` body, and the ids of the events this sandbox accepted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..faults_common import shared_fault
from .recorder import SandboxState

__all__ = ["fault", "received"]


def fault(kind: str, *, event_ids: Sequence[str] = (), count: int | None = None) -> dict[str, Any]:
    """``kind``: ``server_error``, ``throttle``, ``expired_credential`` (every credential),
    or ``invalid_event`` (a request holding one of ``event_ids`` refused, naming it)."""
    return shared_fault(kind, event_ids, count)


def received(state: SandboxState) -> list[str]:
    """The event ids accepted and kept (not deduplicated), oldest first."""
    return [
        str(e.event_id)
        for e in reversed(state.events(status="accepted", dedup="kept"))
        if e.event_id
    ]
