"""Configuration, read once at the edge: an optional TOML file, then ``SIGNALYARD_*`` variables.

Precedence, lowest first: defaults, the TOML file (``--config`` or ``SIGNALYARD_CONFIG``),
environment variables. Nothing else in the package reads the environment.

Example ``signalyard.toml``::

    database_url = "sqlite:///var/lib/signalyard/signalyard.db"
    host = "0.0.0.0"
    port = 8088
    default_country = "VN"

    [delivery]
    concurrency = 4
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from signalyard.errors import ConfigError
from signalyard.secret import Secret

ENV_PREFIX = "SIGNALYARD_"
_T = TypeVar(
    "_T",
    "Settings",
    "DeliverySettings",
    "CollectSettings",
    "DashboardSettings",
    "AlertSettings",
    "AttributionSettings",
)
_TABLES = ("delivery", "collect", "dashboard", "alerts", "attribution")
_INT = re.compile(r"[+-]?[0-9]{1,12}")
_ONE_SANDBOX = re.compile(r"/sandbox/[A-Za-z0-9_-]+$")
"""The end of a ``sandbox_url`` of the older form, naming one kind's sandbox."""


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    concurrency: int = 4
    """Requests in flight at once per destination."""
    poll_seconds: float = 0.5
    """How often the worker looks for due events when nothing wakes it."""
    lease_seconds: float = 30.0
    """How long claimed rows stay reserved for their worker; renewed while it is sending, so
    this is how soon the rows of a worker that died are due again."""
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 600.0
    throttle_default_seconds: float = 60.0
    """How long a throttled destination waits when the platform does not say."""
    age_margin_seconds: float = 3600.0
    """Events this close to the platform's age limit are dead-lettered, not sent."""
    retention_days: float = 7.0
    """Delivered outbox rows, attempts and fully delivered events are deleted after this."""
    prune_interval_seconds: float = 600.0
    """How often each worker prunes (in short batches; several workers may run it). While
    deliveries are behind (a destination's claims come back full), a due pruning waits, for
    at most this long again."""


@dataclass(frozen=True, slots=True)
class CollectSettings:
    """The browser endpoint, ``/collect`` (``[collect]`` in TOML, ``SIGNALYARD_COLLECT_*``)."""

    trusted_proxies: str = ""
    """Comma-separated addresses or CIDR ranges of reverse proxies in front of Signalyard
    whose ``X-Forwarded-For`` is believed (``"127.0.0.1, 10.0.0.0/8"``). Empty: the client
    address is the connection's peer."""
    rate_limit_per_minute: int = 600
    """Requests per minute from one client address to one dataset; past it, 429."""
    max_body_bytes: int = 64 * 1024
    bodies_in_flight_bytes: int = 0
    """The part of the unkeyed share of ``bodies_in_flight_bytes`` kept for ``/collect``
    bodies, which hold only it, so that large unauthenticated bodies (webhooks, Graph with
    the token in the body) never take their room. 0: 1/16 of the unkeyed share (2 MiB with
    the defaults), at least ``max_body_bytes``."""
    max_events: int = 50
    filter_bots: bool = True
    """Ignore requests from known crawlers and HTTP libraries (answered 202, not stored)."""


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    """The web dashboard at ``/dashboard`` (``[dashboard]``, ``SIGNALYARD_DASHBOARD_*``)."""

    password: Secret = field(default_factory=lambda: Secret(""))
    """The admin password. Empty: the dashboard is off (its pages answer 404)."""
    session_secret: Secret = field(default_factory=lambda: Secret(""))
    """Key signing session cookies; empty: derived from the password (set it explicitly to
    rotate sessions independently). Several processes must share it."""
    session_hours: float = 12.0
    secure_cookies: bool = False
    """Mark the session cookie ``Secure`` (set when serving over HTTPS)."""


