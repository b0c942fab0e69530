"""The JWT-bearer grant's assertion (RFC 7523), checked as Google's token endpoint does.

A service account signs ``header.claims`` (base64url JSON, RS256) with its private key and
posts it as ``assertion``. The sandbox checks the structure and the claims:

* header ``alg`` is ``RS256``;
* ``iss``: the service account's email; ``scope``: space-separated scopes (present and not
  empty, else ``invalid_scope``);
* ``aud``: Google's token endpoint (``https://oauth2.googleapis.com/token`` or its older
  spellings) or the address the assertion was posted to, on its host or a loopback name
  (a client pointed at the sandbox puts the sandbox's ``token_uri`` there, as google-auth
  does);
* ``iat`` and ``exp``: numbers, ``exp`` after ``iat`` by at most an hour, ``iat`` not in the
  future and ``exp`` not past (with a little clock skew); else Google's "short-lived token"
  message.

The RS256 signature is verified when the service account's public key is known to the
sandbox (:class:`~.tokens.Credentials`); otherwise it must merely be present.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .errors import OAuthError

GOOGLE_AUDIENCES = frozenset(
    {
        "https://oauth2.googleapis.com/token",
        "https://www.googleapis.com/oauth2/v4/token",
        "https://accounts.google.com/o/oauth2/token",
    }
)
MAX_LIFETIME = 3600
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
CLOCK_SKEW = 300
SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)
BAD_SIGNATURE = "Invalid JWT Signature."


@dataclass(frozen=True, slots=True)
class Assertion:
    """A decoded assertion: who, for what, and what was signed."""

    issuer: str
    scopes: tuple[str, ...]
    audience: str
    issued_at: float
    expires_at: float
    signing_input: bytes
    signature: bytes


def _b64url(part: str) -> bytes:
    if not part or any(c not in _B64URL for c in part):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _json_part(part: str) -> dict[str, Any]:
    try:
        value = orjson.loads(_b64url(part))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise OAuthError("invalid_grant", "Invalid JWT: the assertion is not a JWT.") from None
    if not isinstance(value, dict):
        raise OAuthError("invalid_grant", "Invalid JWT: the assertion is not a JWT.")
    return value


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OAuthError("invalid_grant", SHORT_LIVED)
    return float(value)


def decode(assertion: str, now: float, own_host: str, own_path: str) -> Assertion:
    """Check ``assertion``'s structure and claims at ``now``. Raises :class:`OAuthError`."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise OAuthError("invalid_grant", "Invalid JWT: the assertion is not a JWT.")
    header = _json_part(parts[0])
    claims = _json_part(parts[1])
    try:
        signature = _b64url(parts[2])
    except (ValueError, binascii.Error):
        raise OAuthError("invalid_grant", BAD_SIGNATURE) from None
    if header.get("alg") != "RS256":
        raise OAuthError("invalid_grant", BAD_SIGNATURE)
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or "@" not in issuer:
        raise OAuthError("invalid_grant", "Invalid grant: account not found")
    audience = claims.get("aud")
    if audience not in GOOGLE_AUDIENCES and not _is_own(audience, own_host, own_path):
        raise OAuthError(
            "invalid_grant",
            "Invalid JWT: Failed audience check. The expected audience is "
            "https://oauth2.googleapis.com/token.",
        )
    issued_at, expires_at = _number(claims, "iat"), _number(claims, "exp")
    if (
        expires_at <= issued_at
        or expires_at - issued_at > MAX_LIFETIME
        or issued_at > now + CLOCK_SKEW
        or expires_at < now - CLOCK_SKEW
    ):
        raise OAuthError("invalid_grant", SHORT_LIVED)
    scope = claims.get("scope")
    scopes = tuple(scope.split()) if isinstance(scope, str) else ()
    if not scopes:
        raise OAuthError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    return Assertion(
        issuer=issuer,
        scopes=scopes,
        audience=str(audience),
        issued_at=issued_at,
        expires_at=expires_at,
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
        signature=signature,
    )


def _is_own(audience: Any, own_host: str, own_path: str) -> bool:
    """``aud`` names the endpoint the assertion was posted to: its path, on the host it was
    posted to or a loopback name (the sandbox is reached as localhost or 127.0.0.1)."""
    if not isinstance(audience, str):
        return False
    parts = urlsplit(audience)
    host = (parts.hostname or "").lower()
    return (
        parts.scheme in ("http", "https")
        and parts.path == own_path
        and (host == own_host.lower() or host in LOOPBACK_HOSTS)
    )


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    """A service account's RSA public key from PEM (a public key or an X.509 certificate, as
    Google publishes them). Raises ValueError."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    if b"CERTIFICATE" in data:
        key: Any = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("a service account key is an RSA key")
    return key


def verify(assertion: Assertion, key: rsa.RSAPublicKey) -> None:
    """Check the RS256 signature. Raises :class:`OAuthError` (``Invalid JWT Signature.``)."""
    try:
        key.verify(
            assertion.signature, assertion.signing_input, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        raise OAuthError("invalid_grant", BAD_SIGNATURE) from None
