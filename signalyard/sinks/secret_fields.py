"""The secret fields a destination kind declares (tokens, app secrets, keys).

Each sink's spec lists them; a destination's secrets (a mapping name → :class:`Secret`,
stored encrypted) are checked against the list before a config is built: an unknown name or
a missing required one is a :class:`~signalyard.errors.ConfigError` naming it. An empty value
counts as not set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from signalyard.errors import ConfigError
from signalyard.secret import Secret

__all__ = ["SecretField", "checked_secrets"]


@dataclass(frozen=True, slots=True)
class SecretField:
    name: str
    required: bool
    help: str
    """What it is and where the operator finds it, in a few words."""


def checked_secrets(
    kind: str, fields: Sequence[SecretField], secrets: Mapping[str, Secret]
) -> dict[str, Secret]:
    """``secrets`` without empty values, after checking every name is declared and every
    required field is set."""
    known = {f.name for f in fields}
    unknown = sorted(set(secrets) - known)
    if unknown:
        raise ConfigError(
            f"{kind} destination: unknown secret(s) {', '.join(map(repr, unknown))}; "
            f"its secrets are: {', '.join(f.name for f in fields) or 'none'}"
        )
    present: dict[str, Secret] = {}
    for name, value in secrets.items():
        if not isinstance(value, Secret):
            raise ConfigError(f"{kind} destination: secret {name} must be a Secret")
        if value:
            present[name] = value
    for field in fields:
        if field.required and field.name not in present:
            raise ConfigError(
                f"{kind} destination: the secret {field.name} is required ({field.help})"
            )
    return present
