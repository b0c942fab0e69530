"""The ``signalyard`` command. Thin: it reads settings once and calls the package."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import httpx
import orjson

from signalyard import __version__, gc_tuning
from signalyard.clock import SystemClock
from signalyard.errors import ConfigError, SignalyardError
from signalyard.runtime import bootstrap, make_store, migrate_schema
from signalyard.secret import Secret
from signalyard.settings import Settings, load_settings
from signalyard.sinks import spec_for
from signalyard.sources.auth import new_key
from signalyard.store.base import Store

T = TypeVar("T")


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), **overrides)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def _with_store(settings: Settings, fn: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = make_store(settings)
        await store.open()
        try:
            return await fn(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except SignalyardError as error:
        raise click.ClickException(str(error)) from None


def _ensure_schema(settings: Settings) -> None:
    try:
        migrate_schema(settings)
    except SignalyardError as error:
        raise click.ClickException(str(error)) from None


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


@click.group()
@click.version_option(__version__, prog_name="signalyard")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML config file (default: $SIGNALYARD_CONFIG).",
)
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """Signalyard: a self-hosted server-side conversion tracking gateway."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8088).")
@click.option("--no-worker", is_flag=True, help="Ingest only; deliver with `signalyard worker`.")
@click.option("--no-sandbox", is_flag=True, help="Do not mount the Meta sandbox.")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, no_worker: bool, no_sandbox: bool
) -> None:
    """Run the gateway: ingest, delivery worker and the Meta sandbox."""
    import uvicorn

    from signalyard.app import create_app

    overrides: dict[str, Any] = {"host": host, "port": port}
    if no_worker:
        overrides["worker"] = False
    if no_sandbox:
        overrides["sandbox"] = False
    settings = _settings(ctx, **overrides)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    _ensure_schema(settings)
    boot = _with_store(settings, lambda s: bootstrap(s, settings, SystemClock()))
    base = f"http://{settings.host}:{settings.port}"
    if boot is not None:
        click.echo(
            f"New install: created dataset '{boot.dataset_id}' delivering to the built-in Meta"
            f" sandbox ({base}/sandbox/meta).\n"
            f"Ingest key for dataset '{boot.dataset_id}' (shown once, keep it):\n"
            f"  {boot.key_secret}\n"
            f"Send events: POST {base}/v26.0/{boot.dataset_id}/events?access_token=<key>\n"
            f"Try it:      signalyard send-test --key <key>"
        )
    app = create_app(settings, make_store(settings), tune_gc=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        loop="auto",
        http="auto",
        lifespan="on",
    )


@main.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run the delivery worker alone (for ingest started with --no-worker)."""
    import signal

    from signalyard.delivery.worker import Worker

    settings = _settings(ctx)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    _ensure_schema(settings)

    async def run(store: Store) -> None:
        gc_tuning.tune()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with httpx.AsyncClient() as client:
            w = Worker(
                store,
                settings.delivery,
                clock=SystemClock(),
                client=client,
                sandbox_url=settings.resolved_sandbox_url,
            )
            click.echo(f"Worker {w.owner} delivering.")
            await w.run(stop)

    _with_store(settings, run)


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Bring the database schema up to date."""
    settings = _settings(ctx)
    _ensure_schema(settings)
    click.echo("Schema is up to date.")


# datasets ---------------------------------------------------------------------------------


@main.group()
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
    settings = _settings(ctx)
    _ensure_schema(settings)
    country = default_country.upper() if default_country else None
    if country is not None:
        import pycountry

        if pycountry.countries.get(alpha_2=country) is None:
            raise click.BadParameter(
                "must be an ISO 3166-1 alpha-2 code such as VN", param_hint="--default-country"
            )
    _with_store(
        settings,
        lambda s: s.add_dataset(
            dataset_id, name=name or dataset_id, default_country=country, now=time.time()
        ),
    )
    click.echo(f"Dataset {dataset_id} added.")


@datasets.command("list")
@click.pass_context
def datasets_list(ctx: click.Context) -> None:
    settings = _settings(ctx)
    for d in _with_store(settings, lambda s: s.list_datasets()):
        click.echo(f"{d.id}\t{d.name}\tdefault_country={d.default_country or '-'}")


# keys -------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Ingest keys (the access_token clients send); stored hashed."""


@keys.command("create")
@click.argument("dataset_id")
@click.option("--label", default="")
@click.pass_context
def keys_create(ctx: click.Context, dataset_id: str, label: str) -> None:
    settings = _settings(ctx)
    key = new_key()

    async def run(store: Store) -> None:
        if await store.get_dataset(dataset_id) is None:
            raise click.ClickException(f"no dataset {dataset_id}: add it with `datasets add`")
        await store.add_key(
            dataset_id, key_id=key.id, key_hash=key.key_hash, label=label, now=time.time()
        )

    _with_store(settings, run)
    click.echo(f"Created {key.id} for dataset {dataset_id}. The key (shown once):")
    click.echo(key.secret)


