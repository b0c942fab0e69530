"""Reddit Conversions API v2.0: ``POST {api_url}/api/v2.0/conversions/events/{ad_account_id}``;
its claims from the Ads API v3 reports (:mod:`.reporting`)."""

from __future__ import annotations

from signalyard.sinks.reddit.attribution import CLICK_WINDOWS
from signalyard.sinks.reddit.classify import INVALID
from signalyard.sinks.reddit.config import (
    API_VERSION,
    MAX_AGE_SECONDS,
    SECRET_FIELDS,
    RedditConfig,
)
from signalyard.sinks.reddit.consent import apply_consent
from signalyard.sinks.reddit.payload import EMAIL_VARIANT, PHONE_VARIANT, TRACKING_TYPES
from signalyard.sinks.reddit.quality import MODEL as MATCH_MODEL
from signalyard.sinks.reddit.reporting import REPORTING
from signalyard.sinks.reddit.sink import RedditSink
from signalyard.sinks.spec import SinkSpec

__all__ = ["API_VERSION", "SECRET_FIELDS", "SPEC", "TRACKING_TYPES", "RedditConfig", "RedditSink"]

SPEC = SinkSpec(
    kind="reddit",
    config_from_mapping=RedditConfig.from_mapping,
    build=RedditSink.build,
    example=RedditConfig.example,
    secret_fields=SECRET_FIELDS,
    apply_consent=apply_consent,
    url_options=("api_url",),
    max_age_seconds=MAX_AGE_SECONDS,
    invalid_code=INVALID,
    test_options=("test_mode",),
    identity=frozenset({EMAIL_VARIANT, PHONE_VARIANT}),
    match_model=MATCH_MODEL,
    click_attribution=CLICK_WINDOWS,
    reporting=REPORTING,
)
