"""File imports below the CLI: mappings, readers, event ids, the ledger, and run_import on
both stores (resume, re-run, row errors with line numbers)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.errors import ConfigError, InputError
from signalyard.secret import Secret
from signalyard.sources.import_store import ImportRecord, import_id, ledger_for
from signalyard.sources.mapping import (
    MappingSpec,
    auto_target,
    check_target,
    load_mapping,
    parse_map_options,
    parse_time,
    resolve,
)
from signalyard.sources.offline import (
    DEFAULTS,
    EventBuilder,
    ImportOptions,
    Problem,
    Record,
    detect_format,
    open_rows,
    run_import,
    sniff_delimiter,
)
from signalyard.store.base import Store
from signalyard.store.postgres import PostgresStore
from signalyard.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio
NOW = 1_800_000_000
DATASET = "777"
EMAIL = "Jane.Doe@Example.com"
BAD_EMAIL = "jane-at-nowhere"
SPEC = MappingSpec(constants=DEFAULTS)


@pytest.fixture
async def store(backend_store: Store) -> Store:
    await backend_store.add_dataset(DATASET, name="Store", default_country="US", now=NOW)
    return backend_store


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def orders_csv(path: Path, n: int, *, start: int = 0) -> Path:
    lines = ["email,phone,order_total,currency,order_id,created"]
    for i in range(start, start + n):
        lines.append(f"u{i}@example.com,+1 650 555 {i % 10000:04d},{i}.5,USD,o-{i},{NOW - 60 - i}")
    return write(path, "\n".join(lines) + "\n")


class Collected:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.progress: list[tuple[int, int]] = []

    def kwargs(self) -> dict[str, Any]:
        return {
            "on_problems": self.problems.extend,
            "on_progress": lambda done, size: self.progress.append((done, size)),
        }


async def run(
    store: Store, path: Path, spec: MappingSpec = SPEC, seen: Collected | None = None, **kw: Any
) -> Any:
    seen = seen or Collected()
    options = ImportOptions(dataset_id=DATASET, spec=spec, **kw)
    return await run_import(
        store,
        path,
        options,
        clock=FrozenClock(NOW),
        default_country="US",
        **seen.kwargs(),
    )


# mappings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "full"),
    [
        ("em", "user_data.em"),
        ("user_data.ph", "user_data.ph"),
        ("lead_id", "user_data.lead_id"),
        ("ctwa_clid", "user_data.ctwa_clid"),
        ("value", "custom_data.value"),
        ("custom_data.margin", "custom_data.margin"),
        ("event_time", "event_time"),
        ("messaging_channel", "messaging_channel"),
        ("-", "-"),
    ],
)
def test_targets_and_their_shorthands(target: str, full: str) -> None:
    assert check_target(target) == full


@pytest.mark.parametrize("target", ["user_data.email", "foo", "custom_data.a.b", "user_data"])
def test_unknown_targets_are_refused(target: str) -> None:
    with pytest.raises(ConfigError, match="not a field an import can set"):
        check_target(target)


@pytest.mark.parametrize(
    ("column", "target"),
    [
        ("Email", "user_data.em"),
        ("E-mail Address", "user_data.em"),
        ("Phone Number", "user_data.ph"),
        ("First Name", "user_data.fn"),
        ("last_name", "user_data.ln"),
        ("ZIP Code", "user_data.zp"),
        ("Order Total", "custom_data.value"),
        ("Order #", "custom_data.order_id"),
        ("order_id", "custom_data.order_id"),
        ("Created At", "event_time"),
        ("currency", "custom_data.currency"),
        ("lead_id", "user_data.lead_id"),
        ("PSID", "user_data.page_scoped_user_id"),
        ("page_id", "user_data.page_id"),
        ("user_data.ig_sid", "user_data.ig_sid"),
        ("notes", None),
        ("sku", None),
    ],
)
def test_automatic_names(column: str, target: str | None) -> None:
    assert auto_target(column) == target


def test_parse_map_options() -> None:
    assert parse_map_options(["E-mail=em", "created=event_time", "notes=-"]) == {
        "E-mail": "user_data.em",
        "created": "event_time",
        "notes": "-",
    }
    with pytest.raises(ConfigError, match="COLUMN=FIELD"):
        parse_map_options(["email"])


def test_resolve_explicit_wins_and_conflicts_are_named() -> None:
    spec = MappingSpec(columns={"created": "event_time"})
    plan = resolve(spec, ["date", "created", "email", "notes"])
    assert {(c, t) for c, t, _ in plan.mapped} == {
        ("created", "event_time"),
        ("email", "user_data.em"),
    }
    assert plan.ignored == ("date", "notes")
    with pytest.raises(ConfigError, match="'date', 'created_at' all map to event_time"):
        resolve(MappingSpec(), ["date", "created_at"])
    with pytest.raises(ConfigError, match="'Mail' that the file does not have"):
        resolve(MappingSpec(columns={"Mail": "em"}), ["email"])


def test_several_columns_for_one_hashed_key_make_a_list() -> None:
    spec = MappingSpec(columns={"email2": "em", "email": "em"})
    plan = resolve(spec, ["email", "email2", "value"])
    event = plan.build(["a@x.com", " b@y.com ", "3"].__getitem__)
    assert event == {"user_data": {"em": ["a@x.com", "b@y.com"]}, "custom_data": {"value": "3"}}
    assert plan.columns_for("user_data.em[1]") == "email, email2"
    only = resolve(MappingSpec(columns={"email2": "em"}), ["email", "email2"])
    assert only.mapped == (("email2", "user_data.em", False),)  # explicit wins over automatic
    assert only.ignored == ("email",)
    empty = plan.build(["", "", ""].__getitem__)
    assert empty == {}


def test_constants_fill_only_what_the_row_leaves_empty() -> None:
    spec = MappingSpec(constants={"event_name": "Purchase", "custom_data.currency": "EUR"})
    plan = resolve(spec, ["event_name", "currency"])
    assert plan.build(["Lead", ""].__getitem__) == {
        "event_name": "Lead",
        "custom_data": {"currency": "EUR"},
    }
    assert plan.build(["", "usd"].__getitem__) == {
        "event_name": "Purchase",
        "custom_data": {"currency": "usd"},
    }


def test_mapping_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.toml",
        """
