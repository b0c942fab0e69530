"""File imports (CSV and JSON lines): offline sales, CRM stages, business-messaging orders.

Each row becomes one server event (:mod:`~signalyard.sources.mapping`), cleaned by the same
pipeline as any request, one row at a time (:func:`~signalyard.transforms.pipeline.clean_event`)
so a bad row is reported, with its line number, and does not fail the others. Rows are read
streaming, in batches committed durably with :meth:`Store.ingest`; the ledger
(:mod:`~signalyard.sources.import_store`) records progress after each batch, so an interrupted
import resumes and a finished one is not sent twice. Event ids are deterministic (dataset and
order id, or the row's content), so the store's dedup key also absorbs a re-run.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from signalyard.clock import Clock
from signalyard.errors import ConfigError, InputError
from signalyard.event import AcceptedEvent
from signalyard.insights.recorder import StatsRecorder
from signalyard.sources.extensions import attach, take_extensions
from signalyard.sources.import_files import (
    Format,
    Record,
    Rows,
    detect_format,
    file_digest,
    open_rows,
    sniff_delimiter,
)
from signalyard.sources.import_store import (
    BatchWriter,
    ImportRecord,
    ImportResult,
    import_id,
    ledger_for,
)
from signalyard.sources.ingest import NO_IDENTITY, IdentityPlan, identity_plan, identity_warnings
from signalyard.sources.mapping import PASSTHROUGH, MappingSpec, Plan, resolve
from signalyard.store.base import Store
from signalyard.transforms.pipeline import clean_event

__all__ = [
    "BATCH_SIZE",
    "DEFAULTS",
    "Format",
    "ImportOptions",
    "ImportResult",
    "Problem",
    "Record",
    "Rows",
    "detect_format",
    "open_rows",
    "run_import",
    "sniff_delimiter",
]

BATCH_SIZE = 1000
DEFAULTS = {"action_source": "physical_store", "event_name": "Purchase"}
"""What a row gets when neither it, the mapping's ``[set]`` nor an option gives a value."""
_PLAN_CACHE = 256


@dataclass(frozen=True, slots=True)
class Problem:
    """One line of the error report. Never the value: it may be personal data."""

    line: int
    level: Literal["error", "warning"]
    column: str
    field: str
    rule: str


# rows to events -----------------------------------------------------------------------------


def _nested(row: dict[str, Any]) -> Callable[[str], Any]:
    def get(key: str) -> Any:
        if key in row:
            return row[key]
        value: Any = row
        for part in key.split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    return get


class EventBuilder:
    """Rows → raw server events with deterministic event ids."""

    def __init__(
        self,
        spec: MappingSpec,
        header: Sequence[str] | None,
        *,
        dataset_id: str,
        test_event_code: str | None,
    ) -> None:
        self.spec = spec
        self.plan = resolve(spec, header) if header is not None else None
        if self.plan is not None and "event_time" not in self.plan.targets():
            raise ConfigError(  # every row would fail: say so before reading them
                "no column maps to event_time (the time of the sale or stage change):"
                " name it with --map COLUMN=event_time"
            )
        self._width = len(header) if header is not None else 0
        self._plans: dict[tuple[str, ...], Plan | ConfigError] = {}
        seed = f"{dataset_id}\0{test_event_code or ''}\0".encode()
        self._id_seed = hashlib.sha256(seed)

    def build(self, record: Record) -> tuple[dict[str, Any], Plan]:
        values = record.values
        if isinstance(values, list):
            assert self.plan is not None
            if len(values) < self._width or (
                len(values) > self._width and any(values[self._width :])
            ):
                raise InputError("", f"has {len(values)} fields where the header has {self._width}")
            event, plan = self.plan.build(values.__getitem__), self.plan
        else:
            assert values is not None
            plan = self._json_plan(values)
            base = {k: v for k, v in values.items() if k in PASSTHROUGH} if plan.passthrough else {}
            event = plan.build(_nested(values), base)
        self._set_event_id(event)
        return event, plan

    def _json_plan(self, row: dict[str, Any]) -> Plan:
        keys = tuple(row)
        plan = self._plans.get(keys)
        if plan is None:
            names = list(self.spec.columns)
            skip = PASSTHROUGH if self.spec.auto else frozenset()
            names += [k for k in keys if k not in self.spec.columns and k not in skip]
            try:
                plan = resolve(self.spec, names, by_name=True)
            except ConfigError as error:
                plan = error
            if len(self._plans) >= _PLAN_CACHE:
                self._plans.clear()
            self._plans[keys] = plan
        if isinstance(plan, ConfigError):
            raise InputError("", str(plan))
        return plan

    def _set_event_id(self, event: dict[str, Any]) -> None:
        if event.get("event_id") not in (None, ""):
            return
        custom = event.get("custom_data")
        order_id = custom.get("order_id") if isinstance(custom, dict) else None
        h = self._id_seed.copy()
        if order_id not in (None, ""):
            h.update(b"order\0" + str(order_id).encode(errors="surrogatepass"))
        else:
            try:
                h.update(b"row\0" + orjson.dumps(event, option=orjson.OPT_SORT_KEYS))
            except orjson.JSONEncodeError:
                raise InputError("", "holds a value JSON cannot represent") from None
        event["event_id"] = h.hexdigest()[:32]


