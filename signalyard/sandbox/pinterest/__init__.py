"""Pinterest sandbox: a faithful local emulator of Pinterest's Conversions API endpoint
(``POST /v5/ad_accounts/{ad_account_id}/events``), the test double of a Pinterest sink and a
place for users to test their setup before going live. See :mod:`.app` for the routes and
``docs/sandbox-pinterest.md``.
"""

from __future__ import annotations

from ..spec import SandboxSpec
from . import conformance
from .app import create_app
from .recorder import RecordedEvent, RequestRecord, SandboxState

__all__ = ["SPEC", "RecordedEvent", "RequestRecord", "SandboxState", "create_app"]

SPEC = SandboxSpec(
    "pinterest",
    "Pinterest Conversions API",
    create_app,
    SandboxState,
    conformance.fault,
    conformance.received,
)
