"""Google sandbox: a faithful local emulator of the Google Data Manager API
(``events:ingest``, ``requestStatus:retrieve``), of Google's OAuth 2.0 token endpoint, and of
the Google Ads API reporting its claims are read from (``googleAds:searchStream``,
:mod:`.reporting`).

The test double of a Google sink and a destination users test against before going live.
See :mod:`.app` for the routes and ``docs/sandbox-google.md``.
"""

from __future__ import annotations

from ..spec import SandboxSpec
from . import conformance
from .app import create_app
from .errors import GoogleError
from .recorder import RecordedEvent, RequestRecord, SandboxState
from .validate import CheckedRequest, check_payload

__all__ = [
    "SPEC",
    "CheckedRequest",
    "GoogleError",
    "RecordedEvent",
    "RequestRecord",
    "SandboxState",
    "check_payload",
    "create_app",
]

SPEC = SandboxSpec(
    "google",
    "Google Data Manager API",
    create_app,
    SandboxState,
    conformance.fault,
    conformance.received,
)