[columns]
"E-mail" = "user_data.em"
Stage = "event_name"
Notes = "-"

[set]
action_source = "system_generated"
"custom_data.event_source" = "crm"

[event_names]
"Closed Won" = "Purchase"

[options]
time_format = "%d/%m/%Y %H:%M"
timezone = "Europe/Paris"
auto = false
""",
    )
    spec = load_mapping(path)
    assert spec.columns == {"E-mail": "user_data.em", "Stage": "event_name", "Notes": "-"}
    assert spec.constants == {
        "action_source": "system_generated",
        "custom_data.event_source": "crm",
    }
    assert spec.auto is False
    plan = resolve(spec, ["E-mail", "Stage", "Notes", "email"])
    assert plan.ignored == ("Notes", "email")
    event = plan.build(["a@x.com", "Closed Won", "vip", "other@x.com"].__getitem__)
    assert event["event_name"] == "Purchase"
    assert plan.build(["a@x.com", "Qualified", "", ""].__getitem__)["event_name"] == "Qualified"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[columns]\nemail = 3\n", "must be given a string"),
        ("[colums]\n", r"unknown table \[colums\]"),
        ("[options]\nauto = 'yes'\n", "auto is unknown or of the wrong type"),
        ("[set]\nuser_data = 'x'\n", "not a field"),
        ("[columns]\nemail = 'user_data.mail'\n", "not a field an import can set"),
        ("[columns\n", "not valid TOML"),
    ],
)
def test_bad_mapping_files(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_mapping(write(tmp_path / "m.toml", text))


def test_unknown_time_zone() -> None:
    with pytest.raises(ConfigError, match="unknown time zone"):
        MappingSpec(timezone="Mars/Olympus").tzinfo()


@pytest.mark.parametrize(
    ("text", "fmt", "tz", "expected"),
    [
        ("1800000000", None, "UTC", 1_800_000_000),
        ("1800000000.75", None, "UTC", 1_800_000_000),
        ("2027-01-15T08:00:00Z", None, "UTC", 1_800_000_000),
        ("2027-01-15 10:00:00+02:00", None, "UTC", 1_800_000_000),
        ("2027-01-15T08:00:00", None, "UTC", 1_800_000_000),
        ("2027-01-15T09:00:00", None, "Europe/Paris", 1_800_000_000),
        ("15/01/2027 08:00", "%d/%m/%Y %H:%M", "UTC", 1_800_000_000),
        ("2027-01-15", None, "UTC", 1_800_000_000 - 8 * 3600),
    ],
)
def test_parse_time(text: str, fmt: str | None, tz: str, expected: int) -> None:
    assert parse_time(text, fmt, MappingSpec(timezone=tz).tzinfo()) == expected


@pytest.mark.parametrize("text", ["yesterday", "15/01/2027", "2027-13-01"])
def test_parse_time_refuses_other_text(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_time(text, None, datetime.UTC)
    assert info.value.field == "event_time"
    assert "ISO 8601" in info.value.rule


# reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    rows = [["email", "order_total", "note"], ["a@x.com", "1,5", "x;y"], ["b@x.com", "2", ""]]
    text = "\n".join(
        delimiter.join(f'"{c}"' if (set(c) & set(",;|\t")) else c for c in row) for row in rows
    )
    path = write(tmp_path / "f.csv", text + "\n")
    assert sniff_delimiter(path, "utf-8") == delimiter
    got = open_rows(path, "csv", delimiter=sniff_delimiter(path, "utf-8"))
    try:
        assert got.header == rows[0]
        assert [r.values for r in got.records] == rows[1:]
    finally:
        got.close()


def test_bom_and_line_numbers_with_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b'\xef\xbb\xbfemail,note\r\na@x.com,"two\r\nlines"\r\n\r\nb@x.com,plain\r\n')
    rows = open_rows(path, "csv", delimiter=",")
    try:
        assert rows.header == ["email", "note"]
        assert [(r.line, r.values) for r in rows.records] == [
            (2, ["a@x.com", "two\r\nlines"]),
            (5, ["b@x.com", "plain"]),
        ]
        assert rows.position() == path.stat().st_size
    finally:
        rows.close()


def test_json_lines_reader(tmp_path: Path) -> None:
    path = write(tmp_path / "f.jsonl", '{"a": 1}\n\nnot json\n[1]\n{"b": 2}\n')
    assert detect_format(path) == "jsonl"
    assert detect_format(write(tmp_path / "f.data", ' {"a": 1}\n')) == "jsonl"
    assert detect_format(write(tmp_path / "g.data", "a,b\n")) == "csv"
    rows = open_rows(path, "jsonl")
    try:
        got = list(rows.records)
    finally:
        rows.close()
    assert [(r.line, r.values) for r in got] == [(1, {"a": 1}), (3, None), (4, None), (5, {"b": 2})]
    assert got[1].error is not None and got[1].error.rule == "is not valid JSON"
    assert got[2].error is not None and got[2].error.rule == "must be a JSON object"


def test_a_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"email,city\n" + b"a@x.com,Paris\n" * 5000 + b"b@x.com,S\xe3o Paulo\n")
    rows = open_rows(path, "csv", delimiter=",")
    with pytest.raises(ConfigError, match=r"line 5002 is not valid utf-8 text.*--encoding"):
        list(rows.records)
    rows.close()
    latin = open_rows(path, "csv", encoding="latin-1", delimiter=",")
    assert sum(1 for _ in latin.records) == 5001
    latin.close()


# event ids ----------------------------------------------------------------------------------


def builder(dataset: str = DATASET, code: str | None = None) -> EventBuilder:
    header = ["email", "order_id", "value", "created"]
    return EventBuilder(SPEC, header, dataset_id=dataset, test_event_code=code)


def event_id(b: EventBuilder, *values: str) -> str:
    event, _ = b.build(Record(2, list(values)))
    return str(event["event_id"])


def test_event_ids_are_deterministic() -> None:
    b = builder()
    by_order = event_id(b, "a@x.com", "o-1", "10", "1799999000")
    assert by_order == event_id(builder(), "b@y.com", "o-1", "99", "1799999999")  # same order
    assert by_order != event_id(b, "a@x.com", "o-2", "10", "1799999000")
    assert by_order != event_id(builder("888"), "a@x.com", "o-1", "10", "1799999000")
    assert by_order != event_id(builder(code="TEST1"), "a@x.com", "o-1", "10", "1799999000")
    by_row = event_id(b, "a@x.com", "", "10", "1799999000")
    assert by_row == event_id(builder(), "a@x.com ", "", "10", "1799999000")
    assert by_row != event_id(b, "a@x.com", "", "11", "1799999000")
    assert len(by_row) == 32


def test_a_row_with_the_wrong_number_of_fields() -> None:
    b = builder()
    with pytest.raises(InputError, match="has 3 fields where the header has 4"):
        b.build(Record(2, ["a", "b", "c"]))
    event, _ = b.build(Record(2, ["a@x.com", "o-1", "1", "1799999000", "", ""]))
    assert event["custom_data"]["order_id"] == "o-1"  # trailing empty fields are fine
    with pytest.raises(InputError, match="has 5 fields"):
        b.build(Record(2, ["a@x.com", "o-1", "1", "1799999000", "extra"]))


# run_import ---------------------------------------------------------------------------------


async def test_import_with_row_errors_reported_by_line(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "sales.csv",
        "email,order_total,currency,order_id,created,action_source\n"
        f"{EMAIL},10.5,usd,o-1,{NOW - 60},\n"  # 2 ok
        f"{BAD_EMAIL},10.5,USD,o-2,{NOW - 60},\n"  # 3 email dropped; nothing left: fails
        f"{EMAIL.upper()},10.5,USD,o-3,{NOW - 60},\n"  # 4 ok (the same person)
        f"{EMAIL},10.5,USD,o-4,,\n"  # 5 no event_time
        f"{EMAIL},10.5,XYZ,o-5,{NOW - 60},\n"  # 6 bad currency
        f"{EMAIL},10.5,USD,o-6,{NOW - 60},in_store\n"  # 7 bad action_source
        f"{EMAIL},10.5,USD,o-7,{NOW - 8 * 86400},\n"  # 8 too old
        f'"{EMAIL}, {BAD_EMAIL}",1,USD,o-8,{NOW - 60},\n',  # 9 a bad email: dropped
    )
    seen = Collected()
    result = await run(store, path, seen=seen)
    assert (result.read, result.stored, result.duplicates, result.failed) == (8, 2, 0, 6)
    assert result.finished and not result.already_done
    errors = {(p.line, p.field): p for p in seen.problems if p.level == "error"}
    assert set(errors) == {
        (3, "user_data"),
        (5, "event_time"),
        (6, "custom_data.currency"),
        (7, "action_source"),
        (8, "event_time"),
        (9, "user_data"),
    }
    assert errors[5, "event_time"].rule.startswith("is required")
    assert errors[5, "event_time"].column == "created"
    assert errors[6, "custom_data.currency"].column == "currency"
    assert "7 days" in errors[8, "event_time"].rule
    assert "not an email address" in errors[3, "user_data"].rule
    text = repr(seen.problems).lower()
    assert EMAIL.lower() not in text and BAD_EMAIL not in text
    assert seen.progress[-1] == (path.stat().st_size, path.stat().st_size)
    assert await store.event_count(DATASET) == 2


async def test_a_dropped_value_is_a_warning_not_a_failure(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "sales.csv",
        f"email,phone,value,currency,created\n{BAD_EMAIL},+16505551212,5,USD,{NOW - 60}\n",
    )
    seen = Collected()
    result = await run(store, path, seen=seen)
    assert (result.stored, result.failed, result.warnings) == (1, 0, 1)
    (warning,) = seen.problems
    assert (warning.line, warning.level, warning.column, warning.field) == (
        2,
        "warning",
        "email",
        "user_data.em",
    )
    assert warning.rule.endswith("; dropped")


async def test_rerunning_a_finished_import_sends_nothing(store: Store, tmp_path: Path) -> None:
    path = orders_csv(tmp_path / "o.csv", 30)
    first = await run(store, path, batch_size=7)
    assert (first.read, first.stored, first.finished) == (30, 30, True)
    again = await run(store, path, batch_size=7)
    assert again.already_done and again.read == 0
    assert again.record.rows_done == 30 and again.record.rows_ok == 30
    assert again.record.finished_at is not None
    # --restart reads it again; the events are duplicates of the stored ones
    restarted = await run(store, path, restart=True)
    assert (restarted.read, restarted.stored, restarted.duplicates) == (30, 0, 30)
    assert await store.event_count(DATASET) == 30


async def test_the_same_rows_in_another_file_are_duplicates(store: Store, tmp_path: Path) -> None:
    await run(store, orders_csv(tmp_path / "a.csv", 20))
    overlap = await run(store, orders_csv(tmp_path / "b.csv", 20, start=10))
    assert (overlap.stored, overlap.duplicates) == (10, 10)
    assert await store.event_count(DATASET) == 30


async def test_stopping_and_resuming(store: Store, tmp_path: Path) -> None:
    path = orders_csv(tmp_path / "o.csv", 25)
    part = await run(store, path, batch_size=10, max_rows=12)
    assert (part.read, part.stored, part.finished) == (12, 12, False)
    assert part.record.rows_done == 12 and part.record.finished_at is None
    assert await store.event_count(DATASET) == 12
    rest = await run(store, path, batch_size=10)
    assert rest.before.rows_done == 12
    assert (rest.read, rest.stored, rest.duplicates, rest.finished) == (13, 13, 0, True)
    assert rest.record.rows_total == 25 and rest.record.rows_ok == 25
    assert await store.event_count(DATASET) == 25


async def test_a_crash_resumes_after_the_last_committed_batch(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = orders_csv(tmp_path / "o.csv", 50)
    real = store.ingest
    calls = 0

    async def flaky(events: Any, *, now: float) -> list[bool]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("disk on fire")
        return await real(events, now=now)

    monkeypatch.setattr(store, "ingest", flaky)
    with pytest.raises(OSError, match="disk on fire"):
        await run(store, path, batch_size=10)
    monkeypatch.setattr(store, "ingest", real)
    assert await store.event_count(DATASET) == 20
    resumed = await run(store, path, batch_size=10)
    assert resumed.before.rows_done == 20
    assert (resumed.read, resumed.stored, resumed.duplicates) == (30, 30, 0)
    assert await store.event_count(DATASET) == 50


async def test_json_lines(store: Store, tmp_path: Path) -> None:
    lines = [
        {  # Meta's own shape, ISO time
            "event_name": "Purchase",
            "event_time": "2027-01-15T07:59:00Z",
            "action_source": "physical_store",
            "user_data": {"em": EMAIL, "ph": "+1 650 555 1212"},
            "custom_data": {"value": 12.5, "currency": "USD", "order_id": "j-1"},
        },
        {  # flat, with a nested key mapped by a dotted path
            "email": EMAIL,
            "customer": {"phone": "+1 650 555 0000"},
            "total": "9.99",
            "currency": "EUR",
            "created": NOW - 120,
        },
        {"email": EMAIL, "total": 1, "currency": "EUR"},  # no time
    ]
    path = write(
        tmp_path / "events.ndjson", "\n".join(orjson.dumps(x).decode() for x in lines) + "\n"
    )
    spec = MappingSpec(columns={"customer.phone": "ph"}, constants=DEFAULTS)
    seen = Collected()
    result = await run(store, path, spec, seen=seen)
    assert (result.read, result.stored, result.failed) == (3, 2, 1)
    (error,) = seen.problems
    assert (error.line, error.field) == (3, "event_time")


async def test_crm_lead_stages(store: Store, tmp_path: Path) -> None:
    mapping = write(
        tmp_path / "crm.toml",
        """
