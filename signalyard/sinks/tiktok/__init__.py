"""TikTok Events API 2.0: ``POST {api_url}/open_api/v1.3/event/track/``; its claims from
TikTok API for Business reporting (``GET {api_url}/open_api/v1.3/report/integrated/get/``,
:mod:`signalyard.sinks.tiktok.reporting`)."""

from __future__ import annotations

from signalyard.sinks.spec import SinkSpec
from signalyard.sinks.tiktok.attribution import CLICK_WINDOWS
from signalyard.sinks.tiktok.classify import INVALID
from signalyard.sinks.tiktok.config import API_VERSION, MAX_AGE_SECONDS, SECRET_FIELDS, TikTokConfig
from signalyard.sinks.tiktok.consent import apply_consent
from signalyard.sinks.tiktok.payload import EVENT_NAMES, PHONE_VARIANT
from signalyard.sinks.tiktok.quality import MODEL as MATCH_MODEL
from signalyard.sinks.tiktok.reporting import REPORTING
from signalyard.sinks.tiktok.sink import TikTokSink

__all__ = ["API_VERSION", "EVENT_NAMES", "SECRET_FIELDS", "SPEC", "TikTokConfig", "TikTokSink"]

SPEC = SinkSpec(
    kind="tiktok",
    config_from_mapping=TikTokConfig.from_mapping,
    build=TikTokSink.build,
    example=TikTokConfig.example,
    secret_fields=SECRET_FIELDS,
    apply_consent=apply_consent,
    url_options=("api_url",),
    max_age_seconds=MAX_AGE_SECONDS,
    invalid_code=INVALID,
    identity=frozenset({PHONE_VARIANT}),
    match_model=MATCH_MODEL,
    click_attribution=CLICK_WINDOWS,
    reporting=REPORTING,
)
