"""Settings of a Meta Conversions API destination, its API version and its limits.

Options are stored with the destination (``to_mapping``) and read back with ``from_mapping``;
the access token and the app secret are its secret fields (``SECRET_FIELDS``), stored apart
and encrypted, as :class:`~signalyard.secret.Secret` values, and never appear in an option
mapping, a repr or a message.
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
    "CLAIMS_WINDOWS",
    "DEFAULT_GRAPH_URL",
    "MAX_AGE_SECONDS",
    "MAX_BATCH",
    "SECRET_FIELDS",
    "MetaConfig",
]

API_VERSION = "v26.0"
"""The Graph API version every Meta destination uses unless its options pin another."""

DEFAULT_GRAPH_URL = "https://graph.facebook.com"

MAX_BATCH = 1000
"""Meta takes at most 1,000 events in one request."""

MAX_AGE_SECONDS = 7 * 24 * 3600
"""Meta refuses the whole request when one event is more than 7 days old."""

SECRET_FIELDS = (
    SecretField(
        "access_token",
        required=True,
        help="a Conversions API access token: Events Manager → the dataset → Settings",
    ),
    SecretField(
        "app_secret",
        required=False,
        help="the app's secret, to sign requests with appsecret_proof",
    ),
)

_PIXEL_ID = re.compile(r"[0-9]{1,32}")
_API_VERSION = re.compile(r"v[0-9]{1,3}\.[0-9]{1,3}")
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_DEFAULTS: dict[str, object] = {
    "graph_url": DEFAULT_GRAPH_URL,
    "api_version": API_VERSION,
    "test_event_code": None,
    "partner_agent": "signalyard",
    "timeout_seconds": 10.0,
    "ad_account_id": None,
    "claims_action_type": "offsite_conversion.fb_pixel_purchase",
    "claims_window": "7d_click",
}
"""Defaults of the stored options; the dataclass fields below repeat them."""


@dataclass(frozen=True, slots=True)
class MetaConfig:
    pixel_id: str
    """The pixel (dataset) id events are sent to."""
    access_token: Secret
    graph_url: str = DEFAULT_GRAPH_URL
    """Where the Graph API is; may carry a path prefix (``http://127.0.0.1:8088/sandbox/meta``)."""
    api_version: str = API_VERSION
    app_secret: Secret | None = None
    """When set, every request carries ``appsecret_proof``."""
    test_event_code: str | None = None
    """Sends every event to Events Manager → Test Events. Remove it in production."""
    partner_agent: str | None = "signalyard"
    timeout_seconds: float = 10.0
    ad_account_id: str | None = None
    """The ad account whose Ads Insights give Meta's claims (digits, without ``act_``);
    ``None``: claims are not fetched (``signalyard attribution fetch-claims``)."""
    claims_action_type: str = "offsite_conversion.fb_pixel_purchase"
    """The one action type counted as a claimed purchase (Insights lists the same purchases
    under several: ``purchase``, ``omni_purchase``, the pixel's; adding them counts twice)."""
    claims_window: str = "7d_click"
    """The attribution window the claims are read with (``1d_click``, ``7d_click``,
    ``28d_click``, ``1d_view``)."""

    @classmethod
    def from_mapping(
        cls, options: Mapping[str, object], secrets: Mapping[str, Secret]
    ) -> MetaConfig:
        """Validate stored or user-given options and secrets; raise ``ConfigError`` naming
        the option or secret."""
        merged, present = read("meta", cls, options, secrets, SECRET_FIELDS, _DEFAULTS)
        return cls(
            pixel_id=_pixel_id(merged.get("pixel_id")),
            access_token=present["access_token"],
            graph_url=base_url(
                "meta", "graph_url", merged["graph_url"], DEFAULT_GRAPH_URL, sandbox=False
            ),
            api_version=_api_version(merged["api_version"]),
            app_secret=present.get("app_secret"),
            test_event_code=optional_code("meta", "test_event_code", merged["test_event_code"]),
            partner_agent=optional_code("meta", "partner_agent", merged["partner_agent"]),
            timeout_seconds=timeout("meta", merged["timeout_seconds"]),
            ad_account_id=_ad_account_id(merged["ad_account_id"]),
            claims_action_type=_action_type(merged["claims_action_type"]),
            claims_window=_claims_window(merged["claims_window"]),
        )

    def to_mapping(self) -> dict[str, object]:
        """The options to store: ``pixel_id`` and every option that differs from its default.

        Defaults are left out on purpose, so a stored destination follows the code's
        ``API_VERSION`` and ``DEFAULT_GRAPH_URL`` when they change.
        """
        options: dict[str, object] = {"pixel_id": self.pixel_id}
        return options | changed(self, _DEFAULTS)

    def to_secrets(self) -> dict[str, Secret]:
        """The secrets to store (encrypted), by field name."""
        secrets = {"access_token": self.access_token}
        if self.app_secret:
            secrets["app_secret"] = self.app_secret
        return secrets

    @classmethod
    def example(cls) -> MetaConfig:
        """A valid configuration with placeholder ids and token, for docs and tests."""
        return cls(pixel_id="123456789012345", access_token=Secret("EAAexampletoken"))


def _pixel_id(value: object) -> str:
    if value is None:
        raise ConfigError("meta destination: pixel_id is required (the dataset/pixel id)")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _PIXEL_ID.fullmatch(value.strip()):
        raise ConfigError(
            "meta destination: pixel_id must be the numeric dataset (pixel) id "
            "shown in Events Manager"
        )
    return value.strip()


def _api_version(value: object) -> str:
    if not isinstance(value, str) or not _API_VERSION.fullmatch(value.strip()):
        raise ConfigError(
            f"meta destination: api_version must look like {API_VERSION!r} (got {value!r})"
        )
    return value.strip()


CLAIMS_WINDOWS = ("1d_click", "7d_click", "28d_click", "1d_view")
"""The windows Ads Insights still reports (``action_attribution_windows``)."""
_AD_ACCOUNT = re.compile(r"(?:act_)?([0-9]{1,32})")
_ACTION_TYPE = re.compile(r"[a-z0-9_.]{1,100}")


def _ad_account_id(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    match = _AD_ACCOUNT.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(
            "meta destination: ad_account_id must be the ad account's numeric id (with or"
            " without act_), as Ads Manager shows it"
        )
    return match.group(1)


def _action_type(value: object) -> str:
    if not isinstance(value, str) or not _ACTION_TYPE.fullmatch(value.strip()):
        raise ConfigError(
            "meta destination: claims_action_type must be an Insights action type such as"
            " offsite_conversion.fb_pixel_purchase"
        )
    return value.strip()


def _claims_window(value: object) -> str:
    if value not in CLAIMS_WINDOWS:
        raise ConfigError(
            f"meta destination: claims_window must be one of {', '.join(CLAIMS_WINDOWS)}"
        )
    return str(value)
