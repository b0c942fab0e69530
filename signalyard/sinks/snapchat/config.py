"""Settings of a Snapchat Conversions API v3 destination, its API version and its limits.

Options are stored with the destination (``to_mapping``) and read back with ``from_mapping``;
the secrets (``SECRET_FIELDS``: the Conversions API ``access_token``, and the optional
``reporting_access_token``, a Marketing API token that reads the ad account's stats) are
stored apart and encrypted, as :class:`~signalyard.secret.Secret`, and never appear in an
option mapping, a repr or a message. ``ad_account_id`` (optional) names the ad account whose
claims :mod:`signalyard.sinks.snapchat.reporting` reads from the Marketing API at
``ads_api_url``.
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
    "ADS_API_VERSION",
    "API_VERSION",
    "DEFAULT_ADS_API_URL",
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
DEFAULT_ADS_API_URL = "https://adsapi.snapchat.com"
"""Snap's Marketing API (reporting: the claims), a host of its own."""
ADS_API_VERSION = "v1"
"""The Marketing API version in the reporting paths (``/v1/adaccounts/...``)."""

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
    SecretField(
        "reporting_access_token",
        required=False,
        help=(
            "only to fetch the claims: an OAuth access token of Snap's Marketing API (scope"
            " snapchat-marketing-api) of a member of the ad account; a Conversions API token"
            " cannot read stats"
        ),
    ),
)

_ASSET_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_INTEGRATION = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_AD_ACCOUNT_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_DEFAULTS: dict[str, object] = {
    "api_url": DEFAULT_API_URL,
    "validate_only": False,
    "integration": None,
    "timeout_seconds": 10.0,
    "ad_account_id": None,
    "ads_api_url": DEFAULT_ADS_API_URL,
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
    ad_account_id: str | None = None
    """The ad account (Ads Manager → the account's settings: its id, a UUID) whose stats give
    the claims; ``None``: no claims are fetched."""
    ads_api_url: str = DEFAULT_ADS_API_URL
    """Where the Marketing API is (reading the claims); may carry a path prefix (the
    sandbox's)."""
    reporting_access_token: Secret | None = None
    """The Marketing API token that reads the ad account's stats (``Authorization: Bearer``);
    ``None``: no claims can be fetched."""

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
            ad_account_id=_ad_account_id(merged["ad_account_id"]),
            ads_api_url=base_url(
                "snapchat", "ads_api_url", merged["ads_api_url"], DEFAULT_ADS_API_URL
            ),
            reporting_access_token=present.get("reporting_access_token"),
        )

    def to_mapping(self) -> dict[str, object]:
        """The options to store: ``pixel_id`` and every option that differs from its
        default (so a stored destination follows ``DEFAULT_API_URL`` when it changes)."""
        options: dict[str, object] = {"pixel_id": self.pixel_id}
        return options | changed(self, _DEFAULTS)

    def to_secrets(self) -> dict[str, Secret]:
        """The secrets to store (encrypted), by field name."""
        secrets = {"access_token": self.access_token}
        if self.reporting_access_token:
            secrets["reporting_access_token"] = self.reporting_access_token
        return secrets

    @classmethod
    def example(cls) -> SnapchatConfig:
        """A valid configuration with a placeholder pixel id and tokens (the Marketing API's
        too, so that the example can fetch claims from a sandbox), for docs and tests."""
        return cls(
            pixel_id="5bf81ee1-15b1-4dc1-b636-d7dae49b950e",
            access_token=Secret("exampleSnapConversionsApiToken"),
            reporting_access_token=Secret("exampleSnapMarketingApiToken"),
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


def _ad_account_id(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _AD_ACCOUNT_ID.fullmatch(value.strip()):
        raise ConfigError(
            "snapchat destination: ad_account_id must be the ad account's id (Ads Manager →"
            " the account's settings, such as '8adc3db7-8148-4fbf-999c-8d2266369d74'), or unset"
        )
    return value.strip()
