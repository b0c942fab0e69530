"""Settings of a Pinterest Conversions API destination, its API version and its limits.

Options are stored with the destination (``to_mapping``) and read back with ``from_mapping``;
the conversion access token and the optional ``reporting_access_token`` (a token with the
``ads:read`` scope, that reads the ad account's analytics for
:mod:`signalyard.sinks.pinterest.reporting`) are its secret fields (``SECRET_FIELDS``), stored
apart and encrypted, as :class:`~signalyard.secret.Secret`, and never appear in an option
mapping, a repr or a message.
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
    "PinterestConfig",
    "events_path",
]

API_VERSION = "v5"
"""The Pinterest API version of the conversions endpoint (the only place it is named)."""

DEFAULT_API_URL = "https://api.pinterest.com"

MAX_BATCH = 1000
"""Pinterest takes at most 1,000 events in one request (RudderStack, citing Pinterest's
conversions documentation; Tealium's connector batches 1,000 too)."""

MAX_AGE_SECONDS = 7 * 24 * 3600
"""Pinterest documents no maximum event age for the Conversions API; it only says that an
event received more than an hour after it happened is reported as an offline conversion.
Seven days is a conservative choice: the gateway already keeps held and delivered rows that
long, Pinterest's deduplication against its tag is meant for events sent close together,
and an older web event is reported as offline anyway. Older events are dead-lettered (with
that reason) rather than sent; replaying them is possible if Pinterest is found to accept
them."""

SECRET_FIELDS = (
    SecretField(
        "access_token",
        required=True,
        help=(
            "a conversion access token: Pinterest Ads Manager → Conversions → Conversion"
            " access token → Generate new token"
        ),
    ),
    SecretField(
        "reporting_access_token",
        required=False,
        help=(
            "an API v5 access token with the ads:read scope, to read the ad account's"
            " analytics (Pinterest Developers → My apps → the app, authorized by a user with"
            " Admin, Analyst or Campaign Manager access to the ad account); unset:"
            " access_token is tried"
        ),
    ),
)

_AD_ACCOUNT = re.compile(r"[0-9]{1,32}")
_DEFAULTS: dict[str, object] = {
    "api_url": DEFAULT_API_URL,
    "test": False,
    "timeout_seconds": 10.0,
}
"""Defaults of the stored options; the dataclass fields below repeat them."""


def events_path(ad_account_id: str) -> str:
    """``/v5/ad_accounts/{ad_account_id}/events``, under ``api_url``."""
    return f"/{API_VERSION}/ad_accounts/{ad_account_id}/events"


@dataclass(frozen=True, slots=True)
class PinterestConfig:
    ad_account_id: str
    """The ad account the conversions are reported to (digits, shown in Ads Manager)."""
    access_token: Secret
    api_url: str = DEFAULT_API_URL
    """Where the Pinterest API is; may carry a path prefix
    (``http://127.0.0.1:8088/sandbox/pinterest``)."""
    test: bool = False
    """Every request is sent with ``?test=true``: Pinterest checks the events and answers as
    usual, but records nothing. Remove it in production."""
    timeout_seconds: float = 10.0
    reporting_access_token: Secret | None = None
    """The API v5 token (scope ``ads:read``) that reads the ad account's analytics; ``None``:
    ``access_token`` is tried (a conversion access token usually cannot read analytics)."""

    @classmethod
    def from_mapping(
        cls, options: Mapping[str, object], secrets: Mapping[str, Secret]
    ) -> PinterestConfig:
        """Validate stored or user-given options and secrets; raise ``ConfigError`` naming
        the option or secret."""
        merged, present = read("pinterest", cls, options, secrets, SECRET_FIELDS, _DEFAULTS)
        return cls(
            ad_account_id=_ad_account(merged.get("ad_account_id")),
            access_token=present["access_token"],
            api_url=base_url("pinterest", "api_url", merged["api_url"], DEFAULT_API_URL),
            test=flag("pinterest", "test", merged["test"]),
            timeout_seconds=timeout("pinterest", merged["timeout_seconds"], text=True),
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

    @classmethod
    def example(cls) -> PinterestConfig:
        """A valid configuration with a placeholder ad account and token, for docs and tests."""
        return cls(ad_account_id="549755885175", access_token=Secret("examplepinteresttoken"))


def _ad_account(value: object) -> str:
    if value is None:
        raise ConfigError(
            "pinterest destination: ad_account_id is required (the ad account's id, shown in"
            " Ads Manager under the account's name)"
        )
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # an id may be given as a number
    if not isinstance(value, str) or not _AD_ACCOUNT.fullmatch(value.strip()):
        raise ConfigError(
            "pinterest destination: ad_account_id must be the ad account's id: digits only,"
            " such as '549755885175'"
        )
    return value.strip()
