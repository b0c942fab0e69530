"""Destination secrets at rest: encrypted with the operator key on SQLite and PostgreSQL,
opened in memory only; a wrong key stops the store at open with one line; a database from
before revision 0008 has its plaintext tokens encrypted by the migration."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.secret_box import KeyMismatch, SecretBox, new_key_text
from signalyard.store import migrate
from signalyard.store.base import Store
from signalyard.store.postgres import PostgresStore
from signalyard.store.sqlite import SQLiteStore
from tests.conftest import PG_ADMIN_URL, _pg_admin, in_thread

pytestmark = pytest.mark.anyio
NOW = 1_800_000_000.0
TOKEN = "EAAB-plaintext-token-that-must-never-be-stored-7d1f"
APP_SECRET = "app-secret-that-must-never-be-stored-93ac"
BOX = SecretBox(Secret(new_key_text()), source="the test key")
OTHER = SecretBox(Secret(new_key_text()), source="another test key")

Opener = Callable[..., Store]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> tuple[str, str, Opener]:
    """(backend, url, make a store on it with a given box)."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
        return "sqlite", url, lambda **kw: SQLiteStore(url, **kw)
    url = request.getfixturevalue("pg_url")
    return "postgres", url, lambda **kw: PostgresStore(url, **kw)


async def opened(make: Opener, **kw: Any) -> Store:
    store = make(**kw)
    await store.open()
    return store


async def add(store: Store) -> int:
    await store.add_dataset("px1", name="Pixel", default_country=None, now=NOW)
    d = await store.add_destination(
        "px1",
        name="meta",
        kind="meta",
        options={"pixel_id": "1"},
        secrets={"access_token": Secret(TOKEN), "app_secret": Secret(APP_SECRET)},
        now=NOW,
    )
    return d.id


def sqlite_bytes(url: str) -> bytes:
    path = url.removeprefix("sqlite:///")
    return b"".join(
        Path(name).read_bytes() for name in (path, path + "-wal") if Path(name).exists()
    )


