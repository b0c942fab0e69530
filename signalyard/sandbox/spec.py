"""What a sandbox declares about itself: its :class:`SandboxSpec`, the one value a platform's
sandbox folder exports (``SPEC`` in ``sandbox/<platform>/__init__.py``) and the registry
(:mod:`signalyard.sandbox.registry`) lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

__all__ = ["SandboxSpec"]


@dataclass(frozen=True, slots=True)
class SandboxSpec:
    kind: str
    """The destination kind it emulates (its mount path's last segment)."""
    title: str
    """The platform's endpoint, for messages: "Meta Conversions API"."""
    create_app: Callable[..., Starlette]
    """``create_app(*, state, clock, max_body_bytes, bodies)``: the platform's routes and the
    ``/_sandbox`` control routes."""
    new_state: Callable[..., Any]
    """``SandboxState(max_events=..., max_bytes=..., max_dedup_keys=...)``: fresh, bounded
    recordings."""
    fault: Callable[..., dict[str, Any]]
    """``fault(kind, *, event_ids=(), count=None)``: a fault by the name every sandbox shares
    (``server_error``, ``throttle``, ``expired_credential``, ``invalid_event``) as this
    sandbox's own ``POST /_sandbox/faults`` body (``state.faults.add`` takes it too)."""
    received: Callable[[Any], list[str]]
    """The ids of the events a state accepted and kept, oldest first."""
