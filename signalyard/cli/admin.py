"""Administration: ``datasets``, ``keys`` and ``destinations``. Secrets are read from
standard input, never from arguments, and never printed (an ingest key once, on creation)."""

from __future__ import annotations

import time
from typing import Any

import click

from signalyard.cli._common import ensure_schema, find_destination, settings_from, with_store
from signalyard.cli.destination_admin import typed_options
from signalyard.cli.destination_secrets import missing_hint, read_secrets
from signalyard.country import country_code
from signalyard.errors import SignalyardError
from signalyard.sinks import spec_for
from signalyard.sources.auth import new_key
from signalyard.sources.origins import get_allowed_origins, normalize_origin, set_allowed_origins
from signalyard.store.base import Dataset, Store
from signalyard.transforms.consent import parse_policy, parse_rule, policy_to_json


@click.group()
def datasets() -> None:
    """Datasets (one per Meta pixel/dataset id)."""


@datasets.command("add")
@click.argument("dataset_id")
@click.option("--name", default=None)
@click.option(
    "--default-country",
    default=None,
    help="ISO country used to complete national phone numbers, e.g. VN.",
)
@click.pass_context
def datasets_add(
    ctx: click.Context, dataset_id: str, name: str | None, default_country: str | None
) -> None:
    settings = settings_from(ctx)
    ensure_schema(settings)
    country = _country(default_country, "--default-country") if default_country else None
    with_store(
        settings,
        lambda s: s.add_dataset(
            dataset_id, name=name or dataset_id, default_country=country, now=time.time()
        ),
    )
    click.echo(f"Dataset {dataset_id} added.")


@datasets.command("list")
@click.pass_context
def datasets_list(ctx: click.Context) -> None:
    settings = settings_from(ctx)

    async def run(store: Store) -> list[tuple[Dataset, tuple[str, ...]]]:
        return [(d, await get_allowed_origins(store, d.id)) for d in await store.list_datasets()]

    for d, origins in with_store(settings, run):
        click.echo(
            f"{d.id}\t{d.name}\tdefault_country={d.default_country or '-'}"
            f"\torigins={','.join(origins) or '-'}"
        )


@datasets.command("set-origins")
@click.argument("dataset_id")
@click.argument("origins", nargs=-1)
@click.pass_context
def datasets_set_origins(ctx: click.Context, dataset_id: str, origins: tuple[str, ...]) -> None:
    """Set the page origins allowed to send browser events (/collect) to DATASET_ID, such as
    https://shop.example.com or https://*.example.com (none: refuse every page)."""
    settings = settings_from(ctx)
    ensure_schema(settings)
    try:
        clean = [normalize_origin(o) for o in origins]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="ORIGINS") from None

    async def run(store: Store) -> tuple[str, ...]:
        if await store.get_dataset(dataset_id) is None:
            raise click.UsageError(f"no dataset {dataset_id}")
        return await set_allowed_origins(store, dataset_id, clean, now=time.time())

    saved = with_store(settings, run)
    if saved:
        click.echo(f"Dataset {dataset_id} takes browser events from: {', '.join(saved)}")
    else:
        click.echo(f"Dataset {dataset_id} takes no browser events (no allowed origins).")


def _country(value: str, hint: str) -> str:
    try:
        return country_code(value)
    except ValueError as error:
        raise click.BadParameter(
            f"must be an ISO 3166-1 alpha-2 code such as VN: {error}", param_hint=hint
        ) from None


@datasets.command("set-country")
@click.argument("dataset_id")
@click.argument("country")
@click.pass_context
def datasets_set_country(ctx: click.Context, dataset_id: str, country: str) -> None:
    """Set the default country of DATASET_ID (ISO code such as US or VN; '-' for none): it
    completes phone numbers written without a +country code. Events received from now on use
    it (a running server sees it within seconds)."""
    code = None if country.strip() == "-" else _country(country, "COUNTRY")
    _update_dataset(ctx, dataset_id, default_country=code)


