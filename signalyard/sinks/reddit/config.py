"""Settings of a Reddit Conversions API destination, its API version and its limits.

Options are stored with the destination (``to_mapping``) and read back with ``from_mapping``;
the secret fields (``SECRET_FIELDS``: the conversion access token, and the optional
``reporting_access_token`` that reads the ad account's reports) are stored apart and
encrypted, as :class:`~signalyard.secret.Secret`, and never appear in an option mapping, a
repr or a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.options import base_url, changed, flag, read, timeout
from signalyard.sinks.secret_fields import SecretField

__all__ = [
    "API_VERSION",
    "DEFAULT_API_URL",
    "MAX_AGE_SECONDS",
    "MAX_BATCH",
    "SECRET_FIELDS",
    "RedditConfig",
    "events_path",
]

API_VERSION = "v2.0"
"""The Ads API version of the conversions endpoint (the only place it is named). Reddit's
v3 (``/api/v3/pixels/{pixel_id}/conversion_events``) has another body; v2.0 is the one the
Reddit-maintained Segment integration sends to, with ``test_mode``."""

DEFAULT_API_URL = "https://ads-api.reddit.com"

MAX_BATCH = 1000
"""Reddit takes at most 1,000 events in one request (RudderStack's ``maxBatchSize``)."""

MAX_AGE_SECONDS = 7 * 24 * 3600
"""Reddit refuses an event whose ``event_at`` is 168 hours old or older ("event_at timestamp
must be less than 168h0m0s old"). The worker dead-letters older ones before sending."""

SECRET_FIELDS = (
    SecretField(
        "access_token",
        required=True,
        help=(
            "a conversion access token: Reddit Ads Manager → Events Manager → the pixel →"
            " Settings → Conversions API → Generate access token"
        ),
    ),
    SecretField(
        "reporting_access_token",
        required=False,
        help=(
            "an Ads API OAuth access token with the adsread scope, to read the ad account's"
            " reports (Reddit for Business → Developer applications → the app, authorized by"
            " a member of the ad account); unset: access_token is tried"
        ),
    ),
)

_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DEFAULTS: dict[str, object] = {
    "api_url": DEFAULT_API_URL,
    "test_mode": False,
    "timeout_seconds": 10.0,
}
"""Defaults of the stored options; the dataclass fields below repeat them."""


def events_path(ad_account_id: str) -> str:
    """The conversions endpoint of an ad account, under ``api_url``."""
    return f"/api/{API_VERSION}/conversions/events/{ad_account_id}"


@dataclass(frozen=True, slots=True)
class RedditConfig:
    ad_account_id: str
    """The ad account's id as Ads Manager shows it (``a2_...`` or ``t2_...``)."""
    access_token: Secret
    api_url: str = DEFAULT_API_URL
    """Where the Ads API is; may carry a path prefix (``http://127.0.0.1:8088/sandbox/reddit``)."""
    test_mode: bool = False
    """Send every request with ``test_mode: true``: Reddit checks the events and shows them
    in Events Manager's test view without counting them. Remove it in production."""
    timeout_seconds: float = 10.0
    reporting_access_token: Secret | None = None
    """An Ads API token that reads reports (the conversion token usually cannot); unset,
    reporting sends ``access_token``."""

    @classmethod
    def from_mapping(
        cls, options: Mapping[str, object], secrets: Mapping[str, Secret]
    ) -> RedditConfig:
        """Validate stored or user-given options and secrets; raise ``ConfigError`` naming
        the option or secret."""
        merged, present = read("reddit", cls, options, secrets, SECRET_FIELDS, _DEFAULTS)
        return cls(
            ad_account_id=_account_id(merged.get("ad_account_id")),
            access_token=present["access_token"],
            api_url=base_url("reddit", "api_url", merged["api_url"], DEFAULT_API_URL),
            test_mode=flag("reddit", "test_mode", merged["test_mode"]),
            timeout_seconds=timeout("reddit", merged["timeout_seconds"]),
            reporting_access_token=present.get("reporting_access_token"),
        )

    def to_mapping(self) -> dict[str, object]:
        """The options to store: ``ad_account_id`` and every option that differs from its
        default (so a stored destination follows ``DEFAULT_API_URL`` when it changes)."""
        options: dict[str, object] = {"ad_account_id": self.ad_account_id}
        return options | changed(self, _DEFAULTS)

    def to_secrets(self) -> dict[str, Secret]:
        """The secrets to store (encrypted), by field name."""
        secrets = {"access_token": self.access_token}
        if self.reporting_access_token:
            secrets["reporting_access_token"] = self.reporting_access_token
        return secrets

    @property
    def events_url(self) -> str:
        """``{api_url}/api/v2.0/conversions/events/{ad_account_id}``."""
        return self.api_url.rstrip("/") + events_path(self.ad_account_id)

    @classmethod
    def example(cls) -> RedditConfig:
        """A valid configuration with a placeholder account id and token, for docs and tests."""
        return cls(
            ad_account_id="a2_examplexyz12", access_token=Secret("exampleredditconversiontoken")
        )


def _account_id(value: object) -> str:
    if value is None:
        raise ConfigError(
            "reddit destination: ad_account_id is required (the ad account id shown in Reddit"
            " Ads Manager, such as 'a2_abc123xyz')"
        )
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value.strip()):
        raise ConfigError(
            "reddit destination: ad_account_id must be the ad account id shown in Reddit Ads"
            " Manager (letters, digits, '_' and '-', such as 'a2_abc123xyz')"
        )
    return value.strip()
