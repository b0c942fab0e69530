"""The Google sandbox in this process, on a frozen clock, and credentials of both kinds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from signalyard.clock import FrozenClock
from signalyard.sandbox.google import SandboxState, create_app
from signalyard.sandbox.registry import served
from signalyard.secret import Secret
from signalyard.sinks.google import GoogleConfig, GoogleSink

from .events import NOW

SANDBOX = "http://sandbox.test"
CLIENT_ID = "123456789012-signalyard.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-signalyard-test-secret"
REFRESH_TOKEN = "1//0signalyard-refresh-token"
SA_EMAIL = "gateway@my-project.iam.gserviceaccount.com"


@pytest.fixture(scope="session")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def key_file(private_key: rsa.RSAPrivateKey) -> str:
    """A service account's JSON key file, as the Cloud console downloads it."""
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return orjson.dumps(
        {
            "type": "service_account",
            "project_id": "my-project",
            "private_key_id": "0123456789abcdef",
            "private_key": pem,
            "client_email": SA_EMAIL,
            "client_id": "100000000000000000001",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def user_secrets() -> dict[str, Secret]:
    return {
        "client_id": Secret(CLIENT_ID),
        "client_secret": Secret(CLIENT_SECRET),
        "refresh_token": Secret(REFRESH_TOKEN),
    }


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def sandbox(clock: FrozenClock, private_key: rsa.RSAPrivateKey) -> SandboxState:
    """A sandbox that knows exactly our two credentials (and checks the JWT's signature)."""
    return SandboxState(
        clock=clock,
        clients={CLIENT_ID: CLIENT_SECRET},
        service_accounts={SA_EMAIL: public_pem(private_key)},
    )


@pytest.fixture
async def client(clock: FrozenClock, sandbox: SandboxState) -> AsyncIterator[httpx.AsyncClient]:
    app = served({"google": create_app(clock=clock, state=sandbox)})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as c:
        yield c


def make_config(secrets: dict[str, Secret], **options: Any) -> GoogleConfig:
    base = f"{SANDBOX}/sandbox/google"
    return GoogleConfig.from_mapping(
        {
            "operating_account_id": "1234567890",
            "conversion_action_id": "987654321",
            "api_url": base,
            "token_url": base,
            **options,
        },
        secrets,
    )


def make_sink(
    client: httpx.AsyncClient, clock: FrozenClock, secrets: dict[str, Secret], **options: Any
) -> GoogleSink:
    return GoogleSink(make_config(secrets, **options), client, clock)