@datasets.command("update")
@click.argument("dataset_id")
@click.option("--name", default=None, help="A new name.")
@click.option(
    "--default-country",
    default=None,
    help="ISO country completing national phone numbers, e.g. VN; '-' for none.",
)
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="Replace the page origins allowed to send browser events (repeat for several).",
)
@click.option("--no-origins", is_flag=True, help="Allow no page origin (refuse /collect).")
@click.pass_context
def datasets_update(
    ctx: click.Context,
    dataset_id: str,
    name: str | None,
    default_country: str | None,
    origins: tuple[str, ...],
    no_origins: bool,
) -> None:
    """Change a dataset's name, default country or allowed origins (what is not given stays)."""
    if origins and no_origins:
        raise click.UsageError("give --origin or --no-origins, not both")
    if name is None and default_country is None and not origins and not no_origins:
        raise click.UsageError("nothing to change: give --name, --default-country or --origin")
    if name is not None and not name.strip():
        raise click.BadParameter("must not be empty", param_hint="--name")
    country: str | _Keep | None = _KEEP
    if default_country is not None:
        country = (
            None
            if default_country.strip() == "-"
            else _country(default_country, "--default-country")
        )
    try:
        clean = [normalize_origin(o) for o in origins]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--origin") from None
    _update_dataset(
        ctx,
        dataset_id,
        name=name.strip() if name is not None else None,
        default_country=country,
        origins=clean if (origins or no_origins) else None,
    )


class _Keep:
    """A field ``datasets update`` leaves as it is."""


_KEEP = _Keep()


def _update_dataset(
    ctx: click.Context,
    dataset_id: str,
    *,
    name: str | None = None,
    default_country: str | _Keep | None = _KEEP,
    origins: list[str] | None = None,
) -> None:
    settings = settings_from(ctx)
    ensure_schema(settings)

    async def run(store: Store) -> tuple[Dataset, tuple[str, ...]]:
        current = await store.get_dataset(dataset_id)
        if current is None:
            raise click.ClickException(f"no dataset {dataset_id}: add it with `datasets add`")
        country = (
            current.default_country if isinstance(default_country, _Keep) else (default_country)
        )
        updated = await store.update_dataset(
            dataset_id, name=name or current.name, default_country=country
        )
        if updated is None:
            raise click.ClickException(f"no dataset {dataset_id}")
        if origins is not None:
            saved = await set_allowed_origins(store, dataset_id, origins, now=time.time())
        else:
            saved = await get_allowed_origins(store, dataset_id)
        return updated, saved

    d, saved = with_store(settings, run)
    click.echo(f"Dataset {d.id}: name {d.name!r}")
    if d.default_country:
        click.echo(f"  default country {d.default_country} (completes national phone numbers)")
    else:
        fallback = settings.default_country
        click.echo(
            "  no default country"
            + (
                f": the setting default_country ({fallback}) applies"
                if fallback
                else ": national phone numbers (without +country code) cannot be completed"
            )
        )
    click.echo(f"  browser events from: {', '.join(saved) or 'no origin (refused)'}")


# keys -------------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """Ingest keys (the access_token clients send); stored hashed."""


@keys.command("create")
@click.argument("dataset_id")
@click.option("--label", default="")
@click.pass_context
def keys_create(ctx: click.Context, dataset_id: str, label: str) -> None:
    settings = settings_from(ctx)
    key = new_key()

    async def run(store: Store) -> None:
        if await store.get_dataset(dataset_id) is None:
            raise click.ClickException(f"no dataset {dataset_id}: add it with `datasets add`")
        await store.add_key(
            dataset_id, key_id=key.id, key_hash=key.key_hash, label=label, now=time.time()
        )

    with_store(settings, run)
    click.echo(f"Created {key.id} for dataset {dataset_id}. The key (shown once):")
    click.echo(key.secret)


@keys.command("list")
@click.option("--dataset", default=None)
@click.pass_context
def keys_list(ctx: click.Context, dataset: str | None) -> None:
    settings = settings_from(ctx)
    for k in with_store(settings, lambda s: s.list_keys(dataset)):
        state = "revoked" if k.revoked_at else "active"
        click.echo(f"{k.id}\t{k.dataset_id}\t{state}\t{k.label}")


@keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str) -> None:
    settings = settings_from(ctx)
    if not with_store(settings, lambda s: s.revoke_key(key_id, now=time.time())):
        raise click.ClickException(f"no active key {key_id}")
    click.echo(f"Revoked {key_id}.")


# destinations -----------------------------------------------------------------------------


@click.group()
def destinations() -> None:
    """Where a dataset's events are delivered."""


