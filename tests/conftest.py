from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
import uvicorn

from signalyard.clock import FrozenClock
from signalyard.store import migrate
from signalyard.store.base import Store
from signalyard.store.sqlite import SQLiteStore


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'signalyard.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(sqlite_url)
    await store.open()
    yield store
    await store.close()


T = TypeVar("T")
PG_ADMIN_URL = os.environ.get("SIGNALYARD_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
PG_TABLES = (
    "attempts, outbox, dedup_keys, events, destinations, ingest_keys, webhook_deliveries,"
    " webhook_sources, orders, imports, consent_holds, consent_subjects, browser_sources,"
    " click_ledger,"
    " stats_events, stats_masks, stats_rejections, stats_delivery, alerts, datasets,"
    " dashboard_revoked_sessions, secret_key_check,"
    " attribution_cursor, attribution_orders, attribution_touches, attribution_clicks,"
    " attribution_links, attribution_claims, attribution_rates, attribution_reports,"
    " attribution_report_days, attribution_report_leases"
)


def in_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a fresh thread (it may call ``asyncio.run`` even when the caller is inside
    an event loop, as async fixtures are)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated. Under CI a missing server is a
    failure, not a skip."""
    name = f"signalyard_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        in_thread(lambda: asyncio.run(_pg_admin(f"CREATE DATABASE {name}")))
    except OSError as error:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI and is not reachable: {error}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {error}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    in_thread(lambda: migrate.upgrade(url))
    yield url
    in_thread(lambda: asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")))


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""

    async def truncate() -> None:
        import asyncpg

        conn = await asyncpg.connect(pg_database)
        try:
            await conn.execute(f"TRUNCATE {PG_TABLES} RESTART IDENTITY")
        finally:
            await conn.close()

    in_thread(lambda: asyncio.run(truncate()))
    return pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """An open, empty store of each backend (SQLite, and PostgreSQL when marked in)."""
    from signalyard.store.postgres import PostgresStore

    store: Store
    if request.param == "sqlite":
        store = SQLiteStore(request.getfixturevalue("sqlite_url"))
    else:
        store = PostgresStore(request.getfixturevalue("pg_url"))
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Run ASGI apps with uvicorn on 127.0.0.1 in background threads; yields their base URL.
    ``lifespan="on"`` runs the app's lifespan in the server's thread (the gateway's store)."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(asgi_app: Any, lifespan: Literal["auto", "on", "off"] = "off") -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            asgi_app, log_level="warning", lifespan=lifespan, timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 5
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, _ in servers:
        server.should_exit = True
    for _, thread in servers:
        thread.join(timeout=5)


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test stale compiled transforms: with an editable install, the modules mypyc
    compiled (setup.py) are imported instead of their ``.py`` sources, so an edit to a source
    does nothing until the package is built again."""
    import importlib.util

    for name in (
        "birthdate",
        "custom_data",
        "enrich",
        "hashing",
        "identity",
        "normalize",
        "phone",
        "pipeline",
        "user_data",
        "user_data_general",
        "validate",
    ):
        spec = importlib.util.find_spec(f"signalyard.transforms.{name}")
        origin = spec.origin if spec is not None else None
        if origin is None or origin.endswith(".py"):
            continue
        source = Path(origin).parent / f"{name}.py"
        if source.exists() and source.stat().st_mtime > Path(origin).stat().st_mtime:
            pytest.exit(
                f"signalyard/transforms/{name}.py changed after it was compiled ({origin}):"
                " run `pip install -e '.[dev]'` again, or work on pure Python:"
                " `SIGNALYARD_PURE_PYTHON=1 pip install -e '.[dev]'` (which removes the compiled"
                " modules from signalyard/transforms/; deleting signalyard/transforms/*.so does"
                " the same)",
                returncode=4,
            )
