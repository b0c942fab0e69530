"""Running Signalyard: ``serve``, ``worker``, ``migrate`` and ``sandbox``."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

import click
import httpx

from signalyard import gc_tuning
from signalyard.cli import first_start
from signalyard.cli._common import ensure_schema, settings_from, with_store
from signalyard.cli._startup import key_lines, port_problem
from signalyard.clock import SystemClock
from signalyard.runtime import before_prune, bootstrap, make_store
from signalyard.settings import Settings, overrides_environ
from signalyard.sinks import sandbox_base
from signalyard.store.base import Store


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it would log URLs with tokens


def _key_lines(settings: Settings, dataset_id: str, secret: str) -> str:
    try:
        return key_lines(settings, dataset_id, secret, terminal=sys.stdout.isatty())
    except OSError as error:
        raise click.ClickException(
            f"cannot write the new ingest key to a file ({error.strerror}): create another"
            f" with `signalyard keys create {dataset_id}`"
        ) from None


@click.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8088).")
@click.option("--no-worker", is_flag=True, help="Ingest only; deliver with `signalyard worker`.")
@click.option("--no-sandbox", is_flag=True, help="Do not mount the platforms' sandboxes.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes serving the port (each also delivers, unless --no-worker).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    no_worker: bool,
    no_sandbox: bool,
    workers: int,
) -> None:
    """Run the gateway: ingest, delivery worker and the platforms' sandboxes."""
    import uvicorn

    gc_tuning.limit_malloc_arenas()  # before any thread starts

    from signalyard.app import create_app

    overrides: dict[str, Any] = {"host": host, "port": port}
    if no_worker:
        overrides["worker"] = False
    if no_sandbox:
        overrides["sandbox"] = False
    settings = settings_from(ctx, **overrides)
    _logging(settings)
    busy = port_problem(settings.host, settings.port)  # before a new install's key is made
    if busy is not None:
        raise click.ClickException(busy)
    ensure_schema(settings, create=True)
    boot = with_store(
        settings,
        lambda s: bootstrap(
            s, settings, SystemClock(), lambda: first_start.choose_country(settings, os.environ)
        ),
    )
    base = f"http://{settings.host}:{settings.port}"
    if boot is not None:
        click.echo(
            f"New install: created dataset '{boot.dataset_id}' delivering to the built-in Meta"
            f" sandbox ({sandbox_base(settings.resolved_sandbox_url, 'meta')}).\n"
            f"Send events: POST {base}/v26.0/{boot.dataset_id}/events?access_token=<key>\n"
            + _key_lines(settings, boot.dataset_id, boot.key_secret)
        )
        click.echo(first_start.country_message(boot.country, boot.dataset_id))
    if settings.sandbox and not settings.sandbox_mounted and not settings.sandbox_url:
        click.echo(
            f"Sandboxes: not mounted ({settings.host} is not a loopback address); "
            "destinations whose base URL says sandbox need sandbox_url (see docs/sandbox.md)"
        )
    if settings.dashboard.password:
        click.echo(f"Dashboard: {base}/dashboard/")
    else:
        click.echo("Dashboard: off (set SIGNALYARD_DASHBOARD_PASSWORD, or dashboard.password)")
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,
        "lifespan": "on",
        # X-Forwarded-For is read by /collect, only from collect.trusted_proxies.
        "proxy_headers": False,
    }
    if workers > 1:
        # Each child process builds its own app from the environment (settings.py reads it).
        os.environ.update(overrides_environ(**overrides))
        if ctx.obj.get("config"):
            os.environ["SIGNALYARD_CONFIG"] = ctx.obj["config"]
        uvicorn.run("signalyard.app:from_environment", factory=True, workers=workers, **common)
        return
    uvicorn.run(create_app(settings, make_store(settings), tune_gc=True), **common)


@click.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run the delivery worker alone (for ingest started with --no-worker)."""
    import signal

    from signalyard.delivery.worker import Worker
    from signalyard.insights.alerts import AlertEngine
    from signalyard.insights.recorder import StatsRecorder

    gc_tuning.limit_malloc_arenas()  # before any thread starts
    settings = settings_from(ctx)
    _logging(settings)
    ensure_schema(settings)

    async def run(store: Store) -> None:
        gc_tuning.tune()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with httpx.AsyncClient() as client:
            recorder = StatsRecorder(store)
            w = Worker(
                store,
                settings.delivery,
                clock=SystemClock(),
                client=client,
                sandbox_url=settings.resolved_sandbox_url,
                recorder=recorder,
                before_prune=before_prune(settings, store, SystemClock()),
            )
            alerts = AlertEngine(store, SystemClock(), settings.alerts, client)
            click.echo(f"Worker {w.owner} delivering.")
            await asyncio.gather(
                w.run(stop),
                recorder.run(stop),
                alerts.run(stop),
                gc_tuning.collect_periodically(stop),
            )

    with_store(settings, run)


@click.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Bring the database schema up to date (creating the database if there is none)."""
    settings = settings_from(ctx)
    ensure_schema(settings, create=True)
    click.echo("Schema is up to date.")


@click.command()
@click.argument("kinds", nargs=-1, metavar="[KIND]...")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8089, show_default=True)
def sandbox(kinds: tuple[str, ...], host: str, port: int) -> None:
    """Run the platforms' emulators on their own: each KIND (default: all) at /sandbox/KIND,
    as `serve` mounts them (inspect at /sandbox/KIND/_sandbox/summary). Point a gateway at
    them with sandbox_url = http://HOST:PORT."""
    import uvicorn

    from signalyard.sandbox.registry import SANDBOXES, mount_path, served
    from signalyard.settings import is_loopback

    unknown = [k for k in kinds if k not in SANDBOXES]
    if unknown:
        raise click.BadParameter(
            f"no sandbox for {', '.join(unknown)}; the sandboxes: {', '.join(sorted(SANDBOXES))}",
            param_hint="KIND",
        )
    chosen = kinds or tuple(SANDBOXES)
    if not is_loopback(host):
        click.echo(
            f"WARNING: the sandboxes are listening on {host}, not a loopback address: anyone"
            " reaching the port can post events with any token, read the received events (IP"
            " addresses, user agents, click ids) at /sandbox/KIND/_sandbox/events, inject"
            " faults and wipe their state. Use --host 127.0.0.1 unless this network is"
            " trusted.",
            err=True,
        )
    gc_tuning.limit_malloc_arenas()  # before any thread starts
    app = served({kind: SANDBOXES[kind].create_app() for kind in chosen}, tune_gc=True)
    for kind in dict.fromkeys(chosen):
        click.echo(f"{SANDBOXES[kind].title} sandbox: http://{host}:{port}{mount_path(kind)}")
    uvicorn.run(app, host=host, port=port, access_log=False)