async def pg_rows(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT row_to_json(d)::text AS r FROM destinations d")
        return "\n".join(r["r"] for r in rows)
    finally:
        await conn.close()


async def test_secrets_round_trip_and_are_never_stored_in_plaintext(
    backend: tuple[str, str, Opener],
) -> None:
    kind, url, make = backend
    store = await opened(make, secret_box=BOX)
    try:
        d = await add(store)
        (got,) = await store.list_destinations()
        assert got.secrets == {"access_token": Secret(TOKEN), "app_secret": Secret(APP_SECRET)}
        assert TOKEN not in repr(got)
        (row,) = await store.status(now=NOW)
        assert row.destination.secrets["access_token"].reveal() == TOKEN
        await store.pause(d, reason="expired", fix="set it", now=NOW)
        await store.set_secrets(d, {"access_token": Secret(TOKEN + "-new")}, now=NOW + 1)
        (got,) = await store.list_destinations("px1")
        assert got.secrets == {"access_token": Secret(TOKEN + "-new")}
        assert got.state == "active" and got.paused_reason is None
    finally:
        await store.close()
    if kind == "sqlite":
        raw = sqlite_bytes(url)
        assert b"outbox" in raw  # the file was read
        assert TOKEN.encode() not in raw and APP_SECRET.encode() not in raw
    else:
        rows = await pg_rows(url)
        assert '"secrets"' in rows
        assert TOKEN not in rows and APP_SECRET not in rows
        assert "access_token" not in rows  # not even the field names
    again = await opened(make, secret_box=BOX)
    try:
        (got,) = await again.list_destinations()
        assert got.secrets["access_token"].reveal() == TOKEN + "-new"
    finally:
        await again.close()


async def test_a_wrong_key_stops_the_store_at_open_with_one_line(
    backend: tuple[str, str, Opener],
) -> None:
    _, _, make = backend
    store = await opened(make, secret_box=BOX)
    await add(store)
    await store.close()
    with pytest.raises(KeyMismatch) as caught:
        await opened(make, secret_box=OTHER)
    message = str(caught.value)
    assert "\n" not in message
    assert "another test key" in message and "forget-secrets" in message
    assert "secret_key" in message
    assert isinstance(caught.value, ConfigError)


async def test_forget_secrets_after_losing_the_key(backend: tuple[str, str, Opener]) -> None:
    _, _, make = backend
    store = await opened(make, secret_box=BOX)
    await add(store)
    await store.close()
    lost = await opened(make, secret_box=OTHER, verify_key=False)
    try:
        assert await lost.forget_secrets(now=NOW + 5) == 1
    finally:
        await lost.close()
    store = await opened(make, secret_box=OTHER)  # the new key is the database's now
    try:
        (got,) = await store.list_destinations()
        assert got.secrets == {} and got.state == "paused"
        assert got.paused_fix is not None and "set-secret" in got.paused_fix
        await store.set_secrets(got.id, {"access_token": Secret("fresh")}, now=NOW + 6)
        (got,) = await store.list_destinations()
        assert got.state == "active" and got.secrets == {"access_token": Secret("fresh")}
    finally:
        await store.close()
    with pytest.raises(KeyMismatch):
        await opened(make, secret_box=BOX)


async def test_the_sqlite_default_key_file_is_made_beside_the_database(sqlite_url: str) -> None:
    store = SQLiteStore(sqlite_url)
    await store.open()
    try:
        await add(store)
    finally:
        await store.close()
    key_file = Path(sqlite_url.removeprefix("sqlite:///") + ".secret-key")
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = SQLiteStore(sqlite_url)
    await again.open()
    try:
        (got,) = await again.list_destinations()
        assert got.secrets["access_token"].reveal() == TOKEN
    finally:
        await again.close()


# the migration of a database with plaintext tokens (revision 0007 -> 0008) ----------------

LEGACY_INSERT = (
    "INSERT INTO destinations(dataset_id, name, kind, options, access_token, app_secret,"
    " state, created_at, updated_at) VALUES ('px1', 'meta', 'meta', '{{\"pixel_id\": \"1\"}}',"
    " {token}, {secret}, 'active', 1, 1)"
)


def _legacy_sqlite(url: str) -> None:
    migrate.upgrade(url, "0007")
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("INSERT INTO datasets(id, name, created_at) VALUES ('px1', 'P', 1)")
        conn.execute(LEGACY_INSERT.format(token="?", secret="?"), (TOKEN, APP_SECRET))
        conn.execute(
            "INSERT INTO destinations(dataset_id, name, kind, options, access_token, state,"
            " created_at, updated_at) VALUES ('px1', 'second', 'meta', '{}', 'tok-2',"
            " 'active', 1, 1)"
        )
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def legacy_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _legacy_sqlite(url)
    assert TOKEN.encode() in sqlite_bytes(url)
    return url


async def _check_migrated(store: Store) -> None:
    await store.open()
    try:
        first, second = await store.list_destinations()
        assert first.secrets == {"access_token": Secret(TOKEN), "app_secret": Secret(APP_SECRET)}
        assert second.secrets == {"access_token": Secret("tok-2")}
    finally:
        await store.close()


async def test_migration_encrypts_the_plaintext_tokens_of_a_sqlite_database(
    legacy_sqlite: str,
) -> None:
    migrate.upgrade(legacy_sqlite, secret_box=lambda: BOX)
    raw = sqlite_bytes(legacy_sqlite)
    assert TOKEN.encode() not in raw and APP_SECRET.encode() not in raw
    conn = sqlite3.connect(legacy_sqlite.removeprefix("sqlite:///"))
    try:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(destinations)")}
    finally:
        conn.close()
    assert "secrets" in columns and not {"access_token", "app_secret"} & columns
    await _check_migrated(SQLiteStore(legacy_sqlite, secret_box=BOX))
    with pytest.raises(KeyMismatch):
        await SQLiteStore(legacy_sqlite, secret_box=OTHER).open()


def test_migrating_plaintext_tokens_without_the_key_says_what_to_do(legacy_sqlite: str) -> None:
    with pytest.raises(ConfigError, match="run `signalyard migrate`"):
        migrate.upgrade(legacy_sqlite)
    # nothing changed: the whole upgrade was one transaction
    conn = sqlite3.connect(legacy_sqlite.removeprefix("sqlite:///"))
    try:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        conn.close()
    assert version == "0007"


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    name = f"signalyard_test_secrets_{uuid.uuid4().hex[:10]}"
    try:
        in_thread(lambda: asyncio.run(_pg_admin(f"CREATE DATABASE {name}")))
    except OSError as error:
        pytest.skip(f"PostgreSQL not reachable: {error}")
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    in_thread(lambda: asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")))


@pytest.mark.postgres
async def test_migration_encrypts_the_plaintext_tokens_of_a_postgres_database(
    fresh_pg: str,
) -> None:
    await asyncio.to_thread(migrate.upgrade, fresh_pg, "0007")
    conn = await asyncpg.connect(fresh_pg)
    try:
        await conn.execute("INSERT INTO datasets(id, name, created_at) VALUES ('px1', 'P', 1)")
        await conn.execute(LEGACY_INSERT.format(token="$1", secret="$2"), TOKEN, APP_SECRET)
        await conn.execute(
            "INSERT INTO destinations(dataset_id, name, kind, options, access_token, state,"
            " created_at, updated_at) VALUES ('px1', 'second', 'meta', '{}', 'tok-2',"
            " 'active', 1, 1)"
        )
    finally:
        await conn.close()
    with pytest.raises(ConfigError, match="run `signalyard migrate`"):
        await asyncio.to_thread(migrate.upgrade, fresh_pg)
    await asyncio.to_thread(lambda: migrate.upgrade(fresh_pg, secret_box=BOX))
    rows = await pg_rows(fresh_pg)
    assert rows.count('"secrets"') == 2
    assert TOKEN not in rows and APP_SECRET not in rows and "tok-2" not in rows
    conn = await asyncpg.connect(fresh_pg)
    try:
        columns = {
            r[0]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name='destinations'"
            )
        }
    finally:
        await conn.close()
    assert "secrets" in columns and not {"access_token", "app_secret"} & columns
    await _check_migrated(PostgresStore(fresh_pg, secret_box=BOX))


async def test_an_empty_database_migrates_without_the_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"

    def no_key() -> SecretBox:
        raise AssertionError("the key is not needed")

    migrate.upgrade(url, secret_box=no_key)
