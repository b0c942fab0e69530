"""Settings of a Google Ads destination sent through the Data Manager API, and its limits.

Options are stored with the destination (``to_mapping``) and read back with ``from_mapping``.
The credential is one of two kinds, given as secret fields (``SECRET_FIELDS``), stored apart
and encrypted as :class:`~signalyard.secret.Secret` values, never in an option mapping, a
repr or a message:

- a **service account**: ``service_account_key``, the JSON key file's content
  (``client_email``, ``private_key``, ``private_key_id``, ``token_uri``);
- a **user's OAuth credential**: ``client_id``, ``client_secret`` and ``refresh_token``.

Exactly one kind must be given: both, or a part of the user credential, is a
:class:`~signalyard.errors.ConfigError` naming what is missing or extra.

Reading the destination's claims (``sinks/google/reporting.py``) goes through the Google Ads
API instead, with the same credential (authorized for :data:`ADWORDS_SCOPE` too) and one more
secret, the optional ``developer_token``; its options ``ads_api_url`` and ``ads_api_version``
have defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import orjson

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.options import base_url, changed, check_known, flag, timeout
from signalyard.sinks.secret_fields import SecretField, checked_secrets

__all__ = [
    "ADS_API_VERSION",
    "ADWORDS_SCOPE",
    "API_VERSION",
    "DATAMANAGER_SCOPE",
    "DEFAULT_ADS_API_URL",
    "DEFAULT_API_URL",
    "DEFAULT_TOKEN_URL",
    "EVENT_SOURCES",
    "MAX_AGE_SECONDS",
    "MAX_BATCH",
    "MAX_USER_IDENTIFIERS",
    "SECRET_FIELDS",
    "GoogleConfig",
    "ServiceAccountKey",
    "UserCredential",
]

API_VERSION = "v1"
"""The Data Manager API version in the path (``/v1/events:ingest``)."""
DEFAULT_API_URL = "https://datamanager.googleapis.com"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com"
"""Google's OAuth 2.0 token endpoint is ``{token_url}/token``."""
DATAMANAGER_SCOPE = "https://www.googleapis.com/auth/datamanager"
ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"
"""The Google Ads API's OAuth scope: reading the claims (reporting) needs it."""
DEFAULT_ADS_API_URL = "https://googleads.googleapis.com"
ADS_API_VERSION = "v26"
"""The Google Ads API version in the reporting path (``/v26/customers/...``): the newest
major version (released 2026-10-14); Google sunsets a major version about a year after its
release, so the option ``ads_api_version`` can name a newer one without a code change."""

MAX_BATCH = 2000
"""The Data Manager API takes at most 2,000 events in one ``events:ingest`` request."""
MAX_USER_IDENTIFIERS = 10
"""At most 10 user identifiers per event."""
MAX_AGE_SECONDS = 90 * 86400
"""Assumed: Google documents only "older than max supported age"
(``PROCESSING_ERROR_REASON_EVENT_TOO_OLD``); 90 days is the longest Google Ads click-through
conversion window, and the sandbox's assumption too."""
REQUESTS_PER_MINUTE = 300
"""The Data Manager API's request quota (per minute); the worker stays within it."""

EVENT_SOURCES = ("WEB", "APP", "IN_STORE", "PHONE", "OTHER")
"""``Event.eventSource`` values (required for Google Ads conversions since v1.2)."""

SECRET_FIELDS = (
    SecretField(
        "service_account_key",
        required=False,
        help="a service account's JSON key file, whole: Google Cloud console → IAM & Admin →"
        " Service accounts → the account → Keys → Add key → JSON (the account's email must"
        " have access to the Google Ads account); or give client_id, client_secret and"
        " refresh_token instead",
    ),
    SecretField(
        "client_id",
        required=False,
        help="an OAuth client id (…apps.googleusercontent.com): Google Cloud console → APIs &"
        " Services → Credentials → OAuth client ID (Desktop app)",
    ),
    SecretField(
        "client_secret",
        required=False,
        help="that OAuth client's secret (GOCSPX-…), shown with the client id",
    ),
    SecretField(
        "refresh_token",
        required=False,
        help="a refresh token for that client, of a Google user with access to the Google Ads"
        " account, authorized for the scope https://www.googleapis.com/auth/datamanager"
        " (e.g. `gcloud auth application-default login --client-id-file=client.json"
        " --scopes=https://www.googleapis.com/auth/datamanager`; add"
        " https://www.googleapis.com/auth/adwords to the scopes to fetch the claims too)",
    ),
    SecretField(
        "developer_token",
        required=False,
        help="only to fetch the claims (Google Ads API): the developer token of the manager"
        " account, Google Ads → Tools → Setup → API Center (22 characters; Basic or Standard"
        " access to read a production account)",
    ),
)

