"""Reddit sandbox: a faithful local emulator of Reddit's Conversions API v2.0
(``POST /api/v2.0/conversions/events/{ad_account_id}``), the test double of a Reddit sink
and a place for users to test their setup before going live. See :mod:`.app` for the routes
and ``docs/sandbox-reddit.md``.
"""

from __future__ import annotations

from ..spec import SandboxSpec
from . import conformance
from .app import create_app
from .recorder import RecordedEvent, RequestRecord, SandboxState

__all__ = ["SPEC", "RecordedEvent", "RequestRecord", "SandboxState", "create_app"]

SPEC = SandboxSpec(
    "reddit",
    "Reddit Conversions API",
    create_app,
    SandboxState,
    conformance.fault,
    conformance.received,
)
