from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from signalyard.clock import FrozenClock
from signalyard.store import migrate
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
