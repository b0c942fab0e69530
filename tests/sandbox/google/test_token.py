"""``POST /token``: Google's OAuth 2.0 token endpoint, refresh-token and JWT-bearer grants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.clock import FrozenClock
from signalyard.sandbox.google import SandboxState, create_app
from signalyard.sandbox.google.tokens import TOKEN_LIFETIME

from .factory import (
    CLIENT_ID,
    CLIENT_SECRET,
    INGEST,
    NOW,
    SA_EMAIL,
    SCOPE,
    assertion,
    bearer,
    body,
    event,
    jwt_form,
    new_key,
    public_pem,
    refresh_form,
)

pytestmark = pytest.mark.anyio


def oauth_error(r: httpx.Response, status: int, error: str) -> str:
    assert r.status_code == status, r.text
    data = r.json()
    assert set(data) == {"error", "error_description"}
    assert data["error"] == error
    assert r.headers["cache-control"].startswith("no-cache")
    description: str = data["error_description"]
    return description


async def test_refresh_grant_issues_a_bearer_token(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    r = await client.post("/token", data=refresh_form())
    assert r.status_code == 200, r.text
    data = r.json()
    assert set(data) == {"access_token", "expires_in", "scope", "token_type"}
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == TOKEN_LIFETIME == 3599
    assert data["scope"] == SCOPE
    assert data["access_token"].startswith("ya29.")
    issued = state.tokens.lookup(data["access_token"])
    assert issued is not None and issued.project == "123456789012"
    assert issued.expires_at == NOW + 3599
    # Only a digest is kept: the token itself is nowhere in the sandbox's request log.
    assert data["access_token"] not in str([r.to_json() for r in state.requests()])


async def test_refresh_grant_reads_json_too(client: httpx.AsyncClient) -> None:
    r = await client.post("/token", json=refresh_form())
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "error", "description"),
    [
        ({"client_id": ""}, 400, "invalid_request", "Could not determine client ID from request."),
        ({"client_secret": ""}, 400, "invalid_request", "client_secret is missing."),
        (
            {"refresh_token": ""},
            400,
            "invalid_request",
            "Missing required parameter: refresh_token",
        ),
        ({"refresh_token": "bad token"}, 400, "invalid_grant", "Bad Request"),
        ({"client_id": "not-a-client"}, 401, "invalid_client", "The OAuth client was not found."),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", "Invalid grant_type: password"),
        ({"grant_type": ""}, 400, "unsupported_grant_type", "Invalid grant_type: "),
    ],
)
async def test_bad_refresh_grants(
    client: httpx.AsyncClient, form: dict[str, str], status: int, error: str, description: str
) -> None:
    r = await client.post("/token", data=refresh_form(**form))
    assert oauth_error(r, status, error) == description


async def test_registered_clients_are_checked(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock, clients={CLIENT_ID: CLIENT_SECRET})
    app = create_app(state=state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        assert (await c.post("/token", data=refresh_form())).status_code == 200
        r = await c.post("/token", data=refresh_form(client_secret="wrong"))
        assert oauth_error(r, 401, "invalid_client") == "Unauthorized"
        other = "999-other.apps.googleusercontent.com"
        r = await c.post("/token", data=refresh_form(client_id=other))
        assert oauth_error(r, 401, "invalid_client") == "The OAuth client was not found."


async def test_jwt_bearer_grant(
    client: httpx.AsyncClient, state: SandboxState, sa_key: rsa.RSAPrivateKey
) -> None:
    r = await client.post("/token", data=jwt_form(assertion(sa_key)))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["token_type"] == "Bearer" and data["expires_in"] == 3599
    assert data["scope"] == SCOPE
    issued = state.tokens.lookup(data["access_token"])
    assert issued is not None and issued.project == "my-project"
    ingest = await client.post(INGEST, json=body(event()), headers=bearer(data["access_token"]))
    assert ingest.status_code == 200, ingest.text


async def test_jwt_audience_may_be_the_sandbox_itself(
    client: httpx.AsyncClient, sa_key: rsa.RSAPrivateKey
) -> None:
    token = assertion(sa_key, aud="http://127.0.0.1:8088/token")
    assert (await client.post("/token", data=jwt_form(token))).status_code == 200


SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"exp": int(NOW) + 7200}, "invalid_grant", SHORT_LIVED),
        ({"iat": int(NOW) - 7200, "exp": int(NOW) - 3600}, "invalid_grant", SHORT_LIVED),
        ({"iat": int(NOW) + 3600, "exp": int(NOW) + 4000}, "invalid_grant", SHORT_LIVED),
        ({"iat": None}, "invalid_grant", SHORT_LIVED),
        ({"exp": "soon"}, "invalid_grant", SHORT_LIVED),
        ({"aud": "https://example.com/token"}, "invalid_grant", None),
        ({"iss": None}, "invalid_grant", "Invalid grant: account not found"),
        ({"scope": None}, "invalid_scope", "Invalid OAuth scope or ID token audience provided."),
        ({"scope": " "}, "invalid_scope", "Invalid OAuth scope or ID token audience provided."),
    ],
)
async def test_bad_assertions(
    client: httpx.AsyncClient,
    sa_key: rsa.RSAPrivateKey,
    claims: dict[str, Any],
    error: str,
    description: str | None,
) -> None:
    r = await client.post("/token", data=jwt_form(assertion(sa_key, **claims)))
    got = oauth_error(r, 400, error)
    if description is not None:
        assert got == description
    else:
        assert got.startswith("Invalid JWT: Failed audience check.")


@pytest.mark.parametrize(
    "token",
    ["", "not-a-jwt", "a.b", "!!.??.##", "e30.e30.", "W10.e30.c2ln"],
)
async def test_malformed_assertions(client: httpx.AsyncClient, token: str) -> None:
    r = await client.post("/token", data=jwt_form(token))
    if token == "":
        assert oauth_error(r, 400, "invalid_request") == "Missing required parameter: assertion"
    else:
        oauth_error(r, 400, "invalid_grant")


async def test_only_rs256_is_accepted(client: httpx.AsyncClient, sa_key: rsa.RSAPrivateKey) -> None:
    r = await client.post("/token", data=jwt_form(assertion(sa_key, alg="HS256")))
    assert oauth_error(r, 400, "invalid_grant") == "Invalid JWT Signature."


async def test_known_service_accounts_have_their_signature_verified(
    clock: FrozenClock, sa_key: rsa.RSAPrivateKey
) -> None:
    state = SandboxState(clock=clock, service_accounts={SA_EMAIL: public_pem(sa_key)})
    app = create_app(state=state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        assert (await c.post("/token", data=jwt_form(assertion(sa_key)))).status_code == 200
        forged = assertion(new_key())
        r = await c.post("/token", data=jwt_form(forged))
        assert oauth_error(r, 400, "invalid_grant") == "Invalid JWT Signature."
        stranger = assertion(sa_key, iss="other@my-project.iam.gserviceaccount.com")
        r = await c.post("/token", data=jwt_form(stranger))
        assert oauth_error(r, 400, "invalid_grant") == "Invalid grant: account not found"


async def test_tokens_expire_on_the_injected_clock(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    r = await client.post("/token", data=refresh_form())
    headers = bearer(r.json()["access_token"])
    clock.advance(3598)
    assert (await client.post(INGEST, json=body(event("a")), headers=headers)).status_code == 200
    clock.advance(1)
    expired = await client.post(INGEST, json=body(event("b")), headers=headers)
    assert expired.status_code == 401
    err = expired.json()["error"]
    assert err["status"] == "UNAUTHENTICATED"
    assert err["details"][0]["reason"] == "ACCESS_TOKEN_EXPIRED"
    # A new token from the same refresh token works again.
    fresh = await client.post("/token", data=refresh_form())
    again = await client.post(
        INGEST, json=body(event("b")), headers=bearer(fresh.json()["access_token"])
    )
    assert again.status_code == 200


async def test_the_token_lifetime_is_configurable(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock, token_lifetime=60)
    app = create_app(state=state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        r = await c.post("/token", data=refresh_form())
        assert r.json()["expires_in"] == 60


async def test_mounted_the_audience_is_the_mounted_token_path(
    clock: FrozenClock, sa_key: rsa.RSAPrivateKey
) -> None:
    gateway = Starlette(routes=[Mount("/sandbox/google", app=create_app(clock=clock))])
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8088") as c:
        own = assertion(sa_key, aud="http://127.0.0.1:8088/sandbox/google/token")
        r = await c.post("/sandbox/google/token", data=jwt_form(own))
        assert r.status_code == 200, r.text
        wrong = assertion(sa_key, aud="http://127.0.0.1:8088/token")
        r = await c.post("/sandbox/google/token", data=jwt_form(wrong))
        assert r.status_code == 400


async def test_a_service_account_certificate_is_a_known_key(
    clock: FrozenClock, sa_key: rsa.RSAPrivateKey
) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SA_EMAIL)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(sa_key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2036, 1, 1, tzinfo=UTC))
        .sign(sa_key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    state = SandboxState(clock=clock, service_accounts={SA_EMAIL: pem})
    app = create_app(state=state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        assert (await c.post("/token", data=jwt_form(assertion(sa_key)))).status_code == 200
        forged = await c.post("/token", data=jwt_form(assertion(new_key())))
        assert forged.status_code == 400


def test_a_service_account_key_must_be_rsa() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="RSA"):
        SandboxState(service_accounts={SA_EMAIL: ec_pem})
