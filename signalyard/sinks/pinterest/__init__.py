"""Pinterest Conversions API (API v5): ``POST {api_url}/v5/ad_accounts/{ad_account_id}/events``;
its claims from the ad account's campaign analytics
(``GET {api_url}/v5/ad_accounts/{ad_account_id}/campaigns/analytics``,
:mod:`signalyard.sinks.pinterest.reporting`). See ``docs/destinations/pinterest.md``."""

from __future__ import annotations

from signalyard.sinks.pinterest.attribution import CLICK_WINDOWS
from signalyard.sinks.pinterest.classify import INVALID
from signalyard.sinks.pinterest.config import (
    API_VERSION,
    MAX_AGE_SECONDS,
    SECRET_FIELDS,
    PinterestConfig,
)
from signalyard.sinks.pinterest.consent import apply_consent
from signalyard.sinks.pinterest.payload import EVENT_NAMES
from signalyard.sinks.pinterest.quality import MODEL as MATCH_MODEL
from signalyard.sinks.pinterest.reporting import REPORTING
from signalyard.sinks.pinterest.sink import PinterestSink
from signalyard.sinks.spec import SinkSpec

__all__ = [
    "API_VERSION",
    "EVENT_NAMES",
    "SECRET_FIELDS",
    "SPEC",
    "PinterestConfig",
    "PinterestSink",
]

SPEC = SinkSpec(
    kind="pinterest",
    config_from_mapping=PinterestConfig.from_mapping,
    build=PinterestSink.build,
    example=PinterestConfig.example,
    secret_fields=SECRET_FIELDS,
    apply_consent=apply_consent,
    url_options=("api_url",),
    test_options=("test",),
    max_age_seconds=MAX_AGE_SECONDS,
    invalid_code=INVALID,
    match_model=MATCH_MODEL,
    click_attribution=CLICK_WINDOWS,
    reporting=REPORTING,
)