@keys.command("list")
@click.option("--dataset", default=None)
@click.pass_context
def keys_list(ctx: click.Context, dataset: str | None) -> None:
    settings = _settings(ctx)
    for k in _with_store(settings, lambda s: s.list_keys(dataset)):
        state = "revoked" if k.revoked_at else "active"
        click.echo(f"{k.id}\t{k.dataset_id}\t{state}\t{k.label}")


@keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str) -> None:
    settings = _settings(ctx)
    if not _with_store(settings, lambda s: s.revoke_key(key_id, now=time.time())):
        raise click.ClickException(f"no active key {key_id}")
    click.echo(f"Revoked {key_id}.")


# destinations -----------------------------------------------------------------------------


@main.group()
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
@click.option("--token-stdin", is_flag=True, help="Read the access token from standard input.")
@click.option(
    "--app-secret-stdin",
    is_flag=True,
    help="Read the app secret from the second line of standard input.",
)
@click.pass_context
def destinations_add(
    ctx: click.Context,
    dataset_id: str,
    name: str,
    kind: str,
    options: tuple[str, ...],
    token_stdin: bool,
    app_secret_stdin: bool,
) -> None:
    """Add a destination. The token is read from standard input (never from argv)."""
    settings = _settings(ctx)
    parsed: dict[str, Any] = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--option")
        parsed[key.strip()] = value.strip()
    lines = sys.stdin.read().splitlines() if (token_stdin or app_secret_stdin) else []
    token = Secret(lines[0].strip() if lines else "")
    app_secret = Secret(lines[1].strip()) if app_secret_stdin and len(lines) > 1 else None
    if not token:
        raise click.UsageError("give the access token on standard input with --token-stdin")
    spec = spec_for(kind)
    check = dict(parsed)
    if check.get("graph_url") == "sandbox":
        check["graph_url"] = settings.resolved_sandbox_url
    try:
        spec.config_from_mapping(check, access_token=token, app_secret=app_secret)
    except SignalyardError as error:
        raise click.ClickException(str(error)) from None

    async def run(store: Store) -> None:
        if await store.get_dataset(dataset_id) is None:
            raise click.ClickException(f"no dataset {dataset_id}: add it with `datasets add`")
        await store.add_destination(
            dataset_id,
            name=name,
            kind=kind,
            options=parsed,
            access_token=token,
            app_secret=app_secret,
            now=time.time(),
        )

    _with_store(settings, run)
    click.echo(f"Destination {name} added to dataset {dataset_id}.")


def _find_destination(store_list: list[Any], name: str) -> Any:
    matches = [d for d in store_list if d.name == name or str(d.id) == name]
    if not matches:
        raise click.ClickException(f"no destination {name}")
    if len(matches) > 1:
        raise click.ClickException(f"several destinations are named {name}: use the id")
    return matches[0]


@destinations.command("list")
@click.pass_context
def destinations_list(ctx: click.Context) -> None:
    settings = _settings(ctx)
    for d in _with_store(settings, lambda s: s.list_destinations()):
        extra = f"\t{d.paused_reason}" if d.state == "paused" else ""
        click.echo(f"{d.id}\t{d.dataset_id}\t{d.name}\t{d.kind}\t{d.state}{extra}")


@destinations.command("set-token")
@click.argument("destination")
@click.pass_context
def destinations_set_token(ctx: click.Context, destination: str) -> None:
    """Replace a destination's access token (read from standard input) and resume it."""
    settings = _settings(ctx)
    token = Secret(sys.stdin.readline().strip())
    if not token:
        raise click.UsageError("give the new access token on standard input")

    async def run(store: Store) -> str:
        d = _find_destination(await store.list_destinations(), destination)
        await store.set_token(d.id, token, now=time.time())
        return str(d.name)

    name = _with_store(settings, run)
    click.echo(f"Token of {name} replaced; the destination is active again.")


@destinations.command("resume")
@click.argument("destination")
@click.pass_context
def destinations_resume(ctx: click.Context, destination: str) -> None:
    """Resume a paused destination once its problem is fixed."""
    settings = _settings(ctx)

    async def run(store: Store) -> None:
        d = _find_destination(await store.list_destinations(), destination)
        await store.resume(d.id, now=time.time())

    _with_store(settings, run)
    click.echo(f"{destination} resumed.")