_USER_FIELDS = ("client_id", "client_secret", "refresh_token")
_ACCOUNT_ID = re.compile(r"[0-9]{1,20}")
_ADS_VERSION = re.compile(r"v[1-9][0-9]{0,2}")
_DEFAULTS: dict[str, object] = {
    "login_account_id": None,
    "event_source": "WEB",
    "api_url": DEFAULT_API_URL,
    "token_url": DEFAULT_TOKEN_URL,
    "validate_only": False,
    "timeout_seconds": 10.0,
    "ads_api_url": DEFAULT_ADS_API_URL,
    "ads_api_version": ADS_API_VERSION,
}
"""Defaults of the stored options; the dataclass fields below repeat them."""


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    """What the sink uses of a service account's JSON key (the key itself stays a Secret)."""

    client_email: str
    private_key: Secret
    private_key_id: str | None

    def __repr__(self) -> str:
        return f"ServiceAccountKey(client_email={self.client_email!r})"


@dataclass(frozen=True, slots=True)
class UserCredential:
    client_id: Secret
    client_secret: Secret
    refresh_token: Secret


Credential = ServiceAccountKey | UserCredential
CredentialKind = Literal["service_account", "user"]


@dataclass(frozen=True, slots=True)
class GoogleConfig:
    operating_account_id: str
    """The Google Ads customer id that owns the conversion action, digits only."""
    conversion_action_id: str
    """The conversion action's id: the destination's ``productDestinationId``."""
    secrets: Mapping[str, Secret]
    """The credential's secret fields as given, and ``developer_token`` when set
    (``to_secrets``); see :attr:`credential`."""
    login_account_id: str | None = None
    """The manager (MCC) account the credential signs in with, when not the operating one."""
    event_source: str = "WEB"
    api_url: str = DEFAULT_API_URL
    """Where the Data Manager API is; may carry a path prefix (the sandbox's)."""
    token_url: str = DEFAULT_TOKEN_URL
    """Where the OAuth token endpoint is: the sink posts to ``{token_url}/token``."""
    validate_only: bool = False
    """Every request is only validated by Google, nothing is recorded (for testing)."""
    timeout_seconds: float = 10.0
    ads_api_url: str = DEFAULT_ADS_API_URL
    """Where the Google Ads API is (reading the claims); may carry a path prefix (the
    sandbox's)."""
    ads_api_version: str = ADS_API_VERSION
    """The Google Ads API version in the reporting path (``v26``)."""

    def __repr__(self) -> str:
        return (
            f"GoogleConfig(operating_account_id={self.operating_account_id!r},"
            f" conversion_action_id={self.conversion_action_id!r},"
            f" login_account_id={self.login_account_id!r}, credential={self.credential_kind!r},"
            f" api_url={self.api_url!r}, token_url={self.token_url!r},"
            f" validate_only={self.validate_only!r}, ads_api_url={self.ads_api_url!r})"
        )

    @property
    def credential_kind(self) -> CredentialKind:
        return "service_account" if "service_account_key" in self.secrets else "user"

    @property
    def credential(self) -> Credential:
        """The credential, parsed (the config was checked when built)."""
        if "service_account_key" in self.secrets:
            return _service_account(self.secrets["service_account_key"])
        return UserCredential(*(self.secrets[name] for name in _USER_FIELDS))

    @property
    def developer_token(self) -> Secret | None:
        """The Google Ads API developer token (reading the claims), when set."""
        return self.secrets.get("developer_token")

    @property
    def search_stream_url(self) -> str:
        """``POST`` here to query the operating account with GAQL (Google Ads API)."""
        return (
            f"{self.ads_api_url.rstrip('/')}/{self.ads_api_version}/customers/"
            f"{self.operating_account_id}/googleAds:searchStream"
        )

    @property
    def ingest_url(self) -> str:
        return f"{self.api_url.rstrip('/')}/{API_VERSION}/events:ingest"

    @property
    def token_endpoint(self) -> str:
        return f"{self.token_url.rstrip('/')}/token"

    @classmethod
    def from_mapping(
        cls, options: Mapping[str, object], secrets: Mapping[str, Secret]
    ) -> GoogleConfig:
        """Validate stored or user-given options and secrets; raise ``ConfigError`` naming
        the option or secret."""
        known = {f.name for f in fields(cls)} - {"secrets"}
        check_known("google", options, known)
        given = checked_secrets("google", SECRET_FIELDS, secrets)
        present = _credential_secrets(given)
        if "developer_token" in given:
            present["developer_token"] = _developer_token(given["developer_token"])
        merged = {**_DEFAULTS, **options}
        return cls(
            operating_account_id=_account_id(
                "operating_account_id", merged.get("operating_account_id"), required=True
            )
            or "",
            conversion_action_id=_account_id(
                "conversion_action_id", merged.get("conversion_action_id"), required=True
            )
            or "",
            secrets=present,
            login_account_id=_account_id(
                "login_account_id", merged["login_account_id"], required=False
            ),
            event_source=_event_source(merged["event_source"]),
            api_url=base_url("google", "api_url", merged["api_url"], DEFAULT_API_URL),
            token_url=base_url("google", "token_url", merged["token_url"], DEFAULT_TOKEN_URL),
            validate_only=flag("google", "validate_only", merged["validate_only"]),
            timeout_seconds=timeout("google", merged["timeout_seconds"], text=True),
            ads_api_url=base_url(
                "google", "ads_api_url", merged["ads_api_url"], DEFAULT_ADS_API_URL
            ),
            ads_api_version=_ads_version(merged["ads_api_version"]),
        )

    def to_mapping(self) -> dict[str, object]:
        """The options to store: the ids and every option that differs from its default."""
        options: dict[str, object] = {
            "operating_account_id": self.operating_account_id,
            "conversion_action_id": self.conversion_action_id,
        }
        return options | changed(self, _DEFAULTS)

    def to_secrets(self) -> dict[str, Secret]:
        return dict(self.secrets)

    @classmethod
    def example(cls) -> GoogleConfig:
        """A valid configuration with placeholder ids, a placeholder user credential and
        developer token (its claims are fetched from a fresh sandbox with it)."""
        return cls(
            operating_account_id="1234567890",
            conversion_action_id="987654321",
            secrets={
                "client_id": Secret("123456789012-example.apps.googleusercontent.com"),
                "client_secret": Secret("GOCSPX-example-secret"),
                "refresh_token": Secret("1//0example-refresh-token"),
                "developer_token": Secret("EXAMPLE-developer-token"),
            },
        )


