"""``signalyard import`` end to end through the CLI, on SQLite (and PostgreSQL): a 100,000-row
file, the error report, re-runs, resuming, JSON lines, CRM stages, business messaging."""

from __future__ import annotations

import asyncio
import csv
import datetime
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from click.testing import CliRunner, Result

from signalyard.cli import importer, main
from signalyard.runtime import make_store
from signalyard.settings import Settings
from signalyard.store.base import Store

T = TypeVar("T")
DATASET = "123"
EMAIL = "Jane.Doe@Example.com"
BAD_EMAIL = "jane-at-nowhere"
TOKEN = "EAAGsecretDestinationToken0123456789"


class Cli:
    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner(env={"SIGNALYARD_DATABASE_URL": url})

    def __call__(self, *args: str, input: str | None = None, code: int | None = 0) -> Result:
        result = self.runner.invoke(main, list(args), input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{args}: {result.output}") from result.exception
        if code is not None:
            assert result.exit_code == code, (args, result.exit_code, result.output)
        return result

    def store(self, job: Callable[[Store], Awaitable[T]]) -> T:
        async def run() -> T:
            store = make_store(Settings(database_url=self.url))
            await store.open()
            try:
                return await job(store)
            finally:
                await store.close()

        return asyncio.run(run())

    def count(self) -> int:
        return self.store(lambda s: s.event_count(DATASET))

    def payloads(self) -> list[dict[str, Any]]:
        async def job(store: Store) -> list[tuple[Any, ...]]:
            from signalyard.store.postgres import PostgresStore
            from signalyard.store.sqlite import SQLiteStore

            sql = "SELECT payload, test_event_code FROM events ORDER BY pk"
            if isinstance(store, SQLiteStore):
                return await store.run_job(lambda c: c.execute(sql).fetchall())
            assert isinstance(store, PostgresStore)
            return [tuple(r) for r in await store.pool.fetch(sql)]

        return [
            {**orjson.loads(payload), "_test_event_code": code} for payload, code in self.store(job)
        ]


def _cli(url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in list(os.environ):
        if name.startswith("SIGNALYARD_"):
            monkeypatch.delenv(name)
    cli = Cli(url)
    cli("migrate")
    cli("datasets", "add", DATASET, "--name", "Shop", "--default-country", "us")
    return cli


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    yield _cli(f"sqlite:///{tmp_path / 'cli.db'}", monkeypatch)


def now() -> int:
    return int(time.time())


def iso(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat()


def write_csv(path: Path, header: list[str], rows: list[list[Any]], delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def report_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# a large file ------------------------------------------------------------------------------


def test_a_100k_row_file(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli(
        "destinations",
        "add",
        DATASET,
        "meta-prod",
        "--option",
        f"pixel_id={DATASET}",
        "--option",
        "graph_url=sandbox",
        "--token-stdin",
        input=f"{TOKEN}\n",
    )
    t = now() - 3600
    header = ["Email", "Phone", "First Name", "Last Name", "City", "Zip", "Country"]
    header += ["Order Total", "Currency", "Order ID", "Created At"]
    rows = [
        [
            f"customer{i}@example.com",
            f"(650) 555-{i % 10000:04d}",
            "Mary",
            "Smith",
            "Menlo Park",
            "94025",
            "US",
            f"{i % 500}.99",
            "USD",
            f"POS-{i}",
            "" if i % 10_000 == 0 else iso(t - i % 86400),
        ]
        for i in range(100_000)
    ]
    path = write_csv(tmp_path / "orders.csv", header, rows, delimiter=";")
    report = tmp_path / "errors.csv"
    monkeypatch.setattr(importer, "_stderr_is_tty", lambda: True)

    # how fast: bench/wallclock.py import
    result = cli("import", str(path), "--dataset", DATASET, "--report", str(report), code=3)
    assert "Importing orders.csv" in result.stderr  # the progress bar (its label off a TTY)
    assert "Email -> user_data.em" in result.stderr and "Created At -> event_time" in result.stderr
    assert (
        "orders.csv -> dataset 123: 100000 rows read, 99990 imported, 0 duplicates"
        " (already imported), 10 failed, 0 warnings" in result.stdout
    )
    assert f"report: {report}" in result.stdout
    assert cli.count() == 99_990
    errors = report_rows(report)
    assert [int(e["line"]) for e in errors] == [i + 2 for i in range(0, 100_000, 10_000)]
    assert {(e["level"], e["column"], e["field"]) for e in errors} == {
        ("error", "Created At", "event_time")
    }
    status = orjson.loads(cli("status", "--json").output)
    assert status[0]["queued"] == 99_990  # in the outbox: delivery sends them like any other

    again = cli("import", str(path), "--dataset", DATASET, "--report", str(report))
    assert "orders.csv was already imported into dataset 123" in again.stdout
    assert "99990 imported" in again.stdout and "Nothing sent" in again.stdout
    assert cli.count() == 99_990


# row errors and the report -----------------------------------------------------------------


def test_bad_rows_are_reported_by_line_and_never_quote_the_value(cli: Cli, tmp_path: Path) -> None:
    t = now() - 600
    header = ["email", "phone", "value", "currency", "order_id", "event_time", "action_source"]
    rows: list[list[Any]] = [
        [EMAIL, "+1 650 555 1212", "10", "USD", "A1", t, ""],  # 2 ok
        [BAD_EMAIL, "+1 650 555 1213", "10", "USD", "A2", t, ""],  # 3 email dropped: warning
        [EMAIL, "", "10", "USD", "A3", "", ""],  # 4 no event_time
        [EMAIL, "", "10", "DOLLARS", "A4", t, ""],  # 5 invalid currency for a Purchase
        [EMAIL, "", "10", "USD", "A5", t, "shop_floor"],  # 6 wrong action_source
        [EMAIL, "", "10", "USD", "A6", t - 8 * 86400, ""],  # 7 older than 7 days
        [EMAIL, "", "", "USD", "A7", iso(t), "physical_store"],  # 8 a Purchase with no value
    ]
    path = write_csv(tmp_path / "sales.csv", header, rows)
    report = tmp_path / "report.csv"
    result = cli("import", str(path), "--dataset", DATASET, "--report", str(report), code=3)
    assert "7 rows read, 2 imported, 0 duplicates (already imported), 5 failed, 1 warnings" in (
        result.stdout
    )
    got = {
        (int(r["line"]), r["level"], r["column"], r["field"]): r["rule"]
        for r in report_rows(report)
    }
    assert set(got) == {
        (3, "warning", "email", "user_data.em"),
        (4, "error", "event_time", "event_time"),
        (5, "error", "currency", "custom_data.currency"),
        (6, "error", "action_source", "action_source"),
        (7, "error", "event_time", "event_time"),
        (8, "error", "value", "custom_data.value"),
    }
    assert got[3, "warning", "email", "user_data.em"].endswith("; dropped")
    assert "ISO 4217" in got[5, "error", "currency", "custom_data.currency"]
    assert "7 days" in got[7, "error", "event_time", "event_time"]
    text = report.read_text() + result.output
    for value in (EMAIL, EMAIL.lower(), BAD_EMAIL, "650 555 121", "DOLLARS", "shop_floor"):
        assert value not in text
    assert cli.count() == 2


def test_without_a_report_the_first_problems_go_to_stderr(cli: Cli, tmp_path: Path) -> None:
    rows = [[EMAIL, "5", "USD", ""] for _ in range(15)]
    path = write_csv(tmp_path / "s.csv", ["email", "value", "currency", "created"], rows)
    result = cli("import", str(path), "--dataset", DATASET, "-q", code=3)
    lines = [x for x in result.stderr.splitlines() if x.startswith("line ")]
    assert len(lines) == 10
    assert lines[0] == "line 2: error: event_time (column created): is required (Unix seconds)"
    assert "Pass --report FILE" in result.stderr
    assert "Columns:" not in result.stderr  # --quiet


# re-runs and resuming ----------------------------------------------------------------------


def test_stop_and_resume(cli: Cli, tmp_path: Path) -> None:
    t = now() - 60
    rows: list[list[Any]] = [
        [f"u{i}@example.com", f"{i}.5", "EUR", f"R-{i}", t] for i in range(2500)
    ]
    rows[100][4] = ""  # line 102 fails in the first run
    rows[2000][4] = ""  # line 2002 in the second
    path = write_csv(
        tmp_path / "big.csv", ["email", "total", "currency", "receipt_id", "time"], rows
    )
    report = tmp_path / "r.csv"
    args = ["import", str(path), "--dataset", DATASET, "--report", str(report), "-q"]
    args += ["--map", "time=event_time", "--batch-size", "1000"]

    first = cli(*args, "--max-rows", "1500", code=3)
    assert "1500 rows read, 1499 imported" in first.stdout
    assert "Stopped at --max-rows: run the same command again to continue" in first.stdout
    assert cli.count() == 1499

    second = cli(*args, code=3)
    assert "resumed after 1500 rows done earlier; 1000 rows read, 999 imported, 0 duplicates" in (
        second.stdout
    )
    assert cli.count() == 2498
    assert [r["line"] for r in report_rows(report)] == ["102", "2002"]  # appended

    third = cli(*args)
    assert "2500 rows, 2498 imported, 0 duplicates, 2 failed. Nothing sent" in third.stdout

    # another mapping of the same file is another import; the rows' event ids come from
    # their receipt ids, so they are all duplicates of the stored events
    fourth = cli(*args, "--currency", "EUR", code=3)
    assert "2500 rows read, 0 imported, 2498 duplicates (already imported), 2 failed" in (
        fourth.stdout
    )
    assert cli.count() == 2498


# other shapes ------------------------------------------------------------------------------


def test_json_lines_as_test_events(cli: Cli, tmp_path: Path) -> None:
    t = now() - 300
    lines = [
        {
            "event_name": "Purchase",
            "event_time": t,
            "action_source": "physical_store",
            "user_data": {"em": EMAIL, "country": "us"},
            "custom_data": {"value": 42, "currency": "USD", "order_id": "J-1"},
        },
        {"email": EMAIL, "amount": "7.5", "currency": "USD", "timestamp": iso(t)},
        {"email": EMAIL, "amount": "7.5", "currency": "USD", "timestamp": iso(t)},  # same row
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n")
    result = cli("import", str(path), "--dataset", DATASET, "--test-event-code", "TEST123")
    assert "3 rows read, 2 imported, 1 duplicates (already imported), 0 failed" in result.stdout
    payloads = cli.payloads()
    assert {p["_test_event_code"] for p in payloads} == {"TEST123"}
    assert {p["custom_data"]["value"] for p in payloads} == {42.0, 7.5}
    assert all(EMAIL.lower() not in orjson.dumps(p).decode() for p in payloads)


def test_crm_lead_stages(cli: Cli, tmp_path: Path) -> None:
    mapping = tmp_path / "hubspot.toml"
    mapping.write_text(
        """
[columns]
"Lead ID" = "user_data.lead_id"
"Lifecycle Stage" = "event_name"
"Last Modified" = "event_time"

[set]
"custom_data.event_source" = "crm"
"custom_data.lead_event_source" = "HubSpot"

[event_names]
"Marketing Qualified Lead" = "MarketingQualifiedLead"
"Opportunity" = "Opportunity"
"""
    )
    t = now() - 7200
    rows = [
        ["525645896321548", "Marketing Qualified Lead", iso(t), EMAIL],
        ["525645896321549", "Opportunity", iso(t), ""],
    ]
    header = ["Lead ID", "Lifecycle Stage", "Last Modified", "Email"]
    path = write_csv(tmp_path / "leads.csv", header, rows)
    args = ["import", str(path), "--dataset", DATASET, "--mapping", str(mapping)]
    result = cli(*args, "--action-source", "system_generated")
    assert "2 rows read, 2 imported" in result.stdout
    payloads = {p["event_name"]: p for p in cli.payloads()}
    assert set(payloads) == {"MarketingQualifiedLead", "Opportunity"}
    lead = payloads["Opportunity"]
    assert lead["action_source"] == "system_generated"
    assert lead["user_data"] == {"lead_id": "525645896321549"}
    assert lead["custom_data"] == {"event_source": "crm", "lead_event_source": "HubSpot"}


def test_a_whatsapp_sale(cli: Cli, tmp_path: Path) -> None:
    t = now() - 900
    header = ["Channel", "WABA", "Click ID", "Phone", "Amount", "Currency", "Sold At"]
    rows = [
        [
            "WhatsApp",
            "102290129340398",
            "ARAkLkA8rmlFeiCktEJQ",
            "+84 90 123 4567",
            "350000",
            "VND",
            t,
        ],
        ["whatsapp", "102290129340398", "", "+84 90 123 4567", "350000", "VND", t],
    ]
    path = write_csv(tmp_path / "chat-sales.csv", header, rows)
    report = tmp_path / "r.csv"
    result = cli(
        "import",
        str(path),
        "--dataset",
        DATASET,
        "--action-source",
        "business_messaging",
        "--map",
        "Channel=messaging_channel",
        "--map",
        "WABA=whatsapp_business_account_id",
        "--map",
        "Click ID=ctwa_clid",
        "--map",
        "Sold At=event_time",
        "--report",
        str(report),
        code=3,
    )
    assert "2 rows read, 1 imported, 0 duplicates (already imported), 1 failed" in result.stdout
    (error,) = report_rows(report)
    assert (error["line"], error["column"], error["field"]) == (
        "3",
        "Click ID",
        "user_data.ctwa_clid",
    )
    (sale,) = cli.payloads()
    assert sale["action_source"] == "business_messaging"
    assert sale["messaging_channel"] == "whatsapp"
    assert sale["user_data"]["ctwa_clid"] == "ARAkLkA8rmlFeiCktEJQ"
    assert sale["user_data"]["whatsapp_business_account_id"] == "102290129340398"
    assert len(sale["user_data"]["ph"][0]) == 64  # hashed


# usage errors ------------------------------------------------------------------------------


def test_usage_errors(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", ["email", "created"], [[EMAIL, now()]])
    base = ["import", str(path), "--dataset", DATASET]
    assert "no dataset 999" in cli("import", str(path), "--dataset", "999", code=1).output
    assert "not a field an import can set" in cli(*base, "--map", "email=mail", code=2).output
    assert "ISO 4217" in cli(*base, "--currency", "EURO", code=2).output
    assert "unknown time zone" in cli(*base, "--timezone", "Moon/Base", code=2).output
    missing = cli(*base, "--map", "E-mail=em", code=1).output
    assert "'E-mail' that the file does not have" in missing
    both = write_csv(tmp_path / "b.csv", ["date", "created_at", "email"], [[1, 2, EMAIL]])
    conflict = cli("import", str(both), "--dataset", DATASET, code=1).output
    assert "'date', 'created_at' all map to event_time" in conflict and "--map" in conflict
    no_time = write_csv(tmp_path / "n.csv", ["email", "value"], [[EMAIL, 1]])
    result = cli("import", str(no_time), "--dataset", DATASET, code=1).output
    assert "no column maps to event_time" in result and "--map COLUMN=event_time" in result
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"email,city\na@x.com,S\xe3o Paulo\n")
    assert (
        "line 2 is not valid utf-8 text"
        in cli("import", str(latin), "--dataset", DATASET, code=1).output
    )
    assert cli.count() == 0


# PostgreSQL --------------------------------------------------------------------------------


@pytest.mark.postgres
def test_on_postgresql(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = _cli(pg_url, monkeypatch)
    t = now() - 60
    rows = [[f"u{i}@example.com", "9.5", "USD", f"P-{i}", t] for i in range(2100)]
    path = write_csv(
        tmp_path / "pg.csv", ["email", "value", "currency", "order_id", "created"], rows
    )
    args = ["import", str(path), "--dataset", DATASET, "-q", "--batch-size", "500"]
    assert "Stopped at --max-rows" in cli(*args, "--max-rows", "1200").stdout
    assert cli.count() == 1200
    resumed = cli(*args).stdout
    assert "resumed after 1200 rows done earlier; 900 rows read, 900 imported" in resumed
    assert "was already imported" in cli(*args).stdout
    assert cli.count() == 2100