# the import ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportOptions:
    dataset_id: str
    spec: MappingSpec
    file_format: Format | None = None
    delimiter: str | None = None
    encoding: str = "utf-8"
    test_event_code: str | None = None
    batch_size: int = BATCH_SIZE
    max_rows: int | None = None
    """Stop after this many rows in this run (the next run resumes after them)."""
    restart: bool = False
    """Import again even if the ledger says this import finished."""

    def identity(self, file_format: Format, delimiter: str | None, digest: str) -> str:
        mapping = orjson.dumps(
            [
                self.spec.fingerprint().decode(),
                file_format,
                delimiter,
                codecs.lookup(self.encoding).name,
                self.test_event_code,
            ]
        )
        return import_id(self.dataset_id, digest, mapping)


@dataclass(slots=True)
class _Run:
    """One run of an import: clean batches, commit them (the writer advances the ledger)."""

    writer: BatchWriter
    builder: EventBuilder
    options: ImportOptions
    clock: Clock
    default_country: str | None
    max_future_seconds: int
    on_problems: Callable[[list[Problem]], None]
    warnings: int = 0
    identity: IdentityPlan = NO_IDENTITY
    """The identity variants the dataset's destinations need (looked up once per run)."""

    def _new_id(self) -> str:  # never called: every row gets an id from the builder
        raise AssertionError("imported rows always carry an event_id")

    def clean(self, batch: list[Record], now: float) -> list[AcceptedEvent]:
        """The batch's events that pass the pipeline; the others, and the warnings, go to
        ``on_problems`` with their line number."""
        accepted: list[AcceptedEvent] = []
        problems: list[Problem] = []
        for record in batch:
            plan: Plan | None = self.builder.plan
            try:
                if record.error is not None:
                    raise record.error
                raw, plan = self.builder.build(record)
                if isinstance(raw, dict) and isinstance(raw.get("consent"), str):
                    # a consent column: its state, from this import
                    raw["consent"] = {"state": raw["consent"].strip().lower(), "source": "import"}
                prepared, extensions = take_extensions(raw, self.default_country)
                event = clean_event(
                    prepared,
                    dataset_id=self.options.dataset_id,
                    default_country=self.default_country,
                    now=now,
                    new_id=self._new_id,
                    source="import",
                    max_age_seconds=self.identity.max_age_seconds,
                    identity=self.identity.variants,
                    test_event_code=self.options.test_event_code,
                    max_future_seconds=self.max_future_seconds,
                )
            except InputError as error:
                column = plan.columns_for(error.field) if plan is not None else ""
                problems.append(Problem(record.line, "error", column, error.field, error.rule))
                if self.writer.recorder is not None:
                    self.writer.recorder.rejected(
                        self.options.dataset_id, "import", error.field, error.rule, now=now
                    )
                continue
            accepted.append(attach(event, extensions))
            warnings = event.warnings
            if self.identity.variants and "_identity" in event.payload:
                warnings = (
                    *warnings,
                    *identity_warnings(event.payload["_identity"], self.identity),
                )
            for warning in warnings:
                path, _, rule = warning.partition(": ")
                column = plan.columns_for(path) if plan is not None else ""
                problems.append(Problem(record.line, "warning", column, path, rule))
        self.warnings += sum(p.level == "warning" for p in problems)
        if problems:
            self.on_problems(problems)
        return accepted

    async def run(self, rows: Rows, size: int, on_progress: Callable[[int, int], None]) -> bool:
        """Import what is left of ``rows``; True if the file was read to its end. A batch is
        cleaned while the previous one is being committed."""
        records = rows.records
        for _ in range(self.writer.record.rows_done):
            if next(records, None) is None:
                break
        on_progress(rows.position(), size)
        pending: asyncio.Task[None] | None = None
        try:
            for batch in _batches(records, self.options.batch_size, self.options.max_rows):
                now = self.clock.now()
                accepted = self.clean(batch, now)
                if pending is not None:
                    await asyncio.shield(pending)  # a cancelled run still records it
                pending = asyncio.create_task(self.writer.commit(len(batch), accepted, now))
                await asyncio.sleep(0)  # let the commit start before cleaning the next batch
                on_progress(rows.position(), size)
            if pending is not None:
                await asyncio.shield(pending)
        finally:
            if pending is not None and not pending.done():
                with contextlib.suppress(Exception):
                    await asyncio.shield(pending)  # keep the ledger in step with the store
        return next(records, None) is None