# operations -------------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Queue depth, oldest event, state and dead letters per destination."""
    settings = _settings(ctx)
    now = time.time()
    rows = _with_store(settings, lambda s: s.status(now=now))
    if as_json:
        click.echo(
            orjson.dumps(
                [
                    {
                        "destination": r.destination.name,
                        "id": r.destination.id,
                        "dataset": r.destination.dataset_id,
                        "state": r.destination.state,
                        "paused_reason": r.destination.paused_reason,
                        "fix": r.destination.paused_fix,
                        "queued": r.queued,
                        "due": r.due,
                        "oldest_event_age_seconds": (now - r.oldest_event_time)
                        if r.oldest_event_time
                        else None,
                        "delivered": r.delivered,
                        "dead_letters": r.dead,
                    }
                    for r in rows
                ],
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
        return
    if not rows:
        click.echo("No destinations.")
    for r in rows:
        d = r.destination
        age = _ago(now - r.oldest_event_time if r.oldest_event_time else None)
        click.echo(f"{d.name} ({d.kind}, dataset {d.dataset_id}): {d.state.upper()}")
        if d.state == "paused":
            click.echo(f"  reason: {d.paused_reason}\n  fix:    {d.paused_fix}")
        if d.throttled_until and d.throttled_until > now:
            click.echo(f"  throttled for {_ago(d.throttled_until - now)}")
        click.echo(
            f"  queued {r.queued} (due {r.due}), oldest event {age} old,"
            f" delivered {r.delivered}, dead letters {r.dead}"
        )


@main.command()
@click.option("--destination", default=None, help="Only this destination (name or id).")
@click.option("--id", "ids", type=int, multiple=True, help="Only these dead letters.")
@click.option("--list", "list_only", is_flag=True, help="List dead letters, change nothing.")
@click.pass_context
def replay(
    ctx: click.Context, destination: str | None, ids: tuple[int, ...], list_only: bool
) -> None:
    """Queue dead letters again (after fixing what made them fail)."""
    settings = _settings(ctx)

    async def run(store: Store) -> int:
        dest_id = None
        if destination is not None:
            dest_id = _find_destination(await store.list_destinations(), destination).id
        if list_only:
            for dl in await store.dead_letters(destination_id=dest_id, limit=1000):
                click.echo(
                    f"{dl.outbox_id}\t{dl.event_name}\t{dl.event_id}\t"
                    f"code={dl.code} subcode={dl.subcode}\t{dl.reason}"
                )
            return -1
        return await store.replay(
            destination_id=dest_id, outbox_ids=list(ids) or None, now=time.time()
        )

    n = _with_store(settings, run)
    if n >= 0:
        click.echo(f"Queued {n} dead letter(s) again.")


@main.command("send-test")
@click.option(
    "--key",
    envvar="SIGNALYARD_KEY",
    required=True,
    help="An ingest key of the dataset ($SIGNALYARD_KEY).",
)
@click.option(
    "--dataset",
    default="1234567890",
    show_default=True,
    help="Dataset id (default: the demo dataset of a new install).",
)
@click.option("--url", default=None, help="Gateway URL (default: from settings).")
@click.option(
    "--wait", type=float, default=15.0, show_default=True, help="Seconds to wait for delivery."
)
@click.pass_context
def send_test(ctx: click.Context, key: str, dataset: str, url: str | None, wait: float) -> None:
    """Send a realistic Purchase through the whole pipeline and report its delivery."""
    from signalyard.samples import sample_purchase

    settings = _settings(ctx)
    base = (
        url
        or f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::') else settings.host}"
        f":{settings.port}"
    ).rstrip("/")
    event = sample_purchase(time.time())
    try:
        r = httpx.post(
            f"{base}/v26.0/{dataset}/events",
            params={"access_token": key},
            json={"data": [event]},
            timeout=10,
        )
    except httpx.HTTPError as error:
        raise click.ClickException(f"cannot reach the gateway at {base}: {error}") from None
    if r.status_code != 200:
        raise click.ClickException(f"the gateway refused the event ({r.status_code}): {r.text}")
    click.echo(f"Accepted: {r.json()}  event_id={event['event_id']}")

    async def poll(store: Store) -> str:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            rows = await store.status(now=time.time())
            mine = [x for x in rows if x.destination.dataset_id == dataset]
            if mine and all(x.queued == 0 for x in mine):
                return "delivered to " + ", ".join(x.destination.name for x in mine)
            await asyncio.sleep(0.2)
        return "still queued: see `signalyard status`"

    click.echo("Delivery: " + _with_store(settings, poll))


@main.group()
def sandbox() -> None:
    """Run a platform emulator on its own."""


@sandbox.command("meta")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8089, show_default=True)
def sandbox_meta(host: str, port: int) -> None:
    """The Meta Conversions API emulator (inspect at /_sandbox/summary)."""
    import uvicorn

    from signalyard.sandbox.meta import create_app

    uvicorn.run(create_app(), host=host, port=port, access_log=False)
