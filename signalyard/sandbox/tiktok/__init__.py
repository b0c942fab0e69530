"""TikTok sandbox: a faithful local emulator of TikTok's Events API 2.0 endpoint
(``POST /open_api/v1.3/event/track/``), the test double of a TikTok sink and a place for
users to test their setup before going live. See :mod:`.app` for the routes and
``docs/sandbox-tiktok.md``.
"""

from __future__ import annotations

from ..spec import SandboxSpec
from . import conformance
from .app import create_app
from .recorder import RecordedEvent, RequestRecord, SandboxState

__all__ = ["SPEC", "RecordedEvent", "RequestRecord", "SandboxState", "create_app"]

SPEC = SandboxSpec(
    "tiktok",
    "TikTok Events API",
    create_app,
    SandboxState,
    conformance.fault,
    conformance.received,
)
