"""Authentication of the API routes: Google's 401/403 in its error model."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from signalyard.sandbox.google import SandboxState

from .factory import INGEST, STATUS, assertion, bearer, body, event, jwt_form

pytestmark = pytest.mark.anyio


def google_error(r: httpx.Response, code: int, status: str) -> dict[str, Any]:
    assert r.status_code == code, r.text
    assert r.headers["content-type"].startswith("application/json")
    err: dict[str, Any] = r.json()["error"]
    assert err["code"] == code
    assert err["status"] == status
    assert isinstance(err["message"], str) and err["message"]
    return err


def error_info(err: dict[str, Any]) -> dict[str, Any]:
    infos = [d for d in err["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
    assert len(infos) == 1
    info: dict[str, Any] = infos[0]
    return info


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "CREDENTIALS_MISSING"),
        ({"Authorization": "Bearer ya29.never-issued"}, "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
        ({"Authorization": "Bearer "}, "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    ],
)
async def test_ingest_needs_an_issued_token(
    client: httpx.AsyncClient, state: SandboxState, headers: dict[str, str], reason: str
) -> None:
    r = await client.post(INGEST, json=body(event()), headers=headers)
    err = google_error(r, 401, "UNAUTHENTICATED")
    info = error_info(err)
    assert info["reason"] == reason
    assert info["domain"] == "googleapis.com"
    assert info["metadata"]["service"] == "datamanager.googleapis.com"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert state.events() == []


async def test_a_token_without_the_datamanager_scope_is_forbidden(
    client: httpx.AsyncClient, sa_key: rsa.RSAPrivateKey
) -> None:
    other = "https://www.googleapis.com/auth/adwords"
    r = await client.post("/token", data=jwt_form(assertion(sa_key, scope=other)))
    assert r.status_code == 200 and r.json()["scope"] == other
    ingest = await client.post(INGEST, json=body(event()), headers=bearer(r.json()["access_token"]))
    err = google_error(ingest, 403, "PERMISSION_DENIED")
    assert error_info(err)["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


async def test_request_status_needs_a_token(client: httpx.AsyncClient) -> None:
    r = await client.get(STATUS, params={"requestId": "x"})
    err = google_error(r, 401, "UNAUTHENTICATED")
    assert error_info(err)["metadata"]["method"].endswith("RetrieveRequestStatus")


async def test_unknown_paths_are_googles_404(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    r = await client.post("/v1/events:upload", json={}, headers=auth)
    google_error(r, 404, "NOT_FOUND")
