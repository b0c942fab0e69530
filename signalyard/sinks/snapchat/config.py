"""Settings of a Snapchat Conversions API v3 destination, its API version and its limits.

Options are stored with the destination (``to_mapping``) and read back with ``from_mapping``;
the Conversions API token is its one secret field (``SECRET_FIELDS``), stored apart and
encrypted, as a :class:`~signalyard.secret.Secret`, and never appears in an option mapping, a
repr or a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.options import base_url, changed, flag, optional_code, read, timeout
from signalyard.sinks.secret_fields import SecretField

__all__ = [
    "API_VERSION",
    "DEFAULT_API_URL",
    "MAX_AGE_SECONDS",
    "MAX_BATCH",
    "SECRET_FIELDS",
    "SnapchatConfig",
    "events_path",
]

API_VERSION = "v3"
"""The Conversions API version (the only place it is named): ``/v3/{asset_id}/events``."""

DEFAULT_API_URL = "https://tr.snapchat.com"

MAX_BATCH = 2000
"""Events in one request. Snap's own pages name no limit; 2,000 is what RudderStack's
Snapchat destination and a third-party JSON schema of the v3 body use (unconfirmed by Snap)."""

MAX_AGE_SECONDS = 37 * 24 * 3600
"""Snap takes events up to 37 days old ("events can have a date of maximum 37 days back to be
eligible", the Conversions API introduction)."""

SECRET_FIELDS = (
    SecretField(
        "access_token",
        required=True,
        help=(
            "a Conversions API token: Snapchat Business Manager → Business Details →"
            " Conversions API Tokens → Generate Token"
        ),
    ),
)

_ASSET_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_INTEGRATION = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_DEFAULTS: dict[str, object] = {
    "api_url": DEFAULT_API_URL,
    "validate_only": False,
    "integration": None,
    "timeout_seconds": 10.0,
}
"""Defaults of the stored options; the dataclass fields below repeat them."""


def events_path(asset_id: str, *, validate: bool) -> str:
    """``/v3/{asset_id}/events`` or its test twin ``/v3/{asset_id}/events/validate``."""
    path = f"/{API_VERSION}/{asset_id}/events"
    return f"{path}/validate" if validate else path


@dataclass(frozen=True, slots=True)
class SnapchatConfig:
    pixel_id: str
    """The asset id: the Snap Pixel ID for web and offline events (the Snap App ID for app
    events)."""
    access_token: Secret
    api_url: str = DEFAULT_API_URL
    """Where the Conversions API is; may carry a path prefix
    (``http://127.0.0.1:8088/sandbox/snapchat``)."""
    validate_only: bool = False
    """Send every request to ``/events/validate``: Snap checks the events and shows them in
    Events Manager's test tool, and counts none of them. Remove it in production."""
    integration: str | None = None
    """Snap's ``integration`` (the partner or connector name), for registered partners."""
    timeout_seconds: float = 10.0

    @classmethod
    def from_mapping(
        cls, options: Mapping[str, object], secrets: Mapping[str, Secret]
    ) -> SnapchatConfig:
        """Validate stored or user-given options and secrets; raise ``ConfigError`` naming
        the option or secret."""
        merged, present = read("snapchat", cls, options, secrets, SECRET_FIELDS, _DEFAULTS)
        return cls(
            pixel_id=_pixel_id(merged.get("pixel_id")),
            access_token=present["access_token"],
            api_url=base_url("snapchat", "api_url", merged["api_url"], DEFAULT_API_URL),
            validate_only=flag("snapchat", "validate_only", merged["validate_only"]),
            integration=optional_code("snapchat", "integration", merged["integration"]),
            timeout_seconds=timeout("snapchat", merged["timeout_seconds"], text=True),
        )

    def to_mapping(self) -> dict[str, object]:
        """The options to store: ``pixel_id`` and every option that differs from its
        default (so a stored destination follows ``DEFAULT_API_URL`` when it changes)."""
        options: dict[str, object] = {"pixel_id": self.pixel_id}
        return options | changed(self, _DEFAULTS)

    def to_secrets(self) -> dict[str, Secret]:
        """The secrets to store (encrypted), by field name."""
        return {"access_token": self.access_token}

    @classmethod
    def example(cls) -> SnapchatConfig:
        """A valid configuration with a placeholder pixel id and token, for docs and tests."""
        return cls(
            pixel_id="5bf81ee1-15b1-4dc1-b636-d7dae49b950e",
            access_token=Secret("exampleSnapConversionsApiToken"),
        )


def _pixel_id(value: object) -> str:
    if value is None:
        raise ConfigError(
            "snapchat destination: pixel_id is required (the Snap Pixel ID from Events"
            " Manager, or the Snap App ID for app events)"
        )
    if not isinstance(value, str) or not _ASSET_ID.fullmatch(value.strip()):
        raise ConfigError(
            "snapchat destination: pixel_id must be the Snap Pixel ID shown in Events Manager"
            " (letters, digits and '-', such as '5bf81ee1-15b1-4dc1-b636-d7dae49b950e')"
        )
    return value.strip()
