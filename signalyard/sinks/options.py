"""Checks every destination kind's ``config.from_mapping`` makes of its options the same way:
no option it does not know, base URLs that are plain http(s) URLs, timeouts in seconds. Each
raises :class:`~signalyard.errors.ConfigError` naming the kind and the option."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from signalyard.errors import ConfigError

__all__ = ["base_url", "check_known", "seconds"]


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
