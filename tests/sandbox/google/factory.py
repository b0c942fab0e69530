"""Builders for Data Manager API requests and OAuth credentials used by the sandbox tests."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import httpx
import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..builders import NOW, present

NOW_RFC3339 = "2027-01-15T08:00:00Z"  # == NOW
CLIENT_ID = "123456789012-sandboxtest.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-sandbox-secret"
REFRESH_TOKEN = "1//0sandbox-refresh-token"
SA_EMAIL = "signalyard@my-project.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/datamanager"
CUSTOMER = "1234567890"
ACTION = "987654321"
INGEST = "/v1/events:ingest"
STATUS = "/v1/requestStatus:retrieve"

assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW)) == NOW_RFC3339


def sha_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def sha_b64(value: str) -> str:
    return base64.b64encode(hashlib.sha256(value.encode("utf-8")).digest()).decode()


def stamp(seconds_ago: float = 60) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds_ago))


def destination(action: str = ACTION, **extra: Any) -> dict[str, Any]:
    dest: dict[str, Any] = {
        "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": CUSTOMER},
        "productDestinationId": action,
    }
    dest.update(extra)
    return dest


def event(transaction_id: str | None = "order-1", **overrides: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "transactionId": transaction_id,
        "eventTimestamp": stamp(),
        "eventSource": "WEB",
        "userData": {"userIdentifiers": [{"emailAddress": sha_hex("jane.doe@example.com")}]},
        "adIdentifiers": {"gclid": "Cj0KCQiA-sandbox-gclid"},
        "consent": {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"},
        "currency": "USD",
        "conversionValue": 42.5,
    }
    ev.update(overrides)
    return present(ev)


def body(*events: dict[str, Any], **params: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "destinations": [destination()],
        "events": list(events),
        "encoding": "HEX",
    }
    out.update(params)
    return present(out)


def full_event() -> dict[str, Any]:
    """A realistic Purchase with every kind of key, as a Google sink would send it."""
    return {
        "transactionId": "order-10042",
        "eventTimestamp": "2027-01-15T07:58:31.250+01:00",
        "eventSource": "WEB",
        "userData": {
            "userIdentifiers": [
                {"emailAddress": sha_hex("janedoe@gmail.com")},
                {"phoneNumber": sha_hex("+14155550123")},
                {
                    "address": {
                        "givenName": sha_hex("jane"),
                        "familyName": sha_hex("doe"),
                        "regionCode": "US",
                        "postalCode": "94043",
                    }
                },
            ]
        },
        "adIdentifiers": {
            "gclid": "Cj0KCQiA5rGuBhCnARIsAN11vgR",
            "landingPageDeviceInfo": {
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
                "ipAddress": "203.0.113.7",
            },
        },
        "eventDeviceInfo": {
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
            "ipAddress": "2001:db8::7",
        },
        "consent": {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_DENIED"},
        "currency": "EUR",
        "conversionValue": 142.52,
        "cartData": {
            "transactionDiscount": 5,
            "items": [
                {"itemId": "SKU-1", "quantity": 2, "unitPrice": 49.0},
                {"merchantProductId": "SKU-2", "quantity": "1", "unitPrice": 49.52},
            ],
        },
    }


# --- credentials ----------------------------------------------------------------------------


def refresh_form(**overrides: str) -> dict[str, str]:
    form = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v != ""}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def assertion(
    key: rsa.RSAPrivateKey,
    *,
    alg: str = "RS256",
    **claims: Any,
) -> str:
    """A service account's JWT-bearer assertion, signed RS256 with ``key``."""
    payload: dict[str, Any] = {
        "iss": SA_EMAIL,
        "scope": SCOPE,
        "aud": "https://oauth2.googleapis.com/token",
        "iat": int(NOW),
        "exp": int(NOW) + 3600,
    }
    payload.update(claims)
    payload = present(payload)
    header = {"alg": alg, "typ": "JWT", "kid": "sandbox-key"}
    signing_input = f"{_b64url(orjson.dumps(header))}.{_b64url(orjson.dumps(payload))}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def jwt_form(token: str) -> dict[str, str]:
    return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": token}


async def access_token(client: httpx.AsyncClient, **overrides: str) -> str:
    r = await client.post("/token", data=refresh_form(**overrides))
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
