"""Settings of a Google Analytics 4 destination sent through the Measurement Protocol, and
GA4's limits.

Options are stored with the destination (``to_mapping``) and read back with ``from_mapping``;
the Measurement Protocol API secret is its one secret field (``SECRET_FIELDS``), stored apart
and encrypted as a :class:`~signalyard.secret.Secret`. GA4 takes it in the query string, so
the sink masks it in every message and never shows a URL that carries it.
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
    "COLLECT_PATH",
    "DEBUG_PATH",
    "DEFAULT_API_URL",
    "EU_API_URL",
    "MAX_AGE_SECONDS",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_EVENTS_PER_REQUEST",
    "MISSING_CLIENT_ID",
    "SECRET_FIELDS",
    "GA4Config",
]

API_VERSION = "mp"
"""GA4's Measurement Protocol has no version number: its paths are ``/mp/collect`` and the
validation server's ``/debug/mp/collect`` (the only place they are named)."""
COLLECT_PATH = f"/{API_VERSION}/collect"
DEBUG_PATH = f"/debug/{API_VERSION}/collect"

DEFAULT_API_URL = "https://www.google-analytics.com"
EU_API_URL = "https://region1.google-analytics.com"
"""Google's host that collects and processes the data in the EU."""

MAX_EVENTS_PER_REQUEST = 25
"""GA4 takes at most 25 events in one request (Measurement Protocol reference)."""
MAX_BATCH = 25
"""Events the sink takes in one batch (``Sink.send``). ``client_id``, ``user_data``,
``consent``, ``ip_override`` and ``timestamp_micros`` belong to the *request*, not to an
event: one request speaks for one user at one time, and the worker's batches mix users, so
the sink sends each event of a batch in its own request (GA4's 25-event limit per request is
checked all the same)."""
MAX_BODY_BYTES = 130 * 1024
"""GA4 refuses POST bodies over 130 kB (sending-events, "Limitations")."""
MAX_AGE_SECONDS = 72 * 3600
"""``timestamp_micros`` may backdate an event by at most 72 hours (Google's Measurement
Protocol reference): older events are dead-lettered by the worker before they are sent."""

MISSING_CLIENT_ID = ("generate", "reject")
"""What to do with an event that carries no GA client id (no ``_ga`` cookie passed on):

- ``generate``: send it with a random client id made for that event alone, in GA's own
  ``<random>.<seconds>`` form; derived from nothing about the person, so never personal,
  but GA4 counts every such event as a new user (as it does consent mode's cookieless pings);
- ``reject``: dead-letter it ("no client_id: install the browser script with the Google
  tag"), so that GA4 only hears of events it can tie to a browser.
"""

SECRET_FIELDS = (
    SecretField(
        "api_secret",
        required=True,
        help=(
            "a Measurement Protocol API secret: Google Analytics → Admin → Data streams → the"
            " web stream → Measurement Protocol API secrets → Create"
        ),
    ),
)

_MEASUREMENT_ID = re.compile(r"G-[A-Z0-9]{4,20}")
_SECRET_LIKE = re.compile(r"[A-Za-z0-9_-]{8,100}")
_DEFAULTS: dict[str, object] = {
    "api_url": DEFAULT_API_URL,
    "validate_only": False,
    "prevalidate": True,
    "missing_client_id": "generate",
    "timeout_seconds": 10.0,
}
"""Defaults of the stored options; the dataclass fields below repeat them."""


