"""Meta Conversions API: ``POST {graph_url}/{api_version}/{pixel_id}/events``."""

from __future__ import annotations

from signalyard.sinks.meta.attribution import CLICK_WINDOWS
from signalyard.sinks.meta.config import API_VERSION, MAX_AGE_SECONDS, SECRET_FIELDS, MetaConfig
from signalyard.sinks.meta.consent import apply_consent
from signalyard.sinks.meta.quality import MODEL as MATCH_MODEL
from signalyard.sinks.meta.reporting import REPORTING
from signalyard.sinks.meta.sink import MetaSink
from signalyard.sinks.spec import SinkSpec

__all__ = ["API_VERSION", "SECRET_FIELDS", "SPEC", "MetaConfig", "MetaSink"]

SPEC = SinkSpec(
    kind="meta",
    config_from_mapping=MetaConfig.from_mapping,
    build=MetaSink.build,
    example=MetaConfig.example,
    secret_fields=SECRET_FIELDS,
    apply_consent=apply_consent,
    url_options=("graph_url",),
    max_age_seconds=MAX_AGE_SECONDS,
    invalid_code=100,  # Graph's "invalid parameter"
    match_model=MATCH_MODEL,
    click_attribution=CLICK_WINDOWS,
    reporting=REPORTING,
)
