"""Settings of a TikTok Events API 2.0 destination, its API version and its limits.

Options are stored with the destination (``to_mapping``) and read back with ``from_mapping``;
the secrets (``SECRET_FIELDS``: the Events API ``access_token``, and the optional
``reporting_access_token`` that reads the advertiser's reports) are stored apart and
encrypted, as :class:`~signalyard.secret.Secret`, and never appear in an option mapping, a
repr or a message. ``advertiser_id`` (optional) names the ad account whose claims
:mod:`signalyard.sinks.tiktok.reporting` reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.options import base_url, changed, optional_code, read, timeout
from signalyard.sinks.secret_fields import SecretField

__all__ = [
    "API_VERSION",
    "DEFAULT_API_URL",
    "EVENT_SOURCES",
    "MAX_AGE_SECONDS",
    "MAX_BATCH",
    "SECRET_FIELDS",
    "TRACK_PATH",
    "TikTokConfig",
]

API_VERSION = "v1.3"
"""The Business API version of the Events API 2.0 track endpoint (the only place it is named)."""

TRACK_PATH = f"/open_api/{API_VERSION}/event/track/"
"""The track endpoint, under ``api_url``."""

DEFAULT_API_URL = "https://business-api.tiktok.com"

MAX_BATCH = 1000
"""TikTok takes at most 1,000 events in one request (reference §3, RudderStack citing TikTok)."""

MAX_AGE_SECONDS = 7 * 24 * 3600
"""TikTok documents no event-age limit for the Events API (reference §3: unconfirmed). Seven
days is a conservative choice: it is the age limit the gateway already keeps for events held
for consent and for delivered rows, TikTok's deduplication against the pixel only works
within 48 hours, and the default click-through attribution window of a TikTok campaign is 7
days, so an older web event can no longer be attributed to a TikTok click anyway. Events
older than this are dead-lettered (with that reason) rather than sent; replaying them is
possible if TikTok is found to accept them."""

EVENT_SOURCES = ("web", "app", "offline", "crm")
"""``event_source``: a pixel (``web``), an app, an offline or a CRM event set."""

SECRET_FIELDS = (
    SecretField(
        "access_token",
        required=True,
        help=(
            "an Events API access token: TikTok Events Manager → the pixel → Settings → "
            "Generate access token"
        ),
    ),
    SecretField(
        "reporting_access_token",
        required=False,
        help=(
            "a Marketing API access token with the Reporting and Ad Account Management"
            " scopes, to read the advertiser's reports (TikTok API for Business → My Apps →"
            " the app, authorized by the advertiser); unset: access_token is tried"
        ),
    ),
)

_SOURCE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_ADVERTISER_ID = re.compile(r"[0-9]{1,32}")
_DEFAULTS: dict[str, object] = {
    "event_source": "web",
    "api_url": DEFAULT_API_URL,
    "test_event_code": None,
    "partner_name": None,
    "timeout_seconds": 10.0,
    "advertiser_id": None,
}
"""Defaults of the stored options; the dataclass fields below repeat them."""


@dataclass(frozen=True, slots=True)
class TikTokConfig:
    pixel_code: str
    """The ``event_source_id``: the pixel code for ``web``, the event set id otherwise."""
    access_token: Secret
    event_source: str = "web"
    api_url: str = DEFAULT_API_URL
    """Where the Business API is; may carry a path prefix
    (``http://127.0.0.1:8088/sandbox/tiktok``)."""
    test_event_code: str | None = None
    """Sends every event to Events Manager → Test Events. Remove it in production."""
    partner_name: str | None = None
    """TikTok's ``partner_name``, for registered integration partners only."""
    timeout_seconds: float = 10.0
    advertiser_id: str | None = None
    """The ad account (TikTok Ads Manager → the account's id, digits) whose reports give the
    claims; ``None``: no claims are fetched."""
    reporting_access_token: Secret | None = None
    """The Marketing API token that reads the reports; ``None``: ``access_token`` is tried
    (an Events API token usually cannot read reports)."""

    @classmethod
    def from_mapping(
        cls, options: Mapping[str, object], secrets: Mapping[str, Secret]
    ) -> TikTokConfig:
        """Validate stored or user-given options and secrets; raise ``ConfigError`` naming
        the option or secret."""
        merged, present = read("tiktok", cls, options, secrets, SECRET_FIELDS, _DEFAULTS)
        return cls(
            pixel_code=_pixel_code(merged.get("pixel_code")),
            access_token=present["access_token"],
            event_source=_event_source(merged["event_source"]),
            api_url=base_url("tiktok", "api_url", merged["api_url"], DEFAULT_API_URL),
            test_event_code=optional_code("tiktok", "test_event_code", merged["test_event_code"]),
            partner_name=optional_code("tiktok", "partner_name", merged["partner_name"]),
            timeout_seconds=timeout("tiktok", merged["timeout_seconds"]),
            advertiser_id=_advertiser_id(merged["advertiser_id"]),
            reporting_access_token=present.get("reporting_access_token"),
        )

    def to_mapping(self) -> dict[str, object]:
        """The options to store: ``pixel_code`` and every option that differs from its
        default (so a stored destination follows ``DEFAULT_API_URL`` when it changes)."""
        options: dict[str, object] = {"pixel_code": self.pixel_code}
        return options | changed(self, _DEFAULTS)

    def to_secrets(self) -> dict[str, Secret]:
        """The secrets to store (encrypted), by field name."""
        secrets = {"access_token": self.access_token}
        if self.reporting_access_token:
            secrets["reporting_access_token"] = self.reporting_access_token
        return secrets

    @classmethod
    def example(cls) -> TikTokConfig:
        """A valid configuration with a placeholder pixel code and token, for docs and tests."""
        return cls(pixel_code="CABC123DEF456GHI789J", access_token=Secret("exampletiktoktoken"))


def _pixel_code(value: object) -> str:
    if value is None:
        raise ConfigError(
            "tiktok destination: pixel_code is required (the pixel code, or the event set id"
            " for event_source app/offline/crm)"
        )
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # an event set id may be given as a number
    if not isinstance(value, str) or not _SOURCE_ID.fullmatch(value.strip()):
        raise ConfigError(
            "tiktok destination: pixel_code must be the pixel code shown in Events Manager"
            " (letters and digits, such as 'CABC123DEF456GHI789J')"
        )
    return value.strip()


def _event_source(value: object) -> str:
    if not isinstance(value, str) or value.strip() not in EVENT_SOURCES:
        raise ConfigError(
            f"tiktok destination: event_source must be one of {', '.join(EVENT_SOURCES)}"
            f" (got {value!r})"
        )
    return value.strip()


def _advertiser_id(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # an id may be given as a number
    if not isinstance(value, str) or not _ADVERTISER_ID.fullmatch(value.strip()):
        raise ConfigError(
            "tiktok destination: advertiser_id must be the ad account's id, digits only"
            " (TikTok Ads Manager → the account's id, such as '7012345678901234567'), or unset"
        )
    return value.strip()
