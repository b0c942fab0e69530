"""Google Analytics 4 through the Measurement Protocol: ``POST {api_url}/mp/collect``
(``?measurement_id=…&api_secret=…``), checked first by GA4's validation server
``/debug/mp/collect``. See ``docs/destinations/ga4.md``."""

from __future__ import annotations

from signalyard.sinks.ga4.attribution import CLICK_WINDOWS
from signalyard.sinks.ga4.classify import INVALID
from signalyard.sinks.ga4.config import API_VERSION, MAX_AGE_SECONDS, SECRET_FIELDS, GA4Config
from signalyard.sinks.ga4.consent import apply_consent
from signalyard.sinks.ga4.payload import EMAIL_VARIANT, EVENT_NAMES, PHONE_VARIANT
from signalyard.sinks.ga4.quality import MODEL as MATCH_MODEL
from signalyard.sinks.ga4.sink import GA4Sink
from signalyard.sinks.spec import SinkSpec

__all__ = ["API_VERSION", "EVENT_NAMES", "SECRET_FIELDS", "SPEC", "GA4Config", "GA4Sink"]

SPEC = SinkSpec(
    kind="ga4",
    config_from_mapping=GA4Config.from_mapping,
    build=GA4Sink.build,
    example=GA4Config.example,
    secret_fields=SECRET_FIELDS,
    apply_consent=apply_consent,
    url_options=("api_url",),
    test_options=("validate_only",),
    max_age_seconds=MAX_AGE_SECONDS,
    invalid_code=INVALID,  # GA4 gives no code: Signalyard's for an event GA4 would drop
    identity=frozenset({EMAIL_VARIANT, PHONE_VARIANT}),
    match_model=MATCH_MODEL,
    click_attribution=CLICK_WINDOWS,
)
