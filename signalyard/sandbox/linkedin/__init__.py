"""LinkedIn sandbox: a faithful local emulator of LinkedIn's Conversions API
(``POST /rest/conversionEvents``, ``GET /rest/conversions/{id}``), the test double of a
LinkedIn sink and a place for users to test their setup before going live. See :mod:`.app`
for the routes and ``docs/sandbox-linkedin.md``.
"""

from __future__ import annotations

from ..spec import SandboxSpec
from . import conformance
from .app import create_app
from .recorder import RecordedEvent, RequestRecord, SandboxState

__all__ = ["SPEC", "RecordedEvent", "RequestRecord", "SandboxState", "create_app"]

SPEC = SandboxSpec(
    "linkedin",
    "LinkedIn Conversions API",
    create_app,
    SandboxState,
    conformance.fault,
    conformance.received,
)
