"""What a destination kind declares about itself: its :class:`SinkSpec`, the one value a
platform's folder exports (``SPEC`` in ``sinks/<platform>/__init__.py``) and the registry lists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

import httpx

from signalyard.attribution.windows import ClickWindows
from signalyard.clock import Clock
from signalyard.event import ServerEvent
from signalyard.insights.quality import MatchModel
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.reporting import ReportingSpec
from signalyard.sinks.secret_fields import SecretField

__all__ = ["ConfigFromMapping", "SinkConfig", "SinkSpec", "own_config"]

_C = TypeVar("_C")


def own_config(kind: str, config: object, expected: type[_C]) -> _C:
    """``config`` when it is an ``expected`` (a ``build``'s check of what the registry
    passes), else ``TypeError``."""
    if not isinstance(config, expected):
        raise TypeError(f"a {kind} sink needs a {expected.__name__}, not {type(config).__name__}")
    return config


class SinkConfig(Protocol):
    """What every destination's ``Config`` offers beyond its own fields."""

    def to_mapping(self) -> dict[str, object]:
        """The non-secret options, to store with the destination."""
        ...

    def to_secrets(self) -> dict[str, Secret]:
        """The secrets, by the names of the spec's ``secret_fields`` (stored encrypted)."""
        ...


class ConfigFromMapping(Protocol):
    def __call__(
        self, options: Mapping[str, object], secrets: Mapping[str, Secret], /
    ) -> SinkConfig: ...


@dataclass(frozen=True, slots=True)
class SinkSpec:
    kind: str
    config_from_mapping: ConfigFromMapping
    build: Callable[[SinkConfig, httpx.AsyncClient, Clock], Sink]
    """Raises ``TypeError`` when given another destination's config."""
    example: Callable[[], SinkConfig]
    """A valid config with placeholder ids and secrets, for docs and tests."""
    secret_fields: tuple[SecretField, ...]
    """Its secret fields, checked by ``config_from_mapping``; read from standard input by
    ``destinations add`` and ``set-secret``, stored encrypted, never shown."""
    apply_consent: Callable[[ServerEvent, str, str | None], ServerEvent]
    """``(event, action, region) -> event``: the event as sent when the destination's consent
    policy decided ``action`` (``ldu``, ``no_pii``; ``full`` is never passed) for a person in
    ``region``. The platform's own rule (``sinks/<platform>/consent.py``): Meta's Limited Data
    Use, TikTok's ``limited_data_use``, Google's consent fields."""
    url_options: tuple[str, ...] = ()
    """The options holding the platform's base URLs (Meta: ``graph_url``). Each may say
    ``"sandbox"``: it then resolves to this kind's sandbox, ``<sandbox_url>/sandbox/<kind>``
    (see :func:`signalyard.sinks.sandbox_base`); the sink appends its own paths."""
    max_age_seconds: int = 7 * 86400
    """The oldest event (by ``event_time``) the platform accepts: its sink dead-letters older
    ones before sending, the dashboard offers no replay of them, an alert warns before."""
    invalid_code: int | None = None
    """The code with which the platform refuses an event as invalid (Meta's 100, TikTok's
    40002, Google's HTTP 400): sent again unchanged it would be refused again, so **Replay
    all** leaves such dead letters out."""
    test_options: tuple[str, ...] = ("test_event_code",)
    """The options that, when set, send events to the platform's test facility instead of
    counting them (Meta's and TikTok's ``test_event_code``, Google's ``validate_only``): the
    destination's mode is then ``test`` (:func:`signalyard.sinks.delivery_mode`)."""
    identity: frozenset[str] = frozenset()
    """The identity variants (:data:`signalyard.transforms.identity.VARIANTS`) it needs beyond
    the base hashes of ``user_data``: made at ingest, for the datasets it is a destination of,
    and read back with :func:`signalyard.transforms.identity.variant_hashes`."""
    max_requests_per_minute: int | None = None
    """The platform's request quota, honoured before it is hit (the worker starts no more
    requests than this in any 60 seconds, per process): Google's 300. ``None``: no quota
    known; a 429 is handled as throttling either way."""
    match_model: MatchModel | None = None
    """How the dashboard estimates the platform's match quality from the keys each event
    carries (``sinks/<platform>/quality.py``): the signals it matches on and their weights.
    ``None``: no estimate is shown for this kind."""
    click_attribution: ClickWindows | None = None
    """Which click ids are this platform's clicks and its click windows
    (``sinks/<platform>/attribution.py``): what attribution credits to it. ``None``: no
    order is ever credited to this kind."""
    reporting: ReportingSpec | None = None
    """How the platform's reporting API is asked what it claims (conversions, value, spend
    per day and campaign; ``sinks/<platform>/reporting.py``). ``None``: its claims can only
    be imported from a CSV export."""
