"""Meta Conversions API: ``POST {graph_url}/{api_version}/{pixel_id}/events``."""

from __future__ import annotations

from signalyard.sinks.meta.config import API_VERSION, SECRET_FIELDS, MetaConfig
from signalyard.sinks.meta.sink import MetaSink

__all__ = ["API_VERSION", "SECRET_FIELDS", "MetaConfig", "MetaSink"]
