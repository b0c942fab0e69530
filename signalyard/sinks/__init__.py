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
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

import httpx

from signalyard.clock import Clock
from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.base import Sink
from signalyard.sinks.ga4 import SPEC as GA4
from signalyard.sinks.google import SPEC as GOOGLE
from signalyard.sinks.linkedin import SPEC as LINKEDIN
from signalyard.sinks.meta import SPEC as META
from signalyard.sinks.pinterest import SPEC as PINTEREST
from signalyard.sinks.reddit import SPEC as REDDIT
from signalyard.sinks.secret_fields import SecretField
from signalyard.sinks.snapchat import SPEC as SNAPCHAT
from signalyard.sinks.spec import ConfigFromMapping, SinkConfig, SinkSpec
from signalyard.sinks.tiktok import SPEC as TIKTOK
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
    "mode_option",
    "sandbox_base",
    "spec_for",
]

SANDBOX = "sandbox"
"""A base-URL option (:attr:`SinkSpec.url_options`) of this value means the destination's own
sandbox, at :func:`sandbox_base`."""
SANDBOX_PATH = "/sandbox"
"""Where every sandbox is served, ``serve`` (mounted) and ``signalyard sandbox`` alike: the
sandbox of kind *k* at ``<sandbox_url>/sandbox/<k>``."""


def sandbox_base(sandbox_url: str, kind: str) -> str:
    """The base URL of ``kind``'s sandbox, where sandboxes are served at ``sandbox_url``."""
    return f"{sandbox_url.rstrip('/')}{SANDBOX_PATH}/{kind}"


REGISTRY: dict[str, SinkSpec] = {
    spec.kind: spec
    for spec in (
        META,  # one line per platform: its folder's SPEC
        TIKTOK,
        GOOGLE,
        SNAPCHAT,
        PINTEREST,
        REDDIT,
        GA4,
        LINKEDIN,
    )
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
    """The sink for a stored destination; a base URL saying ``"sandbox"`` resolves to its
    kind's sandbox where sandboxes are served (``sandbox_url``, see :func:`sandbox_base`)."""
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
    (``ConfigError`` naming the option); a base-URL option (``spec.url_options``) saying
    ``"sandbox"`` resolves to the kind's sandbox (:func:`sandbox_base`)."""
    spec = spec_for(kind)
    own = {k: v for k, v in options.items() if k not in GATEWAY_OPTIONS}
    for key in spec.url_options:
        if own.get(key) == SANDBOX:
            own[key] = sandbox_base(sandbox_url, kind)
    return spec.config_from_mapping(own, secrets)


Mode = Literal["sandbox", "test", "live"]


def delivery_mode(destination: Destination, *, sandbox_url: str) -> Mode:
    """Where a destination's events end up: ``sandbox`` when one of its base URLs
    (``url_options`` of its kind, but those its reporting alone reads) is ``"sandbox"``, its
    kind's sandbox where sandboxes are served (``sandbox_url``) or any URL with a
    ``sandbox`` path segment; ``test`` when one of its kind's ``test_options`` is set (the
    platform's test facility: ``test_event_code``, ``validate_only``...); ``live``
    otherwise."""
    options = destination.options
    spec = REGISTRY.get(destination.kind)
    claims_only = spec.reporting.url_options if spec and spec.reporting else ()
    keys = [k for k in spec.url_options if k not in claims_only] if spec is not None else []
    own = sandbox_base(sandbox_url, destination.kind)
    for key in keys:
        url = str(options.get(key) or "").strip()
        if url == SANDBOX or (url and url.rstrip("/") == own):
            return "sandbox"
        if url and "sandbox" in urlsplit(url).path.lower().split("/"):
            return "sandbox"
    tests = spec.test_options if spec is not None else ("test_event_code",)
    if any(_set(options.get(key)) for key in tests):
        return "test"
    return "live"


def _set(value: object) -> bool:
    """An option that is on: a non-empty value, a true flag (``"false"`` and ``"0"`` are off)."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "off")
    return bool(value)


def mode_option(destination: Destination) -> str:
    """The option that makes ``destination`` a test one (the first of its kind's
    ``test_options`` that is set, else the first declared)."""
    spec = REGISTRY.get(destination.kind)
    tests = spec.test_options if spec is not None else ("test_event_code",)
    on = [key for key in tests if _set(destination.options.get(key))]
    return (on or list(tests) or ["test_event_code"])[0]


def mode_note(mode: Mode, name: str, option: str = "test_event_code") -> str:
    """One line saying what ``mode`` means for the events sent to destination ``name``
    (``option``: the test option that is set, see :func:`mode_option`)."""
    if mode == "sandbox":
        return "sandbox: events go to a sandbox, nothing reaches the platform"
    if mode == "test":
        what = (
            "events carry test_event_code (the platform's test tool shows them, and they"
            " still count)"
            if option == "test_event_code"
            else f"{option} is set (events go to the platform's test facility)"
        )
        return (
            f"test: {what}; remove it with `signalyard destinations update"
            f" {shlex.quote(name)} --unset {option}` when done"
        )
    return "live: events go to the platform"