@dataclass(frozen=True, slots=True)
class GA4Config:
    measurement_id: str
    """The web stream's measurement id, ``G-`` and letters and digits."""
    api_secret: Secret
    api_url: str = DEFAULT_API_URL
    """Where the Measurement Protocol is (``EU_API_URL`` for EU processing); may carry a
    path prefix (the sandbox's)."""
    validate_only: bool = False
    """Every request goes to GA4's validation server only: checked, never counted."""
    prevalidate: bool = True
    """Each request is first checked by GA4's validation server, and sent to ``/mp/collect``
    only when it finds nothing: GA4 drops an invalid event silently, so this is the only way
    to hear of it (twice the requests; ``false`` relies on Signalyard's own checks of GA4's
    documented rules alone)."""
    missing_client_id: str = "generate"
    """See :data:`MISSING_CLIENT_ID`."""
    timeout_seconds: float = 10.0

    def __repr__(self) -> str:
        return (
            f"GA4Config(measurement_id={self.measurement_id!r}, api_url={self.api_url!r},"
            f" validate_only={self.validate_only!r}, prevalidate={self.prevalidate!r},"
            f" missing_client_id={self.missing_client_id!r})"
        )

    @property
    def collect_url(self) -> str:
        """``{api_url}/mp/collect`` (the query string is added when sending)."""
        return self.api_url.rstrip("/") + COLLECT_PATH

    @property
    def debug_url(self) -> str:
        """``{api_url}/debug/mp/collect``: GA4's validation server."""
        return self.api_url.rstrip("/") + DEBUG_PATH

    @classmethod
    def from_mapping(
        cls, options: Mapping[str, object], secrets: Mapping[str, Secret]
    ) -> GA4Config:
        """Validate stored or user-given options and secrets; raise ``ConfigError`` naming
        the option or secret."""
        merged, present = read("ga4", cls, options, secrets, SECRET_FIELDS, _DEFAULTS)
        secret = present["api_secret"]
        if not _SECRET_LIKE.fullmatch(secret.reveal()):
            raise ConfigError(
                "ga4 destination: the secret api_secret must be the API secret's value as GA4"
                " shows it (8 to 100 letters, digits, '-' or '_')"
            )
        return cls(
            measurement_id=_measurement_id(merged.get("measurement_id")),
            api_secret=secret,
            api_url=base_url("ga4", "api_url", merged["api_url"], DEFAULT_API_URL),
            validate_only=flag("ga4", "validate_only", merged["validate_only"]),
            prevalidate=flag("ga4", "prevalidate", merged["prevalidate"]),
            missing_client_id=_choice(merged["missing_client_id"]),
            timeout_seconds=timeout("ga4", merged["timeout_seconds"], text=True),
        )

    def to_mapping(self) -> dict[str, object]:
        """The options to store: ``measurement_id`` and every option that differs from its
        default (so a stored destination follows ``DEFAULT_API_URL`` when it changes)."""
        options: dict[str, object] = {"measurement_id": self.measurement_id}
        return options | changed(self, _DEFAULTS)

    def to_secrets(self) -> dict[str, Secret]:
        """The secrets to store (encrypted), by field name."""
        return {"api_secret": self.api_secret}

    @classmethod
    def example(cls) -> GA4Config:
        """A valid configuration with a placeholder measurement id and API secret."""
        return cls(measurement_id="G-EXAMPLE123", api_secret=Secret("ExampleApiSecret_0123"))


def _measurement_id(value: object) -> str:
    if value is None or value == "":
        raise ConfigError(
            "ga4 destination: measurement_id is required (the web stream's measurement id,"
            " such as 'G-ABC123DEF4': Admin → Data streams → the web stream)"
        )
    text = value.strip().upper() if isinstance(value, str) else None
    if text is None or not _MEASUREMENT_ID.fullmatch(text):
        raise ConfigError(
            "ga4 destination: measurement_id must be a GA4 measurement id, 'G-' and letters"
            f" and digits such as 'G-ABC123DEF4' (got {str(value)[:40]!r}); a 'UA-' property"
            " or a Firebase app id is not supported"
        )
    return text


def _choice(value: object) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in MISSING_CLIENT_ID:
        raise ConfigError(
            f"ga4 destination: missing_client_id must be one of {', '.join(MISSING_CLIENT_ID)}"
            f" (got {value!r})"
        )
    return str(text)