[columns]
"Lead ID" = "lead_id"
Stage = "event_name"
"Updated" = "event_time"

[set]
action_source = "system_generated"
"custom_data.event_source" = "crm"
"custom_data.lead_event_source" = "HubSpot"

[event_names]
"Sales Qualified" = "QualifiedLead"
""",
    )
    path = write(
        tmp_path / "leads.csv",
        "Lead ID,Stage,Updated,Email\n"
        f"525645896321548,Sales Qualified,2027-01-15T07:00:00Z,{EMAIL}\n"
        f"525645896321549,Closed,{NOW - 30},\n"
        f"525645896321548,Sales Qualified,2027-01-15T07:00:00Z,{EMAIL}\n",  # the same again
    )
    spec = load_mapping(mapping)
    spec = spec.with_overrides({}, {**DEFAULTS, **spec.constants})
    result = await run(store, path, spec)
    assert (result.stored, result.duplicates, result.failed) == (2, 1, 0)
    payloads = await _payloads(store)
    assert sorted(p["event_name"] for p in payloads) == ["Closed", "QualifiedLead"]
    lead = next(p for p in payloads if p["event_name"] == "QualifiedLead")
    assert lead["user_data"]["lead_id"] == "525645896321548"
    assert lead["action_source"] == "system_generated"
    assert lead["custom_data"] == {"event_source": "crm", "lead_event_source": "HubSpot"}


async def test_business_messaging_rows(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "chats.csv",
        "action_source,messaging_channel,waba_id,ctwa_clid,page_id,psid,value,currency,created\n"
        f"business_messaging,whatsapp,102290129340398,ARAkLkA8rmlFeiCktEJQ,,,25,USD,{NOW - 60}\n"
        f"business_messaging,whatsapp,102290129340398,,,,25,USD,{NOW - 60}\n"
        f"business_messaging,messenger,,,1501,6710,25,USD,{NOW - 60}\n"
        f"business_messaging,messenger,,,1501,,25,USD,{NOW - 60}\n",
    )
    seen = Collected()
    result = await run(store, path, seen=seen)
    assert (result.stored, result.failed) == (2, 2)
    assert {(p.line, p.field) for p in seen.problems} == {
        (3, "user_data.ctwa_clid"),
        (5, "user_data.page_scoped_user_id"),
    }
    whatsapp = next(p for p in await _payloads(store) if p["messaging_channel"] == "whatsapp")
    assert whatsapp["user_data"] == {
        "whatsapp_business_account_id": "102290129340398",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ",
    }


async def _payloads(store: Store) -> list[dict[str, Any]]:
    if isinstance(store, SQLiteStore):
        rows = await store.run_job(lambda c: c.execute("SELECT payload FROM events").fetchall())
        return [orjson.loads(r[0]) for r in rows]
    assert isinstance(store, PostgresStore)
    return [orjson.loads(r[0]) for r in await store.pool.fetch("SELECT payload FROM events")]


# the ledger ---------------------------------------------------------------------------------


async def test_ledger(store: Store) -> None:
    ledger = ledger_for(store)
    iid = import_id(DATASET, "ab" * 32, b"{}")
    assert iid != import_id(DATASET, "ab" * 32, b'{"x":1}')
    assert await ledger.get(iid) is None
    rec = await ledger.begin(iid, dataset_id=DATASET, file_name="f.csv", now=NOW)
    assert rec == ImportRecord(iid, DATASET, "f.csv", 0, 0, 0, 0, NOW, None)
    await ledger.advance(iid, done=1000, ok=990, failed=5)
    await ledger.advance(iid, done=500, ok=1, failed=1)  # an older writer: ignored
    again = await ledger.begin(iid, dataset_id=DATASET, file_name="f.csv", now=NOW + 5)
    assert (again.rows_done, again.rows_ok, again.rows_failed, again.rows_duplicate) == (
        1000,
        990,
        5,
        5,
    )
    assert again.started_at == NOW
    await ledger.finish(iid, total=1000, now=NOW + 9)
    done = await ledger.get(iid)
    assert done is not None and done.finished_at == NOW + 9 and done.rows_total == 1000
    reset = await ledger.reset(iid, now=NOW + 10)
    assert reset == ImportRecord(iid, DATASET, "f.csv", 0, 0, 0, 0, NOW + 10, None)


def test_ledger_needs_a_real_store() -> None:
    with pytest.raises(ConfigError, match="SQLite or PostgreSQL"):
        ledger_for(object())  # type: ignore[arg-type]


async def test_a_consent_column_decides_per_row(store: Store, tmp_path: Path) -> None:
    await store.add_destination(
        DATASET,
        name="meta",
        kind="meta",
        options={"pixel_id": DATASET},
        secrets={"access_token": Secret("t")},
        now=NOW,
    )
    path = write(
        tmp_path / "sales.csv",
        "email,order_total,currency,order_id,created,consent,country\n"
        f"{EMAIL},1,USD,o-1,{NOW - 60},Granted,US\n"  # 2 sent
        f"{EMAIL},1,USD,o-2,{NOW - 60},denied,DE\n"  # 3 EU denial: dropped
        f"{EMAIL},1,USD,o-3,{NOW - 60},denied,US\n"  # 4 US denial: LDU
        f"{EMAIL},1,USD,o-4,{NOW - 60},sometimes,US\n",  # 5 not a state: the row fails
    )
    seen = Collected()
    result = await run(store, path, seen=seen)
    assert (result.stored, result.failed) == (3, 1)
    errors = [(p.line, p.field) for p in seen.problems if p.level == "error"]
    assert errors == [(5, "consent.state")]
    [status] = await store.status(now=NOW)
    assert (status.queued, status.dropped) == (2, 1)
    claimed = await store.claim(
        status.destination.id, owner="t", limit=10, now=NOW, lease_seconds=9
    )
    assert sorted(c.consent_action or "" for c in claimed) == ["full", "ldu"]
    assert {c.payload["_consent"]["source"] for c in claimed} == {"import"}


async def test_imports_count_in_the_statistics(store: Store, tmp_path: Path) -> None:
    from signalyard.insights.views import diagnostics, overview

    path = write(
        tmp_path / "sales.csv",
        "email,order_total,currency,order_id,created\n"
        f"{EMAIL},1,USD,o-1,{NOW - 60}\n"
        f"{EMAIL},1,XYZ,o-2,{NOW - 60}\n",  # bad currency: refused
    )
    await run(store, path)
    view = await overview(store, DATASET, now=NOW, hours=2)
    assert {s.name: s.total for s in view.by_source} == {"import": 1}
    assert (view.stored, view.rejected) == (1, 1)
    codes = {d.code for d in await diagnostics(store, DATASET, now=NOW)}
    assert "purchase_without_currency" in codes
    assert "plaintext_pii" in codes  # the email came in plaintext (and was hashed)
