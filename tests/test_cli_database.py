"""Which database a command uses, and what it says when it cannot: only ``serve`` and
``migrate`` create one, every error names it, start-up failures are one line, a taken port
is found before a new install's key is made, ``send-test`` fails when nothing was delivered."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from signalyard.app import create_app
from signalyard.cli import main
from signalyard.cli._startup import key_lines
from signalyard.settings import Settings
from signalyard.store import location
from signalyard.store.sqlite import SQLiteStore
from tests.e2e.server import free_port, prepare

KEY_PREFIX = "sy_"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory and an environment without any Signalyard setting."""
    for name in list(os.environ):
        if name.startswith("SIGNALYARD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    result = CliRunner(env=env or {}).invoke(main, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(result.output) from result.exception
    return result


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("datasets", "list"),
        ("datasets", "add", "123"),
        ("keys", "create", "1234567890"),
        ("destinations", "list"),
        ("replay", "--list"),
        ("worker",),
    ],
)
def test_commands_other_than_serve_and_migrate_never_create_a_database(
    here: Path, args: tuple[str, ...]
) -> None:
    result = run(*args)
    assert result.exit_code == 1, result.output
    db = here / "signalyard.db"
    assert f"no database at {db}:" in result.output
    assert "signalyard serve" in result.output and "SIGNALYARD_DATABASE_URL" in result.output
    assert "Traceback" not in result.output
    assert list(here.iterdir()) == []  # nothing created


def test_migrate_creates_the_database_readable_by_its_owner_only(here: Path) -> None:
    previous = os.umask(0o022)
    try:
        assert run("migrate").exit_code == 0
        db = here / "signalyard.db"
        assert stat.S_IMODE(db.stat().st_mode) == 0o600

        async def write() -> None:
            store = SQLiteStore(f"sqlite:///{db}")
            await store.open()
            await store.add_dataset("1", name="x", default_country=None, now=1.0)
            for suffix in ("-wal", "-shm"):  # SQLite gives them the database file's mode
                assert stat.S_IMODE(os.stat(f"{db}{suffix}").st_mode) == 0o600
            await store.close()

        asyncio.run(write())
    finally:
        os.umask(previous)


def test_opening_a_database_others_can_read_warns_with_the_fix(
    here: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert run("migrate").exit_code == 0
    db = here / "signalyard.db"
    db.chmod(0o644)
    with caplog.at_level("WARNING", logger="signalyard.store"):
        assert run("datasets", "list").exit_code == 0
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "signalyard.store"]
    assert f"{db} 0644" in warning and f"chmod 600 {db}" in warning
    db.chmod(0o600)
    caplog.clear()
    with caplog.at_level("WARNING", logger="signalyard.store"):
        assert run("datasets", "list").exit_code == 0
    assert not [r for r in caplog.records if r.name == "signalyard.store"]


def test_errors_about_the_store_name_the_database(here: Path) -> None:
    assert run("migrate").exit_code == 0
    db = here / "signalyard.db"
    result = run("keys", "create", "999")
    assert result.exit_code == 1
    assert f"no dataset 999: add it with `datasets add` (database {db})" in result.output
    result = run("datasets", "set-origins", "999", "https://a.example")
    assert result.exit_code == 2  # still a usage error
    assert f"(database {db})" in result.output


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_a_corrupt_or_unreachable_database_is_one_line(here: Path, command: str) -> None:
    args = (command, "--port", str(free_port())) if command == "serve" else (command,)
    (here / "corrupt.db").write_bytes(b"not a database at all" * 100)
    result = run(*args, env={"SIGNALYARD_DATABASE_URL": "sqlite:///corrupt.db"})
    assert result.exit_code == 1
    assert result.output == (
        f"Error: the database {here / 'corrupt.db'} is not a SQLite database or is corrupt:"
        " restore it from a backup, or set database_url to another file\n"
    )
    result = run(*args, env={"SIGNALYARD_DATABASE_URL": "sqlite:///missing/x.db"})
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot open the database {here / 'missing' / 'x.db'}: the directory"
        f" {here / 'missing'} does not exist (create it, or set database_url to another path)\n"
    )
    url = "postgresql://signalyard:hunter2@127.0.0.1:1/nothing?password=hunter2"
    result = run(*args, env={"SIGNALYARD_DATABASE_URL": url})
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1
    assert "postgresql://signalyard@127.0.0.1:1/nothing" in result.output
    assert "hunter2" not in result.output and "Traceback" not in result.output


