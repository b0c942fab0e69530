from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette

from signalyard.clock import FrozenClock
from signalyard.sandbox.google import SandboxState, create_app

from .factory import NOW, access_token, bearer, new_key


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sa_key() -> rsa.RSAPrivateKey:
    return new_key()


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


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    """Headers with an access token from the refresh-token grant."""
    return bearer(await access_token(client))
