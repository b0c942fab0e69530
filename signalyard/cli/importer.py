"""``signalyard import``: CSV and JSON-lines files (offline sales, CRM stages, business
messaging orders) into the store, from where delivery sends them like any other event."""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import click

from signalyard.cli._common import ensure_schema, settings_from, with_store
from signalyard.clock import SystemClock
from signalyard.errors import ConfigError
from signalyard.sinks import REGISTRY
from signalyard.sources.import_store import ImportRecord
from signalyard.sources.mapping import MappingSpec, Plan, load_mapping, parse_map_options
from signalyard.sources.offline import (
    BATCH_SIZE,
    DEFAULTS,
    Format,
    ImportOptions,
    ImportResult,
    Problem,
    run_import,
)
from signalyard.store.base import Store
from signalyard.transforms.validate import ACTION_SOURCES

EXIT_ROWS_FAILED = 3
"""Exit status when the import ran but some rows were refused (see the report)."""
_PREVIEW = 10
_REPORT_HEADER = ("line", "level", "column", "field", "rule")


def _stderr_is_tty() -> bool:
    return sys.stderr.isatty()


class _Report:
    """The error report (CSV), or, without ``--report``, the first problems for stderr."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.append = False
        self.errors = 0
        self.preview: list[Problem] = []
        self._fh: IO[str] | None = None
        self._writer: Any = None

    def open(self) -> None:
        if self.path is None or self._fh is not None:
            return
        append = self.append and self.path.exists()
        try:
            self._fh = open(  # noqa: SIM115 - closed by close()
                self.path, "a" if append else "w", newline="", encoding="utf-8"
            )
        except OSError as error:
            raise click.ClickException(
                f"cannot write the report {self.path}: {error.strerror}"
            ) from None
        self._writer = csv.writer(self._fh)
        if not append:
            self._writer.writerow(_REPORT_HEADER)

    def add(self, problems: list[Problem]) -> None:
        self.errors += sum(p.level == "error" for p in problems)
        if self._writer is None:
            self.preview.extend(problems[: max(0, _PREVIEW - len(self.preview))])
            return
        assert self._fh is not None
        self._writer.writerows((p.line, p.level, p.column, p.field, p.rule) for p in problems)
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def _spec(
    mapping: Path | None,
    maps: tuple[str, ...],
    no_auto: bool,
    constants: dict[str, Any],
    time_format: str | None,
    timezone: str | None,
) -> MappingSpec:
    try:
        spec = load_mapping(mapping) if mapping is not None else MappingSpec()
        spec = replace(spec, constants={**DEFAULTS, **spec.constants})
        spec = spec.with_overrides(
            parse_map_options(maps),
            {k: v for k, v in constants.items() if v is not None},
            time_format=time_format,
            timezone=timezone,
            auto=False if no_auto else None,
        )
        spec.tzinfo()  # an unknown zone is an error now, not on every row
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    return spec


def _currency(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    import pycountry

    if pycountry.currencies.get(alpha_3=value.upper()) is None:
        raise click.BadParameter("must be an ISO 4217 code such as USD")
    return value.upper()


def _delimiter(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    value = {"tab": "\t", "\\t": "\t"}.get(value.lower(), value)
    if len(value) != 1:
        raise click.BadParameter("must be one character (or tab)")
    return value


def _describe(plan: Plan) -> str:
    mapped = ", ".join(
        f"{column} -> {target}{'' if auto else ' (mapped)'}" for column, target, auto in plan.mapped
    )
    text = f"Columns: {mapped or 'none'}"
    if plan.ignored:
        text += f"\nIgnored columns: {', '.join(plan.ignored)}"
    return text


class _Progress:
    """A progress bar on bytes read (stderr), drawn from the first update: the column list
    is printed before it."""

    def __init__(self, show: bool, label: str) -> None:
        self.show = show
        self.label = label
        self._bar: Any = None
        self._at = 0

    def update(self, done: int, size: int) -> None:
        if not self.show:
            return
        if self._bar is None:
            self._bar = click.progressbar(length=max(size, 1), label=self.label, file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._at)
        self._at = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def _summary(result: ImportResult, name: str, dataset_id: str, report: _Report) -> str:
    if result.already_done:
        r = result.record
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(r.finished_at or 0))
        return (
            f"{name} was already imported into dataset {dataset_id} ({when}):"
            f" {r.rows_done} rows, {r.rows_ok} imported, {r.rows_duplicate} duplicates,"
            f" {r.rows_failed} failed. Nothing sent (--restart imports it again)."
        )
    rate = result.read / result.seconds if result.seconds > 0 else 0.0
    text = f"{name} -> dataset {dataset_id}: "
    if result.before.rows_done:
        text += f"resumed after {result.before.rows_done} rows done earlier; "
    text += (
        f"{result.read} rows read, {result.stored} imported, {result.duplicates} duplicates"
        f" (already imported), {result.failed} failed, {result.warnings} warnings"
        f" in {result.seconds:.1f} s ({rate:,.0f} rows/s)"
    )
    if report.path is not None:
        text += f"; report: {report.path}"
    if not result.finished:
        text += ". Stopped at --max-rows: run the same command again to continue"
    return text + "."


def _print_preview(report: _Report) -> None:
    for p in report.preview:
        where = f"{p.field} (column {p.column})" if p.column else p.field or "row"
        click.echo(f"line {p.line}: {p.level}: {where}: {p.rule}", err=True)
    if report.preview and report.path is None:
        click.echo("Pass --report FILE to get every problem in a CSV file.", err=True)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--dataset", "dataset_id", required=True, help="Dataset to import into.")
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML mapping file (see docs/import.md).",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Map a column, e.g. --map created=event_time; FIELD '-' ignores it. Repeatable.",
)
@click.option("--no-auto", is_flag=True, help="Only the mapped columns, no automatic names.")
@click.option(
    "--action-source",
    type=click.Choice(sorted(ACTION_SOURCES)),
    help="For rows without one (default physical_store).",
)
@click.option("--event-name", help="For rows without one (default Purchase).")
@click.option("--currency", callback=_currency, help="For rows without one, e.g. USD.")
@click.option("--time-format", help="strptime format of event_time, e.g. '%d/%m/%Y %H:%M'.")
@click.option("--timezone", help="Zone of event times without an offset (default UTC).")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every row error and warning (line, column, field, rule) to this CSV file.",
)
@click.option("--test-event-code", help="Send as test events (Events Manager > Test events).")
@click.option("--format", "file_format", type=click.Choice(["csv", "jsonl"]))
@click.option("--delimiter", callback=_delimiter, help="CSV delimiter (default: sniffed).")
@click.option("--encoding", default="utf-8", show_default=True)
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    help="Stop after this many rows; the same command later resumes after them.",
)
@click.option("--restart", is_flag=True, help="Import again a file already imported.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar nor column list.")
@click.option("--batch-size", type=click.IntRange(1, BATCH_SIZE), default=BATCH_SIZE, hidden=True)
@click.pass_context
def import_file(
    ctx: click.Context,
    file: Path,
    dataset_id: str,
    mapping: Path | None,
    maps: tuple[str, ...],
    no_auto: bool,
    action_source: str | None,
    event_name: str | None,
    currency: str | None,
    time_format: str | None,
    timezone: str | None,
    report: Path | None,
    test_event_code: str | None,
    file_format: Format | None,
    delimiter: str | None,
    encoding: str,
    max_rows: int | None,
    restart: bool,
    quiet: bool,
    batch_size: int,
) -> None:
    """Import FILE (CSV or JSON lines): one event per row, sent like any other.

    Columns are mapped by name (email, phone, first_name, value, currency, order_id,
    event_time...) unless --mapping or --map say otherwise. Re-running a finished import
    sends nothing; an interrupted one resumes after its last committed batch.
    """
    constants = {
        "action_source": action_source,
        "event_name": event_name,
        "custom_data.currency": currency,
    }
    spec = _spec(mapping, maps, no_auto, constants, time_format, timezone)
    try:
        import codecs

        codecs.lookup(encoding)
    except LookupError:
        raise click.BadParameter(f"unknown encoding {encoding}", param_hint="--encoding") from None
    options = ImportOptions(
        dataset_id=dataset_id,
        spec=spec,
        file_format=file_format,
        delimiter=delimiter,
        encoding=encoding,
        test_event_code=test_event_code,
        batch_size=batch_size,
        max_rows=max_rows,
        restart=restart,
    )
    settings = settings_from(ctx)
    ensure_schema(settings)
    sink = _Report(report)
    show = not quiet and _stderr_is_tty()

    def begin(record: ImportRecord) -> None:
        sink.append = record.rows_done > 0
        if record.finished_at is None:
            sink.open()

    def plan(p: Plan) -> None:
        if not quiet:
            click.echo(_describe(p), err=True)

    async def run(store: Store) -> ImportResult:
        dataset = await store.get_dataset(dataset_id)
        if dataset is None:
            raise click.ClickException(
                f"no dataset {dataset_id}: add it with `signalyard datasets add {dataset_id}`"
            )
        progress = _Progress(show, f"Importing {file.name}")
        try:
            return await run_import(
                store,
                file,
                options,
                clock=SystemClock(),
                default_country=dataset.default_country or settings.default_country,
                max_future_seconds=settings.max_future_seconds,
                on_problems=sink.add,
                on_progress=progress.update,
                on_plan=plan,
                on_begin=begin,
                identity_by_kind={kind: spec.identity for kind, spec in REGISTRY.items()},
                max_age_by_kind={kind: spec.max_age_seconds for kind, spec in REGISTRY.items()},
            )
        finally:
            progress.close()

    try:
        result = with_store(settings, run)
    except KeyboardInterrupt:
        click.echo(
            "\nInterrupted. Committed batches are recorded: run the same command again to"
            " resume after them.",
            err=True,
        )
        sys.exit(130)
    finally:
        sink.close()
    _print_preview(sink)
    click.echo(_summary(result, file.name, dataset_id, sink))
    if result.failed:
        ctx.exit(EXIT_ROWS_FAILED)
