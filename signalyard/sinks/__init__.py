"""Destinations: one folder per platform with the same files, one registry line each.

``REGISTRY`` is the only list of destinations. The rest of Signalyard reaches a sink through
it: ``spec.config_from_mapping(options, secrets)`` validates the stored options and the
destination's secrets against ``spec.secret_fields`` (``ConfigError`` naming the option or
secret), ``spec.build(config, client, clock)``
makes the :class:`~signalyard.sinks.base.Sink`. See :mod:`signalyard.sinks.base` for the
contract every sink keeps.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

import httpx

from signalyard.clock import Clock
from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.meta import SECRET_FIELDS as META_SECRETS
from signalyard.sinks.meta import MetaConfig, MetaSink
from signalyard.sinks.secret_fields import SecretField
from signalyard.store.base import Destination

__all__ = [
    "REGISTRY",
    "SANDBOX",
    "ConfigFromMapping",
    "SecretField",
    "SinkConfig",
    "SinkSpec",
    "build_sink",
    "checked_config",
    "delivery_mode",
    "mode_note",
    "spec_for",
]

SANDBOX = "sandbox"
"""A ``graph_url`` (or ``url``) option of this value means the gateway's built-in sandbox."""


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
    identity: frozenset[str] = frozenset()
    """The identity variants (:data:`signalyard.transforms.identity.VARIANTS`) it needs beyond
    the base hashes of ``user_data``: made at ingest, for the datasets it is a destination of,
    and read back with :func:`signalyard.transforms.identity.variant_hashes`."""


REGISTRY: dict[str, SinkSpec] = {
    "meta": SinkSpec(
        "meta", MetaConfig.from_mapping, MetaSink.build, MetaConfig.example, META_SECRETS
    ),
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
    config = checked_config(
        destination.kind, destination.options, destination.secrets, sandbox_url=sandbox_url
    )
    return spec_for(destination.kind).build(config, client, clock)


GATEWAY_OPTIONS = frozenset({"consent_policy"})
"""Options the gateway itself reads (at ingest), stored with the destination's own: a sink's
``config_from_mapping`` never sees them."""


def checked_config(
    kind: str,
    options: Mapping[str, object],
    secrets: Mapping[str, Secret],
    *,
    sandbox_url: str,
) -> SinkConfig:
    """The sink's config from stored (or user-given) options, validated by the sink
    (``ConfigError`` naming the option); ``graph_url``/``url`` = ``"sandbox"`` resolves to
    ``sandbox_url``."""
    spec = spec_for(kind)
    own = {k: v for k, v in options.items() if k not in GATEWAY_OPTIONS}
    for key in ("graph_url", "url"):
        if own.get(key) == SANDBOX:
            own[key] = sandbox_url
    return spec.config_from_mapping(own, secrets)


Mode = Literal["sandbox", "test", "live"]


def delivery_mode(destination: Destination, *, sandbox_url: str) -> Mode:
    """Where a destination's events end up: ``sandbox`` when its ``graph_url`` (or ``url``)
    is ``"sandbox"``, this gateway's sandbox (``sandbox_url``) or any URL with a ``sandbox``
    path segment; ``test`` when a ``test_event_code`` is set (the platform's test facility);
    ``live`` otherwise."""
    options = destination.options
    url = str(options.get("graph_url") or options.get("url") or "").strip()
    if url == SANDBOX or (url and url.rstrip("/") == sandbox_url.rstrip("/")):
        return "sandbox"
    if url and "sandbox" in urlsplit(url).path.lower().split("/"):
        return "sandbox"
    if options.get("test_event_code"):
        return "test"
    return "live"


def mode_note(mode: Mode, name: str) -> str:
    """One line saying what ``mode`` means for the events sent to destination ``name``."""
    if mode == "sandbox":
        return "sandbox: events go to a sandbox, nothing reaches the platform"
    if mode == "test":
        return (
            "test: events carry test_event_code (the platform's test tool shows them, and they"
            " still count); remove it with `signalyard destinations update"
            f" {shlex.quote(name)} --unset test_event_code` when done"
        )
    return "live: events go to the platform"
