"""GA4 sandbox: a faithful local emulator of Google Analytics 4's Measurement Protocol
(``POST /mp/collect``, 204 to everything) and its validation server (``POST
/debug/mp/collect``), the test double of a GA4 sink and a place for users to test their
setup before going live. See :mod:`.app` for the routes and ``docs/sandbox-ga4.md``.
"""

from __future__ import annotations

from ..spec import SandboxSpec
from . import conformance
from .app import create_app
from .recorder import RecordedEvent, RequestRecord, SandboxState

__all__ = ["SPEC", "RecordedEvent", "RequestRecord", "SandboxState", "create_app"]

SPEC = SandboxSpec(
    "ga4",
    "GA4 Measurement Protocol",
    create_app,
    SandboxState,
    conformance.fault,
    conformance.received,
)
