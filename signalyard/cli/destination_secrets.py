"""A destination's secrets: read from standard input, checked against the secret fields its
kind declares, stored encrypted, never printed. ``destinations set-secret`` (any field),
``set-token`` (the ``access_token`` field) and ``forget-secrets`` (after losing the key)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import click

from signalyard.cli._common import find_destination, settings_from, with_store
from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks import SinkSpec, checked_config, spec_for
from signalyard.store.base import Destination, Store

__all__ = ["COMMANDS", "read_secrets"]

TOKEN = "access_token"


def read_secrets(spec: SinkSpec, names: Sequence[str]) -> dict[str, Secret]:
    """One line of standard input per name, in order, for secret fields of ``spec``: a name
    the kind does not declare is a usage error naming those it does."""
    declared = [f.name for f in spec.secret_fields]
    for name in names:
        if name not in declared:
            raise click.UsageError(
                f"a {spec.kind} destination has no secret {name!r};"
                f" its secrets are: {', '.join(declared) or 'none'}"
            )
    if len(set(names)) != len(names):
        raise click.UsageError("each secret may be named once")
    lines = sys.stdin.read().splitlines() if names else []
    return {
        name: Secret(lines[i].strip() if i < len(lines) else "") for i, name in enumerate(names)
    }


def missing_hint(spec: SinkSpec, secrets: dict[str, Secret]) -> str | None:
    """How to give the required secrets that are not set, or ``None`` when all are."""
    missing = [f.name for f in spec.secret_fields if f.required and not secrets.get(f.name)]
    if not missing:
        return None
    flags = " ".join(f"--secret-stdin {name}" for name in missing)
    alias = " (or --token-stdin)" if missing == [TOKEN] else ""
    return (
        f"the {spec.kind} secret(s) {', '.join(missing)} required: give them on standard"
        f" input, one per line, with {flags}{alias}"
    )


def _replace(ctx: click.Context, destination: str, field: str, value: Secret | None) -> str:
    """Set (or, with ``None``, remove) one secret field of ``destination``, after checking
    the destination's kind declares it and would accept the result; resumes it."""
    settings = settings_from(ctx)

    async def run(store: Store) -> str:
        d: Destination = find_destination(await store.list_destinations(), destination)
        try:
            spec = spec_for(d.kind)
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
        declared = {f.name: f for f in spec.secret_fields}
        if field not in declared:
            raise click.UsageError(
                f"{d.name} is a {d.kind} destination, which has no secret {field!r};"
                f" its secrets are: {', '.join(declared) or 'none'}"
            )
        secrets = dict(d.secrets)
        if value is None:
            if declared[field].required:
                raise click.UsageError(f"{field} is required by {d.kind}: it cannot be unset")
            secrets.pop(field, None)
        else:
            secrets[field] = value
        try:
            checked_config(d.kind, d.options, secrets, sandbox_url=settings.resolved_sandbox_url)
        except ConfigError as error:
            raise click.ClickException(f"{d.name}: {error}") from None
        await store.set_secrets(d.id, secrets, now=time.time())
        return str(d.name)

    return with_store(settings, run)


def _line(what: str) -> Secret:
    value = Secret(sys.stdin.readline().strip())
    if not value:
        raise click.UsageError(f"give the {what} on standard input")
    return value


@click.command("set-secret")
@click.argument("destination")
@click.argument("field")
@click.option("--unset", is_flag=True, help="Remove an optional secret instead.")
@click.pass_context
def set_secret(ctx: click.Context, destination: str, field: str, unset: bool) -> None:
    """Set one secret FIELD of a destination (its kind declares which: for meta,
    access_token and app_secret), read from standard input, and resume the destination."""
    value = None if unset else _line(f"value of {field}")
    name = _replace(ctx, destination, field, value)
    done = "removed" if unset else "replaced"
    click.echo(f"Secret {field} of {name} {done}; the destination is active again.")


@click.command("set-token")
@click.argument("destination")
@click.pass_context
def set_token(ctx: click.Context, destination: str) -> None:
    """Replace a destination's access token (read from standard input) and resume it."""
    token = _line("new access token")
    name = _replace(ctx, destination, TOKEN, token)
    click.echo(f"Token of {name} replaced; the destination is active again.")


@click.command("forget-secrets")
@click.option("--yes", is_flag=True, help="Confirm: every destination's secrets are dropped.")
@click.pass_context
def forget_secrets(ctx: click.Context, yes: bool) -> None:
    """After the secret key was lost: drop every destination's secrets (they cannot be
    decrypted without it), pause every destination, and make the current key the
    database's. Then set each destination's secrets again (`set-secret`, `set-token`)."""
    if not yes:
        raise click.UsageError(
            "this drops every destination's secrets and pauses them all: add --yes to confirm"
        )
    settings = settings_from(ctx)
    count = with_store(settings, lambda s: s.forget_secrets(now=time.time()), verify_key=False)
    click.echo(
        f"Secrets of {count} destination(s) forgotten; they are paused. Set each one's"
        " secrets again with `signalyard destinations set-secret NAME FIELD` (that resumes it)."
    )


COMMANDS = (set_secret, set_token, forget_secrets)
