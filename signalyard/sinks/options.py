"""Checks every destination kind's ``config.from_mapping`` makes of its options the same way:
no option it does not know, base URLs that are plain http(s) URLs, timeouts in seconds, flags,
short codes. Each raises :class:`~signalyard.errors.ConfigError` naming the kind and the
option. :func:`read` and :func:`changed` are the two ends of a stored option mapping."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.secret_fields import SecretField, checked_secrets

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "MAX_TIMEOUT_SECONDS",
    "base_url",
    "changed",
    "check_known",
    "flag",
    "optional_code",
    "read",
    "seconds",
    "timeout",
]

MAX_TIMEOUT_SECONDS = 300.0
"""The longest ``timeout_seconds`` a destination takes."""

_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def read(
    kind: str,
    config_type: type[DataclassInstance],
    options: Mapping[str, object],
    secrets: Mapping[str, Secret],
    secret_fields: Sequence[SecretField],
    defaults: Mapping[str, object],
) -> tuple[dict[str, object], dict[str, Secret]]:
    """Check the option names (the fields of ``config_type`` but its secret fields: see
    :func:`check_known`) and the secrets (:func:`~signalyard.sinks.secret_fields.checked_secrets`):
    the options over their ``defaults``, and the secrets that are set."""
    known = {f.name for f in fields(config_type)} - {f.name for f in secret_fields}
    check_known(kind, options, known)
    present = checked_secrets(kind, secret_fields, secrets)
    return {**defaults, **options}, present


def changed(config: object, defaults: Mapping[str, object]) -> dict[str, object]:
    """The options of ``config`` that differ from their ``defaults``: a stored destination
    leaves the others out, so it follows a default (a URL, a version) when the code changes."""
    options: dict[str, object] = {}
    for name, default in defaults.items():
        value = getattr(config, name)
        if value != default:
            options[name] = value
    return options


def check_known(kind: str, options: Mapping[str, object], known: Collection[str]) -> None:
    """Refuse options ``kind`` does not know, naming them and the known ones."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(
            f"{kind} destination: unknown option(s) {', '.join(map(repr, unknown))}; "
            f"known options: {', '.join(sorted(known))}"
        )


def base_url(kind: str, name: str, value: object, example: str, *, sandbox: bool = True) -> str:
    """Option ``name`` as an http(s) base URL without a trailing slash, query, fragment or
    credentials; ``example`` (and, with ``sandbox``, the word ``sandbox``) in the message
    when it is not one."""
    if not isinstance(value, str):
        raise ConfigError(f"{kind} destination: {name} must be a string URL")
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        raise ConfigError(f"{kind} destination: {name} is not a valid URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        alternative = ", or 'sandbox'" if sandbox else ""
        raise ConfigError(
            f"{kind} destination: {name} must be an http(s) URL such as {example!r}"
            f"{alternative} (got {url!r})"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            f"{kind} destination: {name} must not carry a query, a fragment or credentials"
        )
    return url


def seconds(kind: str, name: str, value: object, most: float, *, text: bool = False) -> float:
    """Option ``name`` as a number of seconds above 0 and at most ``most``; ``text``: a
    number written as text (``--option timeout_seconds=5``) is taken too."""
    if text and isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{kind} destination: {name} must be a number of seconds")
    number = float(value)
    if not 0 < number <= most:
        raise ConfigError(
            f"{kind} destination: {name} must be above 0 and at most {most:g} (got {value!r})"
        )
    return number


def flag(kind: str, name: str, value: object) -> bool:
    """Option ``name`` as a flag: a bool, or ``true``/``false``/``1``/``0`` written as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ConfigError(f"{kind} destination: {name} must be true or false (got {value!r})")


def optional_code(kind: str, name: str, value: object) -> str | None:
    """Option ``name`` as a short code (a test event code, a partner name), or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise ConfigError(
            f"{kind} destination: {name} must be up to 100 letters, digits, '_', '-', '.' "
            "or ':' (or unset)"
        )
    return value


def timeout(kind: str, value: object, *, text: bool = False) -> float:
    """The option ``timeout_seconds`` (:func:`seconds`, at most :data:`MAX_TIMEOUT_SECONDS`)."""
    return seconds(kind, "timeout_seconds", value, MAX_TIMEOUT_SECONDS, text=text)