@dataclass(frozen=True, slots=True)
class AttributionSettings:
    """Attribution reports (``[attribution]``, ``SIGNALYARD_ATTRIBUTION_*``); the CLI's options
    and the dashboard's choices override them per report."""

    window_profile: str = "platform-default"
    """``platform-default`` (each platform's default click window) or ``max`` (the longest
    each offers)."""
    lens: str = "last_click"
    """``last_click`` (the default model), ``first_click``, ``linear``, ``position_based`` or
    ``time_decay``."""
    time_zone: str = "UTC"
    """The IANA time zone whose calendar days the reports count in (``Europe/Paris``)."""
    retention_days: float = 400.0
    """How long attribution keeps its evidence (orders, landings, clicks): a year of reports
    and the longest click window before it."""
    enabled: bool = True
    """The delivery worker takes new events in as attribution evidence before each pruning
    (reading a Purchase with full customer data costs about 50 µs of CPU, writing its
    evidence more). Off: it does not, and the attribution commands take in
    only the events still held when they run (events go after ``delivery.retention_days``)."""
    fetch_claims_hours: float = 6.0
    """How often the delivery worker fetches what each platform claims for the last
    ``fetch_claims_days`` days, from the reporting API of every destination whose reporting
    options are set (as ``signalyard attribution fetch-claims`` does), in the background;
    0 (or ``enabled`` off): never."""
    fetch_claims_days: int = 7
    """The days each fetch asks for, today included: platforms restate recent days."""
    reporting_currency: str = ""
    """Every amount of the reports (the dashboard's page, ``attribution report``) in this
    currency, at each day's imported rate (``signalyard attribution import-rates``); empty:
    each currency apart."""
    rates_base: str = "EUR"
    """The base currency of the imported rates to convert with."""
    report_refresh_minutes: float = 10.0
    """How often the delivery worker computes again, in the background, the kept reports
    (the dashboard's page reads them) that new events made stale: the one of
    ``window_profile``, ``lens`` and ``reporting_currency``, and every other a page asked for;
    0 (or ``enabled`` off): never (the page then computes them itself)."""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Alert rules and where alerts go (``[alerts]``, ``SIGNALYARD_ALERTS_*``)."""

    interval_seconds: float = 60.0
    """How often the rules are evaluated (by the delivery worker)."""
    webhook_url: Secret = field(default_factory=lambda: Secret(""))
    """Slack-compatible incoming webhook (``{"text": ...}`` JSON; its URL holds a token, so
    it is kept as a secret); empty: none."""
    email_to: str = ""
    """Comma-separated recipients; empty: no email."""
    email_from: str = "signalyard@localhost"
    smtp_host: str = ""
    smtp_port: int = 25
    volume_drop_ratio: float = 0.5
    """Fire when the last ``volume_hours`` received less than this share of the same hours a
    week earlier."""
    volume_hours: int = 3
    volume_min_events: int = 100
    """... and the same hours a week earlier had at least this many events."""
    error_rate: float = 0.2
    """Fire when more than this share of the last hour's delivery requests failed."""
    error_min_requests: int = 10
    age_hours: float = 24.0
    """Fire when a queued event is this close to the platform's 7-day limit."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = "sqlite:///signalyard.db"
    host: str = "127.0.0.1"
    port: int = 8088
    default_country: str | None = None
    """Country used to complete national phone numbers when a dataset sets none."""
    max_body_bytes: int = 8 * 1024 * 1024
    bodies_in_flight_bytes: int = 64 * 1024 * 1024
    """Request body bytes one process holds at once, all requests together, counted as they
    arrive until their request is answered; at least the largest accepted body."""
    bodies_unkeyed_share: float = 0.5
    """The share of ``bodies_in_flight_bytes`` that bodies read before their sender's key is
    checked (webhooks, /collect, Graph requests with the token in the body, the mounted
    sandbox) may hold together (at least the largest accepted body); the rest stays free for
    requests whose key (query or ``Authorization``) was checked first."""
    body_wait_seconds: float = 2.0
    """How long a body that does not fit in ``bodies_in_flight_bytes`` waits for room before
    it is answered 503 with ``Retry-After``."""
    body_read_timeout_seconds: float = 10.0
    """A request body that stops arriving for this long is answered 408, connection closed."""
    body_min_bytes_per_second: int = 32 * 1024
    """After its first ``body_read_timeout_seconds``, a request body must have arrived at this
    many bytes a second on average (since its reading started), else 408, connection closed:
    a body of n bytes has ``body_read_timeout_seconds + n / body_min_bytes_per_second``
    seconds in all. 0: no minimum rate."""
    body_unkeyed_deadline_seconds: float = 30.0
    """A body read before its sender's key is checked (webhooks, /collect, Graph with the
    token in the body, the mounted sandbox) must have arrived in full this many seconds after
    its reading started, else 408, connection closed. 0: no deadline."""
    max_events_per_request: int = 1000
    max_future_seconds: int = 600
    sqlite_cache_mb: int = 64
    """SQLite's page cache (per process): the largest fixed part of a process's memory."""
    sandbox: bool = True
    """Mount every platform's sandbox at /sandbox/<kind> (/sandbox/meta is the default
    destination of a new install), when ``host`` is a loopback address (see
    :attr:`sandbox_mounted`)."""
    sandbox_public: bool = False
    """Mount the sandbox even when ``host`` is not a loopback address. It then answers anyone
    who reaches the port: any token is accepted, and its inspection routes show the delivered
    events (IP addresses, user agents, fbp/fbc); every start logs a WARNING."""
    sandbox_url: str | None = None
    """Where the sandboxes are served (each kind's at ``<sandbox_url>/sandbox/<kind>``), for
    destinations whose base URL says "sandbox"; default: this server. The older form naming
    one sandbox (``http://127.0.0.1:8088/sandbox/meta``) is read as the part before
    ``/sandbox/``."""
    secret_key: Secret = field(default_factory=lambda: Secret(""))
    """The operator key encrypting destination secrets in the database (Fernet: 44 characters
    of urlsafe base64). Empty: read from ``secret_key_file``."""
    secret_key_file: str = ""
    """A file holding the operator key. Empty: beside a SQLite database
    (``signalyard.db.secret-key``), ``signalyard.secret-key`` in the working directory with
    PostgreSQL; that default file is created (0600) on first start."""
    worker: bool = True
    """Run the delivery worker inside ``serve``."""
    log_level: str = "info"
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    collect: CollectSettings = field(default_factory=CollectSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    attribution: AttributionSettings = field(default_factory=AttributionSettings)

    @property
    def resolved_sandbox_url(self) -> str:
        """Where the sandboxes are served: ``sandbox_url`` (without a trailing
        ``/sandbox/<kind>``), or this server."""
        if self.sandbox_url:
            url = self.sandbox_url.rstrip("/")
            return _ONE_SANDBOX.sub("", url)
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 address in a URL
        return f"http://{host}:{self.port}"

    @property
    def sandbox_mounted(self) -> bool:
        """Whether ``serve`` mounts the sandbox: on a loopback ``host`` only, unless
        ``sandbox_public`` says otherwise."""
        return self.sandbox and (is_loopback(self.host) or self.sandbox_public)


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps a port to this machine: ``localhost`` or a loopback
    address (127.0.0.0/8, ``::1``); ``0.0.0.0``, ``::``, other addresses and names are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_OPTIONAL = frozenset({"default_country", "sandbox_url"})
"""Settings that may be unset (None); an empty value unsets them."""
_TYPE_NAMES = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a string",
    Secret: "a string",
}


def _coerce(name: str, raw: Any, kind: type[Any]) -> Any:
    """``raw`` (from TOML: typed; from the environment: a string) as ``kind``, strictly."""
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            text = raw.strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
    elif kind is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _INT.fullmatch(raw.strip()):
            return int(raw)
    elif kind is float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        if isinstance(raw, str):
            try:
                return float(raw)
            except ValueError:
                pass
    elif kind is Secret:
        if isinstance(raw, str):
            return Secret(raw)
    elif isinstance(raw, str):
        return raw
    raise ConfigError(f"setting {name} must be {_TYPE_NAMES[kind]}")


def _apply(obj: _T, values: Mapping[str, Any], prefix: str) -> _T:
    known = {f.name for f in fields(obj)}
    changes: dict[str, Any] = {}
    for key, raw in values.items():
        name = key.lower()
        label = f"{prefix}{key.upper() if prefix.isupper() else key}"
        if name not in known:
            raise ConfigError(f"unknown setting {label}")
        current = getattr(obj, name)
        if name in _TABLES:
            if not isinstance(raw, Mapping):
                raise ConfigError(f"setting {label} must be a table")
            sub_prefix = f"{prefix}{name.upper()}_" if prefix.isupper() else f"{prefix}{name}."
            changes[name] = _apply(current, raw, sub_prefix)
        elif name in _OPTIONAL:
            changes[name] = None if raw in (None, "") else _coerce(label, raw, str)
        else:
            changes[name] = _coerce(label, raw, type(current))
    return replace(obj, **changes)


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the one :class:`Settings` of this process."""
    env = dict(os.environ if environ is None else environ)
    settings: Settings = Settings()
    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                settings = _apply(settings, tomllib.load(fh), "")
        except OSError as error:
            raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    from_env: dict[str, Any] = {}
    tables: dict[str, dict[str, Any]] = {t: {} for t in _TABLES}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        name = key[len(ENV_PREFIX) :].lower()
        table, _, rest = name.partition("_")
        if table in tables and rest:
            tables[table][rest] = value
        elif name in {f.name for f in fields(Settings)}:
            from_env[name] = value
    from_env.update((table, values) for table, values in tables.items() if values)
    settings = _apply(settings, from_env, "SIGNALYARD_")
    clean = {k: v for k, v in overrides.items() if v is not None}
    if clean:
        settings = _apply(settings, clean, "")
    if settings.default_country is not None:
        settings = replace(settings, default_country=settings.default_country.upper())
    _check_attribution(settings.attribution)
    return settings


def _check_attribution(a: AttributionSettings) -> None:
    from signalyard.attribution.model import LENSES
    from signalyard.attribution.windows import PROFILES

    if a.window_profile not in PROFILES:
        raise ConfigError(
            f"setting attribution.window_profile must be one of {', '.join(PROFILES)}"
        )
    if not 0 < a.retention_days <= 3650:
        raise ConfigError("setting attribution.retention_days must be between 0 and 3650")
    if not 0 <= a.fetch_claims_hours <= 24 * 31:
        raise ConfigError("setting attribution.fetch_claims_hours must be between 0 and 744")
    if not 0 <= a.report_refresh_minutes <= 24 * 60:
        raise ConfigError("setting attribution.report_refresh_minutes must be between 0 and 1440")
    if not 1 <= a.fetch_claims_days <= 90:
        raise ConfigError("setting attribution.fetch_claims_days must be between 1 and 90")
    for name, code in (("reporting_currency", a.reporting_currency), ("rates_base", a.rates_base)):
        if code and not re.fullmatch(r"[A-Z]{3}", code):
            raise ConfigError(f"setting attribution.{name} must be an ISO 4217 code such as EUR")
    if a.lens not in LENSES:
        raise ConfigError(f"setting attribution.lens must be one of {', '.join(LENSES)}")
    try:
        zoneinfo.ZoneInfo(a.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a folder
        raise ConfigError(
            "setting attribution.time_zone must be an IANA time zone such as Europe/Paris"
        ) from None


def overrides_environ(**overrides: Any) -> dict[str, str]:
    """Environment variables that carry ``overrides`` to child processes (``serve --workers``),
    which read their settings with :func:`load_settings` like any process."""
    out = {}
    for name, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[ENV_PREFIX + name.upper()] = str(value)
    return out
