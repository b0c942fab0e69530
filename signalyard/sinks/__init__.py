"""Destinations: one folder per platform with the same files, one registry line each.

``REGISTRY`` is the only list of destinations. The rest of Signalyard reaches a sink through
it: ``spec.config_from_mapping(options, access_token=..., app_secret=...)`` validates the
stored options (``ConfigError`` naming the option), ``spec.build(config, client, clock)``
makes the :class:`~signalyard.sinks.base.Sink`. See :mod:`signalyard.sinks.base` for the
contract every sink keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx

from signalyard.clock import Clock
from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.meta import MetaConfig, MetaSink
from signalyard.store.base import Destination

__all__ = [
    "REGISTRY",
    "SANDBOX",
    "ConfigFromMapping",
    "SinkConfig",
    "SinkSpec",
    "build_sink",
    "spec_for",
]

SANDBOX = "sandbox"
"""A ``graph_url`` (or ``url``) option of this value means the gateway's built-in sandbox."""


class SinkConfig(Protocol):
    """What every destination's ``Config`` offers beyond its own fields."""

    def to_mapping(self) -> dict[str, object]:
        """The non-secret options, to store with the destination."""
        ...


class ConfigFromMapping(Protocol):
    def __call__(
        self,
        options: Mapping[str, object],
        /,
        *,
        access_token: Secret,
        app_secret: Secret | None,
    ) -> SinkConfig: ...


@dataclass(frozen=True, slots=True)
class SinkSpec:
    kind: str
    config_from_mapping: ConfigFromMapping
    build: Callable[[SinkConfig, httpx.AsyncClient, Clock], Sink]
    """Raises ``TypeError`` when given another destination's config."""
    example: Callable[[], SinkConfig]
    """A valid config with placeholder ids and secrets, for docs and tests."""


REGISTRY: dict[str, SinkSpec] = {
    "meta": SinkSpec("meta", MetaConfig.from_mapping, MetaSink.build, MetaConfig.example),
}


def spec_for(kind: str) -> SinkSpec:
    """The registry entry for ``kind``; ``ConfigError`` naming the known kinds otherwise."""
    try:
        return REGISTRY[kind]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError(f"unknown destination kind {kind!r}; known kinds: {known}") from None


def build_sink(
    destination: Destination, *, client: httpx.AsyncClient, clock: Clock, sandbox_url: str
) -> Sink:
    """The sink for a stored destination; ``graph_url = "sandbox"`` resolves to this
    gateway's own sandbox (``sandbox_url``)."""
    spec = spec_for(destination.kind)
    options = dict(destination.options)
    if options.get("graph_url") == SANDBOX:
        options["graph_url"] = sandbox_url
    config = spec.config_from_mapping(
        options, access_token=destination.access_token, app_secret=destination.app_secret
    )
    return spec.build(config, client, clock)