def _batches(records: Iterator[Record], size: int, limit: int | None) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for taken, record in enumerate(records, 1):
        batch.append(record)
        if len(batch) >= size or taken == limit:
            yield batch
            batch = []
            if taken == limit:
                return
    if batch:
        yield batch


async def run_import(
    store: Store,
    path: Path,
    options: ImportOptions,
    *,
    clock: Clock,
    default_country: str | None,
    max_future_seconds: int = 600,
    on_problems: Callable[[list[Problem]], None] = lambda problems: None,
    on_progress: Callable[[int, int], None] = lambda done, size: None,
    on_plan: Callable[[Plan], None] = lambda plan: None,
    on_begin: Callable[[ImportRecord], None] = lambda record: None,
    identity_by_kind: Mapping[str, frozenset[str]] | None = None,
    max_age_by_kind: Mapping[str, int] | None = None,
) -> ImportResult:
    """Import ``path`` into ``options.dataset_id`` (which must exist).

    ``on_begin`` gets the ledger record before anything is read (``rows_done`` > 0: this run
    resumes; ``finished_at`` set: nothing will be sent); ``on_plan`` the resolved column plan
    of a CSV file before the first row; ``on_problems`` each batch's row errors and warnings
    before the batch is committed; ``on_progress(bytes read, file size)`` after each batch.

    Raises :class:`ConfigError` for a file or mapping that cannot be used at all (batches
    committed before a fatal error stay committed, and the next run resumes after them).

    ``identity_by_kind``: destination kind -> the identity variants it needs (each sink
    spec's ``identity``); those the dataset's destinations need are made for every row.
    ``max_age_by_kind``: destination kind -> the oldest event its platform takes; rows older
    than every one of the dataset's destinations takes are refused (see
    :class:`~signalyard.sources.ingest.Ingestor`)."""
    started = time.monotonic()
    file_format = options.file_format or detect_format(path)
    delimiter = options.delimiter
    if file_format == "csv" and delimiter is None:
        delimiter = sniff_delimiter(path, options.encoding)
    identity = options.identity(file_format, delimiter, file_digest(path))
    ledger = ledger_for(store)
    record = await ledger.begin(
        identity, dataset_id=options.dataset_id, file_name=path.name, now=clock.now()
    )
    if options.restart:
        record = await ledger.reset(identity, now=clock.now())
    on_begin(record)
    if record.finished_at is not None:
        return ImportResult(record, record, True, True, 0, time.monotonic() - started)

    rows = open_rows(path, file_format, encoding=options.encoding, delimiter=delimiter)
    try:
        builder = EventBuilder(
            options.spec,
            rows.header,
            dataset_id=options.dataset_id,
            test_event_code=options.test_event_code,
        )
        if builder.plan is not None:
            on_plan(builder.plan)
        writer = BatchWriter(store, ledger, record, StatsRecorder(store))
        run = _Run(
            writer,
            builder,
            options,
            clock=clock,
            default_country=default_country,
            max_future_seconds=max_future_seconds,
            on_problems=on_problems,
            identity=await identity_plan(
                store, options.dataset_id, identity_by_kind or {}, max_age_by_kind
            ),
        )
        finished = await run.run(rows, path.stat().st_size, on_progress)
    finally:
        rows.close()
    after = await writer.finish(now=clock.now()) if finished else writer.record
    return ImportResult(record, after, False, finished, run.warnings, time.monotonic() - started)
