"""Google's own fixtures (the shared ones are in ``tests/sandbox/conftest.py``)."""

from __future__ import annotations

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from .factory import access_token, bearer, new_key


@pytest.fixture(scope="session")
def sa_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    """Headers with an access token from the refresh-token grant."""
    return bearer(await access_token(client))
