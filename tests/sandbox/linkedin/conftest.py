from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from signalyard.clock import FrozenClock
from signalyard.sandbox.linkedin import SandboxState, create_app

from .factory import NOW


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def state(clock: FrozenClock) -> SandboxState:
    return SandboxState(clock=clock)


@pytest.fixture
def app(clock: FrozenClock, state: SandboxState) -> Starlette:
    return create_app(clock=clock, state=state)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c
