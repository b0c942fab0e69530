"""Meta sandbox: a faithful local emulator of Meta's Conversions API endpoint.

Signalyard's default destination on a fresh install (users test their setup before going
live) and the test double of ``signalyard.sinks.meta``. See :mod:`.app` for the routes.
"""

from __future__ import annotations

from ..spec import SandboxSpec
from . import conformance
from .app import create_app
from .recorder import RecordedEvent, RequestRecord, SandboxState

__all__ = ["SPEC", "RecordedEvent", "RequestRecord", "SandboxState", "create_app"]

SPEC = SandboxSpec(
    "meta",
    "Meta Conversions API",
    create_app,
    SandboxState,
    conformance.fault,
    conformance.received,
)