def test_a_read_only_database_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    sqlite3.connect(db).close()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            conn.execute("CREATE TABLE t(x)")
    finally:
        conn.close()
    assert location.sqlite_problem(str(db), raised.value) == (
        f"the database {db} is read-only: give the user running signalyard write access to it"
        f" and to {tmp_path} (SQLite writes its -wal and -shm files there)"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_serve_on_a_read_only_database_file(here: Path) -> None:
    assert run("migrate").exit_code == 0
    (here / "signalyard.db").chmod(0o400)
    here.chmod(0o500)
    try:
        result = run("serve", "--port", str(free_port()))
    finally:
        here.chmod(0o700)
    assert result.exit_code == 1
    assert "is read-only" in result.output and "Traceback" not in result.output


def test_a_taken_port_is_found_before_the_new_install_and_its_key(here: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: port {port} on 127.0.0.1 is in use by another process: stop it, or choose"
        " another port with --port (or SIGNALYARD_PORT)\n"
    )
    assert KEY_PREFIX not in result.output
    assert list(here.iterdir()) == []  # no database, no key file: the next start is new


def test_destinations_add_of_an_unknown_kind_names_the_known_kinds(here: Path) -> None:
    assert run("migrate").exit_code == 0
    assert run("datasets", "add", "123").exit_code == 0
    from signalyard.sinks import REGISTRY

    result = run(
        "destinations", "add", "123", "ms", "--kind", "myspace", "--token-stdin", input="tok\n"
    )
    assert result.exit_code == 1
    known = ", ".join(sorted(REGISTRY))
    assert result.output == f"Error: unknown destination kind 'myspace'; known kinds: {known}\n"


def test_the_first_key_is_printed_on_a_terminal_and_written_to_a_private_file_otherwise(
    tmp_path: Path,
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'gw.db'}")
    shown = key_lines(settings, "1234567890", "sy_secret", terminal=True)
    assert "  sy_secret\n" in shown
    assert not (tmp_path / "gw.db.initial-key").exists()
    (tmp_path / "gw.db.initial-key").write_text("an older key\n")
    logged = key_lines(settings, "1234567890", "sy_secret", terminal=False)
    path = tmp_path / "gw.db.initial-key"
    assert "sy_secret" not in logged
    assert f"written to {path}" in logged and f'--key "$(cat {path})"' in logged
    assert path.read_text() == "sy_secret\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_database_names_never_carry_a_password() -> None:
    assert location.describe("postgresql://u:p%40ss@db.internal:5432/sy") == (
        "postgresql://u@db.internal:5432/sy"
    )
    assert location.describe("postgres://db/sy?sslmode=require&password=x") == (
        "postgres://db/sy?sslmode=require"
    )
    assert location.describe("sqlite:///rel/sy.db") == os.path.abspath("rel/sy.db")


# send-test ----------------------------------------------------------------------------------


@pytest.fixture
def gateway(here: Path, serve: Callable[[Any], str]) -> Iterator[tuple[str, str, dict[str, str]]]:
    """A gateway that accepts events but delivers none (no worker): its URL, key and env."""
    url = f"sqlite:///{here / 'gw.db'}"
    key = prepare(url)
    store = SQLiteStore(url)
    asyncio.run(store.open())
    app = create_app(Settings(database_url=url), store, run_worker=False)
    try:
        yield serve(app), key, {"SIGNALYARD_DATABASE_URL": url}
    finally:
        asyncio.run(store.close())


def test_send_test_fails_when_nothing_was_delivered(
    gateway: tuple[str, str, dict[str, str]],
) -> None:
    base, key, env = gateway
    started = time.monotonic()
    result = run("send-test", "--key", key, "--url", base, "--wait", "0.5", env=env)
    assert result.exit_code == 1, result.output
    assert "Accepted:" in result.output
    assert "Error: not delivered after 0.5s: meta-sandbox: queued" in result.output
    assert "signalyard status --event" in result.output
    assert time.monotonic() - started < 10


def test_send_test_against_another_database_says_so(
    gateway: tuple[str, str, dict[str, str]], here: Path
) -> None:
    base, key, _ = gateway
    other = here / "other"
    other.mkdir()
    assert run("migrate", env={"SIGNALYARD_DATABASE_URL": f"sqlite:///{other}/x.db"}).exit_code == 0
    result = run(
        "send-test",
        "--key",
        key,
        "--url",
        base,
        "--wait",
        "5",
        env={"SIGNALYARD_DATABASE_URL": f"sqlite:///{other}/x.db"},
    )
    assert result.exit_code == 1
    assert "is not in the database this command reads" in result.output
    assert f"(database {other / 'x.db'})" in result.output


def test_send_test_without_a_database_sends_nothing(
    gateway: tuple[str, str, dict[str, str]], here: Path
) -> None:
    base, key, _ = gateway
    result = run("send-test", "--key", key, "--url", base, "--wait", "5")
    assert result.exit_code == 1
    assert f"no database at {here / 'signalyard.db'}" in result.output
    assert "Accepted" not in result.output and not (here / "signalyard.db").exists()