def _credential_secrets(present: dict[str, Secret]) -> dict[str, Secret]:
    has_key = "service_account_key" in present
    user = [name for name in _USER_FIELDS if name in present]
    if has_key and user:
        raise ConfigError(
            "google destination: give one credential, not both: either service_account_key,"
            f" or client_id, client_secret and refresh_token (also set: {', '.join(user)})"
        )
    if has_key:
        _service_account(present["service_account_key"])  # raises when unusable
        return {"service_account_key": present["service_account_key"]}
    if not user:
        raise ConfigError(
            "google destination: a credential is required: either the secret"
            " service_account_key (a service account's JSON key file) or the secrets"
            " client_id, client_secret and refresh_token (a user's OAuth refresh token)"
        )
    missing = [name for name in _USER_FIELDS if name not in present]
    if missing:
        raise ConfigError(
            f"google destination: the user credential also needs {', '.join(missing)}"
            " (client_id, client_secret and refresh_token go together)"
        )
    return {name: present[name] for name in _USER_FIELDS}


def _developer_token(secret: Secret) -> Secret:
    """The developer token, checked without showing it: one line of printable characters."""
    text = secret.reveal()
    if text != text.strip() or not text.isprintable() or len(text) > 200:
        raise ConfigError(
            "google destination: developer_token must be the token as the API Center shows"
            " it (one line, no spaces around it)"
        )
    return secret


def _ads_version(value: object) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if not isinstance(text, str) or not _ADS_VERSION.fullmatch(text):
        raise ConfigError(
            f"google destination: ads_api_version must be a Google Ads API version such as"
            f" {ADS_API_VERSION!r} (got {value!r})"
        )
    return text


def _service_account(secret: Secret) -> ServiceAccountKey:
    """The parts of a service account's JSON key the sink uses; ``ConfigError`` saying what
    is wrong without showing any of it."""
    problem = "google destination: service_account_key must be a service account's JSON key file"
    try:
        info: Any = orjson.loads(secret.reveal())
    except orjson.JSONDecodeError:
        raise ConfigError(f"{problem} (its whole content; it is not JSON)") from None
    if not isinstance(info, dict):
        raise ConfigError(f"{problem} (a JSON object)")
    kind = info.get("type")
    if kind is not None and kind != "service_account":
        raise ConfigError(
            f"{problem}: this one is of type {str(kind)[:40]!r}, not 'service_account'"
        )
    email, key = info.get("client_email"), info.get("private_key")
    if not isinstance(email, str) or "@" not in email:
        raise ConfigError(f"{problem}: it has no client_email")
    if not isinstance(key, str) or "PRIVATE KEY" not in key:
        raise ConfigError(f"{problem}: it has no private_key")
    from signalyard.sinks.google.auth import load_signer

    try:
        load_signer(key, None)
    except ValueError:
        raise ConfigError(f"{problem}: its private_key cannot be read as an RSA key") from None
    key_id = info.get("private_key_id")
    return ServiceAccountKey(
        client_email=email,
        private_key=Secret(key),
        private_key_id=key_id if isinstance(key_id, str) and key_id else None,
    )


def _account_id(name: str, value: object, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise ConfigError(f"google destination: {name} is required ({_ID_HELP[name]})")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        value = value.strip().replace("-", "") if name != "conversion_action_id" else value.strip()
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value):
        raise ConfigError(f"google destination: {name} must be digits ({_ID_HELP[name]})")
    return value


_ID_HELP = {
    "operating_account_id": "the Google Ads customer id that owns the conversion action,"
    " e.g. 123-456-7890 or 1234567890",
    "login_account_id": "the manager account's customer id, when the credential reaches the"
    " account through a manager account",
    "conversion_action_id": "the conversion action's id: Goals → Conversions → the action,"
    " the ctId in its URL",
}


def _event_source(value: object) -> str:
    text = value.strip().upper() if isinstance(value, str) else value
    if text not in EVENT_SOURCES:
        raise ConfigError(
            f"google destination: event_source must be one of {', '.join(EVENT_SOURCES)}"
            f" (got {value!r})"
        )
    return str(text)
