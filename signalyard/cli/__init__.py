"""The ``signalyard`` command. Thin: it reads settings once and calls the package.

One module per group of commands: :mod:`~signalyard.cli.run` (serve, worker, migrate,
sandbox), :mod:`~signalyard.cli.admin` (datasets, keys, destinations; the commands that look after
a destination once added are in :mod:`~signalyard.cli.destination_admin`, its secrets in
:mod:`~signalyard.cli.destination_secrets`),
:mod:`~signalyard.cli.ops` (status, replay, send-test), :mod:`~signalyard.cli.attribution`
(attribution sync, report, explain), :mod:`~signalyard.cli.simulate` (simulate).
"""

from __future__ import annotations

import click

from signalyard import __version__
from signalyard.cli import (
    admin,
    attribution,
    destination_admin,
    destination_secrets,
    importer,
    ops,
    run,
    simulate,
    webhooks,
)


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


for command in (
    run.serve,
    run.worker,
    run.migrate,
    run.sandbox,
    admin.datasets,
    admin.keys,
    admin.destinations,
    ops.status,
    ops.replay,
    ops.send_test,
    importer.import_file,
    webhooks.webhooks,
    attribution.attribution,
    simulate.simulate_command,
):
    main.add_command(command)
for command in (*destination_admin.COMMANDS, *destination_secrets.COMMANDS):
    admin.destinations.add_command(command)

__all__ = ["main"]
