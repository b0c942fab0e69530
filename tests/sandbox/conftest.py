"""The fixtures every sandbox's tests share: ``tests/sandbox/<kind>/`` tests the package
``signalyard.sandbox.<kind>``, on a frozen clock at :data:`.builders.NOW`."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from signalyard.clock import FrozenClock

from .builders import NOW


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> ModuleType:
    """The sandbox package of the test's folder (its ``SandboxState`` and ``create_app``)."""
    return importlib.import_module(f"signalyard.sandbox.{request.path.parent.name}")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def state(sandbox: ModuleType, clock: FrozenClock) -> Any:
    return sandbox.SandboxState(clock=clock)


@pytest.fixture
def app(sandbox: ModuleType, clock: FrozenClock, state: Any) -> Starlette:
    app: Starlette = sandbox.create_app(clock=clock, state=state)
    return app


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c
