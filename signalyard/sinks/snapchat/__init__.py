"""Snapchat Conversions API v3: ``POST {api_url}/v3/{pixel_id}/events?access_token=...``; its
claims from Snap's Marketing API (``GET {ads_api_url}/v1/adaccounts/{id}/stats``,
:mod:`signalyard.sinks.snapchat.reporting`)."""

from __future__ import annotations

from signalyard.sinks.snapchat.attribution import CLICK_WINDOWS
from signalyard.sinks.snapchat.classify import INVALID
from signalyard.sinks.snapchat.config import (
    API_VERSION,
    MAX_AGE_SECONDS,
    SECRET_FIELDS,
    SnapchatConfig,
)
from signalyard.sinks.snapchat.consent import apply_consent
from signalyard.sinks.snapchat.payload import EVENT_NAMES
from signalyard.sinks.snapchat.quality import MODEL as MATCH_MODEL
from signalyard.sinks.snapchat.reporting import REPORTING
from signalyard.sinks.snapchat.sink import SnapchatSink
from signalyard.sinks.spec import SinkSpec

__all__ = ["API_VERSION", "EVENT_NAMES", "SECRET_FIELDS", "SPEC", "SnapchatConfig", "SnapchatSink"]

SPEC = SinkSpec(
    kind="snapchat",
    config_from_mapping=SnapchatConfig.from_mapping,
    build=SnapchatSink.build,
    example=SnapchatConfig.example,
    secret_fields=SECRET_FIELDS,
    apply_consent=apply_consent,
    url_options=("api_url", "ads_api_url"),
    max_age_seconds=MAX_AGE_SECONDS,
    invalid_code=INVALID,
    test_options=("validate_only",),
    identity=frozenset(),  # Snap's em and ph rules are Meta's: no variant needed
    match_model=MATCH_MODEL,
    click_attribution=CLICK_WINDOWS,
    reporting=REPORTING,
)
