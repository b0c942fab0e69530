"""Google Ads conversions through the Data Manager API: ``POST {api_url}/v1/events:ingest``,
authorized by an OAuth 2.0 access token from ``POST {token_url}/token`` (a service account's
key or a user's refresh token). Its claims (conversions, value, spend per day and campaign)
come from the Google Ads API (``reporting.py``). See ``docs/destinations/google.md``."""

from __future__ import annotations

from signalyard.sinks.google.attribution import CLICK_WINDOWS
from signalyard.sinks.google.config import (
    API_VERSION,
    MAX_AGE_SECONDS,
    REQUESTS_PER_MINUTE,
    SECRET_FIELDS,
    GoogleConfig,
)
from signalyard.sinks.google.consent import apply_consent
from signalyard.sinks.google.quality import MODEL as MATCH_MODEL
from signalyard.sinks.google.reporting import REPORTING
from signalyard.sinks.google.sink import GoogleSink
from signalyard.sinks.spec import SinkSpec

__all__ = ["API_VERSION", "SECRET_FIELDS", "SPEC", "GoogleConfig", "GoogleSink"]

SPEC = SinkSpec(
    kind="google",
    config_from_mapping=GoogleConfig.from_mapping,
    build=GoogleSink.build,
    example=GoogleConfig.example,
    secret_fields=SECRET_FIELDS,
    apply_consent=apply_consent,
    url_options=("api_url", "token_url", "ads_api_url"),
    test_options=("validate_only",),
    max_age_seconds=MAX_AGE_SECONDS,
    invalid_code=400,  # INVALID_ARGUMENT naming the event
    identity=frozenset({"ph.e164", "em.gmail"}),
    max_requests_per_minute=REQUESTS_PER_MINUTE,
    match_model=MATCH_MODEL,
    click_attribution=CLICK_WINDOWS,
    reporting=REPORTING,
)
