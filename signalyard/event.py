"""The canonical event.

Meta's server event is the lingua franca (``event_name``, ``event_time``, ``event_id``,
``action_source``, ``event_source_url``, ``user_data``, ``custom_data``,
``data_processing_options*``, ``opt_out``, ``app_data``, ``messaging_channel``...). Sources
produce it, transforms validate, normalize and hash it, the store keeps it, sinks map from it.

By the time an event is an :class:`AcceptedEvent`, every personal field of ``user_data`` is
hashed: only the fields platforms need in plaintext (``fbc``, ``fbp``, IP address, user
agent, click and platform ids) are kept as they came.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

ServerEvent = dict[str, Any]
"""A server event in Meta's wire shape (a JSON object)."""


@dataclass(frozen=True, slots=True)
class AcceptedEvent:
    """An event that passed every transform and is ready for the store."""

    dataset_id: str
    event_name: str
    event_id: str
    event_time: int
    payload: ServerEvent
    source: str = "graph_api"
    test_event_code: str | None = None
    warnings: tuple[str, ...] = field(default=())
    encoded: bytes | None = None
    """``payload`` as JSON (orjson), when the pipeline already encoded it."""

    def payload_json(self) -> bytes:
        return self.encoded if self.encoded is not None else orjson.dumps(self.payload)
