"""Settings of a LinkedIn Conversions API destination, its API version and its limits.

Options are stored with the destination (``to_mapping``) and read back with ``from_mapping``;
the OAuth 2.0 access token is its one secret field (``SECRET_FIELDS``), stored apart and
encrypted, as a :class:`~signalyard.secret.Secret`, and never appears in an option mapping, a
repr or a message.

There is no refresh-token field: LinkedIn issues programmatic refresh tokens only to
approved Marketing Developer Platform partners, so a member's 60-day access token is what an
operator has. When it expires or is revoked the destination is paused with the fix
(``signalyard destinations set-secret <name> access_token``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.options import base_url, changed, read, timeout
from signalyard.sinks.secret_fields import SecretField

__all__ = [
    "ACCOUNT_URN_PREFIX",
    "API_VERSION",
    "CONVERSION_URN_PREFIX",
    "DEFAULT_API_URL",
    "EVENTS_PATH",
    "MAX_AGE_SECONDS",
    "MAX_BATCH",
    "RESTLI_PROTOCOL_VERSION",
    "RULES_PATH",
    "SECRET_FIELDS",
    "LinkedInConfig",
]

API_VERSION = "202603"
"""The ``LinkedIn-Version`` header (YYYYMM), the only place it is named. LinkedIn retires a
version about a year after its release (202511 sunsets on 2026-11-16) and then answers HTTP
426 ``NONEXISTENT_VERSION``: moving it forward is a Signalyard release."""

RESTLI_PROTOCOL_VERSION = "2.0.0"
"""The ``X-Restli-Protocol-Version`` header every ``/rest`` call carries."""

EVENTS_PATH = "/rest/conversionEvents"
"""The conversion events resource, under ``api_url`` (``POST``, ``BATCH_CREATE``)."""

RULES_PATH = "/rest/conversions"
"""The conversion rules resource (``GET /rest/conversions/{id}``: the pre-flight read)."""

CONVERSION_URN_PREFIX = "urn:lla:llaPartnerConversion:"
ACCOUNT_URN_PREFIX = "urn:li:sponsoredAccount:"

DEFAULT_API_URL = "https://api.linkedin.com"

MAX_BATCH = 5000
"""LinkedIn takes at most 5,000 events in one ``BATCH_CREATE`` request."""

MAX_AGE_SECONDS = 90 * 24 * 3600
"""LinkedIn refuses a conversion that happened more than 90 days ago."""

SECRET_FIELDS = (
    SecretField(
        "access_token",
        required=True,
        help=(
            "a 3-legged OAuth 2.0 access token with the scopes rw_conversions and r_ads, of a"
            " member with a role on the ad account: LinkedIn Developer Portal → your app →"
            " Auth → OAuth 2.0 tools → Create token"
        ),
    ),
)

_ID = re.compile(r"[0-9]{1,20}")
_DEFAULTS: dict[str, object] = {"api_url": DEFAULT_API_URL, "timeout_seconds": 10.0}
"""Defaults of the stored options; the dataclass fields below repeat them."""


@dataclass(frozen=True, slots=True)
class LinkedInConfig:
    conversion_rule_id: str
    """The conversion rule (created with ``conversionMethod: CONVERSIONS_API``) that every
    event of this destination counts for; sent as ``urn:lla:llaPartnerConversion:<id>``."""
    ad_account_id: str
    """The ad account the rule belongs to (``urn:li:sponsoredAccount:<id>``): read by the
    pre-flight check."""
    access_token: Secret
    api_url: str = DEFAULT_API_URL
    """Where LinkedIn's API is; may carry a path prefix
    (``http://127.0.0.1:8088/sandbox/linkedin``)."""
    timeout_seconds: float = 10.0

    @property
    def conversion_urn(self) -> str:
        return CONVERSION_URN_PREFIX + self.conversion_rule_id

    @property
    def account_urn(self) -> str:
        return ACCOUNT_URN_PREFIX + self.ad_account_id

    def __repr__(self) -> str:
        return (
            f"LinkedInConfig(conversion_rule_id={self.conversion_rule_id!r},"
            f" ad_account_id={self.ad_account_id!r}, api_url={self.api_url!r})"
        )

    @classmethod
    def from_mapping(
        cls, options: Mapping[str, object], secrets: Mapping[str, Secret]
    ) -> LinkedInConfig:
        """Validate stored or user-given options and secrets; raise ``ConfigError`` naming
        the option or secret."""
        merged, present = read("linkedin", cls, options, secrets, SECRET_FIELDS, _DEFAULTS)
        return cls(
            conversion_rule_id=_id(
                "conversion_rule_id", merged.get("conversion_rule_id"), CONVERSION_URN_PREFIX
            ),
            ad_account_id=_id("ad_account_id", merged.get("ad_account_id"), ACCOUNT_URN_PREFIX),
            access_token=present["access_token"],
            api_url=base_url("linkedin", "api_url", merged["api_url"], DEFAULT_API_URL),
            timeout_seconds=timeout("linkedin", merged["timeout_seconds"]),
        )

    def to_mapping(self) -> dict[str, object]:
        """The options to store: the two ids and every option that differs from its default
        (so a stored destination follows ``DEFAULT_API_URL`` when it changes)."""
        options: dict[str, object] = {
            "conversion_rule_id": self.conversion_rule_id,
            "ad_account_id": self.ad_account_id,
        }
        return options | changed(self, _DEFAULTS)

    def to_secrets(self) -> dict[str, Secret]:
        """The secrets to store (encrypted), by field name."""
        return {"access_token": self.access_token}

    @classmethod
    def example(cls) -> LinkedInConfig:
        """A valid configuration with placeholder ids and token, for docs and tests."""
        return cls(
            conversion_rule_id="104012",
            ad_account_id="512345678",
            access_token=Secret("examplelinkedinaccesstoken"),
        )


_WHAT = {
    "conversion_rule_id": (
        "the conversion rule's id (Campaign Manager → Analyze → Conversion tracking → the"
        " rule; or the id in its URN urn:lla:llaPartnerConversion:<id>)"
    ),
    "ad_account_id": (
        "the ad account's id (Campaign Manager shows it next to the account name; or the id in"
        " its URN urn:li:sponsoredAccount:<id>)"
    ),
}


def _id(name: str, value: object, urn_prefix: str) -> str:
    """A numeric id, given as digits, a number or its URN."""
    if value is None or value == "":
        raise ConfigError(f"linkedin destination: {name} is required: {_WHAT[name]}")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = value.strip() if isinstance(value, str) else None
    if text is not None and text.startswith(urn_prefix):
        text = text[len(urn_prefix) :]
    if text is None or not _ID.fullmatch(text):
        raise ConfigError(
            f"linkedin destination: {name} must be digits or {urn_prefix}<digits>"
            f" (got {value!r}): {_WHAT[name]}"
        )
    return text
