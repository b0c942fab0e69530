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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, dataclass_transform

import orjson

ServerEvent = dict[str, Any]
"""A server event in Meta's wire shape (a JSON object)."""

SERVER_EVENT_FIELDS: tuple[str, ...] = (
    "event_name",
    "event_time",
    "event_id",
    "action_source",
    "event_source_url",
    "user_data",
    "custom_data",
    "opt_out",
    "data_processing_options",
    "data_processing_options_country",
    "data_processing_options_state",
    "referrer_url",
    "app_data",
    "messaging_channel",
    "original_event_data",
    "customer_segmentation",
    "attribution_data",
    "advanced_measurement_table",
)
"""The top-level fields of the canonical (Meta server) event, in the order they are written.
The pipeline drops any other field before storage; sinks map from these."""


_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def value_class(cls: type[_T]) -> type[_T]:
    """A frozen dataclass to the type checker (no field is ever assigned: mypy says so), a
    slots dataclass hashed by its fields at run time. A frozen dataclass's constructor sets
    each field through ``object.__setattr__``: the five an event needs at ingest (an
    AcceptedEvent, its Consent, two ClickIds, the sources' Extensions) took about 3.4 us,
    0.8 us this way."""
    made: Callable[[type[_T]], type[_T]] = dataclass(slots=True, unsafe_hash=True)
    return made(cls)


@value_class
class Consent:
    """The consent state an event carries (see :mod:`signalyard.transforms.consent`)."""

    state: str = "unknown"
    """``granted``, ``denied``, ``pending`` (required, not answered yet) or ``unknown``."""
    source: str = "none"
    """Where it came from: ``api``, ``script``, ``gcm``, ``tcf``, ``shopify``, ``import``..."""
    region: str | None = None
    """ISO 3166 country, optionally with a subdivision: ``DE``, ``US-CA``."""
    subject: str | None = None
    """SHA-256 of who the consent is about (the browser's ``fbp``, or a subject id the sender
    chose): the key that releases held events when consent arrives later."""
    token_key: str | None = None
    """``/collect`` events only: SHA-256 of the sending browser's consent token, the only key
    under which that (anonymous) browser may give consent later, for its own events."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "source": self.source}
        if self.region:
            out["region"] = self.region
        return out


@value_class
class ClickId:
    """An ad click id seen with an event (``gclid``, ``fbclid``...) and when the click was."""

    kind: str
    value: str
    clicked_at: float
    """Epoch seconds."""


@value_class
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
    consent: Consent | None = None
    """``None``: the source said nothing (treated as ``unknown`` in no known region)."""
    clicks: tuple[ClickId, ...] = ()
    """Click ids for the click ledger."""
    browser: str | None = None
    """The browser's ``fbp``, for the click ledger."""
    id_generated: bool = False
    """The source sent no ``event_id``: Signalyard made one (statistics count these)."""
    plaintext_pii: bool = False
    """A key Meta takes only hashed (em, ph...) arrived in plaintext; it is stored hashed."""

    def payload_json(self) -> bytes:
        return self.encoded if self.encoded is not None else orjson.dumps(self.payload)
