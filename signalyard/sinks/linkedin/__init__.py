"""LinkedIn Conversions API: ``POST {api_url}/rest/conversionEvents`` (``BATCH_CREATE``)."""

from __future__ import annotations

from signalyard.sinks.linkedin.attribution import CLICK_WINDOWS
from signalyard.sinks.linkedin.classify import INVALID
from signalyard.sinks.linkedin.config import (
    API_VERSION,
    MAX_AGE_SECONDS,
    SECRET_FIELDS,
    LinkedInConfig,
)
from signalyard.sinks.linkedin.consent import apply_consent
from signalyard.sinks.linkedin.payload import CONVERSION_TYPES
from signalyard.sinks.linkedin.quality import MODEL as MATCH_MODEL
from signalyard.sinks.linkedin.reporting import REPORTING
from signalyard.sinks.linkedin.sink import LinkedInSink
from signalyard.sinks.spec import SinkSpec

__all__ = [
    "API_VERSION",
    "CONVERSION_TYPES",
    "SECRET_FIELDS",
    "SPEC",
    "LinkedInConfig",
    "LinkedInSink",
]

SPEC = SinkSpec(
    kind="linkedin",
    config_from_mapping=LinkedInConfig.from_mapping,
    build=LinkedInSink.build,
    example=LinkedInConfig.example,
    secret_fields=SECRET_FIELDS,
    apply_consent=apply_consent,
    url_options=("api_url",),
    max_age_seconds=MAX_AGE_SECONDS,
    invalid_code=INVALID,
    test_options=(),  # LinkedIn has no test facility for conversion events
    identity=frozenset(),  # SHA256_EMAIL is Meta's em rule: the stored hash is sent
    match_model=MATCH_MODEL,
    click_attribution=CLICK_WINDOWS,
    reporting=REPORTING,
)