@destinations.command("add")
@click.argument("dataset_id")
@click.argument("name")
@click.option("--kind", default="meta", show_default=True)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A destination option, e.g. pixel_id=123 or graph_url=sandbox.",
)
@click.option(
    "--secret-stdin",
    "secret_names",
    multiple=True,
    metavar="FIELD",
    help="Read this secret field (e.g. access_token) from standard input, one line per"
    " field in the order given (repeat for several).",
)
@click.option(
    "--token-stdin",
    is_flag=True,
    help="Read the access token from standard input (--secret-stdin access_token).",
)
@click.option(
    "--app-secret-stdin",
    is_flag=True,
    help="Read the app secret from the next line of standard input (--secret-stdin app_secret).",
)
@click.pass_context
def destinations_add(
    ctx: click.Context,
    dataset_id: str,
    name: str,
    kind: str,
    options: tuple[str, ...],
    secret_names: tuple[str, ...],
    token_stdin: bool,
    app_secret_stdin: bool,
) -> None:
    """Add a destination. Its secrets (the fields its kind declares) are read from standard
    input, never from argv, and stored encrypted."""
    settings = settings_from(ctx)
    parsed: dict[str, Any] = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--option")
        parsed[key.strip()] = value.strip()
    names = [*(["access_token"] if token_stdin else []), *secret_names]
    names += ["app_secret"] if app_secret_stdin else []
    try:
        spec = spec_for(kind)  # an unknown kind: a ConfigError naming the known ones
    except SignalyardError as error:
        raise click.ClickException(str(error)) from None
    secrets = read_secrets(spec, names)
    hint = missing_hint(spec, secrets)
    if hint:
        raise click.UsageError(hint)
    try:
        # Numbers given as text (timeout_seconds=5) are stored as numbers, as `update` does.
        parsed = typed_options(
            kind, parsed, secrets, dict(parsed), sandbox_url=settings.resolved_sandbox_url
        )
    except SignalyardError as error:
        raise click.ClickException(str(error)) from None
    secrets = {k: v for k, v in secrets.items() if v}

    async def run(store: Store) -> None:
        if await store.get_dataset(dataset_id) is None:
            raise click.ClickException(f"no dataset {dataset_id}: add it with `datasets add`")
        await store.add_destination(
            dataset_id,
            name=name,
            kind=kind,
            options=parsed,
            secrets=secrets,
            now=time.time(),
        )

    with_store(settings, run)
    click.echo(f"Destination {name} added to dataset {dataset_id}.")


@destinations.command("list")
@click.pass_context
def destinations_list(ctx: click.Context) -> None:
    settings = settings_from(ctx)
    for d in with_store(settings, lambda s: s.list_destinations()):
        extra = f"\t{d.paused_reason}" if d.state == "paused" else ""
        click.echo(f"{d.id}\t{d.dataset_id}\t{d.name}\t{d.kind}\t{d.state}{extra}")


@destinations.command("resume")
@click.argument("destination")
@click.pass_context
def destinations_resume(ctx: click.Context, destination: str) -> None:
    """Resume a paused destination once its problem is fixed."""
    settings = settings_from(ctx)

    async def run(store: Store) -> None:
        d = find_destination(await store.list_destinations(), destination)
        await store.resume(d.id, now=time.time())

    with_store(settings, run)
    click.echo(f"{destination} resumed.")


@destinations.command("set-consent")
@click.argument("destination")
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="REGIONS:STATE=ACTION,...",
    help="A rule, first match wins: e.g. 'EU:unknown=hold' or 'US-CA,US-CO:denied=ldu'."
    " Regions: *, EU (EEA+UK+CH), EEA, a country (DE) or US state (US-CA). States: granted,"
    " denied, pending, unknown. Actions: full, ldu, no_pii, hold, drop.",
)
@click.option("--reset", is_flag=True, help="Go back to the built-in policy.")
@click.pass_context
def destinations_set_consent(
    ctx: click.Context, destination: str, rules: tuple[str, ...], reset: bool
) -> None:
    """Set the consent policy of a destination (applies to events received from now on)."""
    if not rules and not reset:
        raise click.UsageError("give one or more --rule, or --reset")
    try:
        parsed = [] if reset else [parse_rule(r) for r in rules]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--rule") from None
    settings = settings_from(ctx)

    async def run(store: Store) -> str:
        d = find_destination(await store.list_destinations(), destination)
        options = dict(d.options)
        if parsed:
            options["consent_policy"] = policy_to_json(parsed)
        else:
            options.pop("consent_policy", None)
        await store.set_options(d.id, options, now=time.time())
        return str(d.name)

    name = with_store(settings, run)
    click.echo(f"Consent policy of {name}:")
    for rule in (*parse_policy(policy_to_json(parsed)), *_builtin()):
        actions = ", ".join(f"{k}={v}" for k, v in rule.actions.items())
        click.echo(f"  {','.join(rule.regions)}: {actions}")


def _builtin() -> tuple[Any, ...]:
    from signalyard.transforms.consent import DEFAULT_POLICY

    return DEFAULT_POLICY
