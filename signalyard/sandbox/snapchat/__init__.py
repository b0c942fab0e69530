"""Snapchat sandbox: a faithful local emulator of Snap's Conversions API v3
(``POST /v3/{asset_id}/events`` and its ``/events/validate`` test twin), the test double of a
Snapchat sink and a place for users to test their setup before going live. See :mod:`.app`
for the routes and ``docs/sandbox-snapchat.md``.
"""

from __future__ import annotations

from ..spec import SandboxSpec
from . import conformance
from .app import create_app
from .recorder import RecordedEvent, RequestRecord, SandboxState

__all__ = ["SPEC", "RecordedEvent", "RequestRecord", "SandboxState", "create_app"]

SPEC = SandboxSpec(
    "snapchat",
    "Snapchat Conversions API",
    create_app,
    SandboxState,
    conformance.fault,
    conformance.received,
)
