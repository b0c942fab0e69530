"""Credentials the sandbox knows and the access tokens it issued.

By default the sandbox is *open*, as the Meta sandbox accepts any well-formed token: any OAuth
client whose id has Google's shape (``<project number>-<id>.apps.googleusercontent.com``) with
any secret and refresh token, and any service account. Given ``clients`` (id -> secret) or
``service_accounts`` (email -> PEM public key, or None for "known, signature unchecked"),
only those are accepted, and a known public key makes the assertion's RS256 signature checked.

Issued access tokens are kept as SHA-256 digests only, with their expiry (on the injected
clock), the credential they came from (so revoking a refresh token or a service account
invalidates its tokens), the Google Cloud project they count against (for the quota) and
their scopes. The book is bounded: expired tokens go first, then the oldest.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from ..digest import sha256_hex as digest
from .errors import OAuthError
from .jwt import load_public_key

DATAMANAGER_SCOPE = "https://www.googleapis.com/auth/datamanager"
TOKEN_LIFETIME = 3599
"""Seconds an access token lives (Google answers ``expires_in: 3599``)."""
MAX_TOKENS = 100_000
EXPIRED_KEPT = 24 * 3600
_CLIENT_ID = re.compile(r"(\d+)-[0-9A-Za-z_.]+\.apps\.googleusercontent\.com")


def refresh_credential(refresh_token: str) -> str:
    """The digest naming a refresh token (what a revocation fault and a token point at)."""
    return digest("refresh_token:" + refresh_token)


def service_account_credential(email: str) -> str:
    return digest("service_account:" + email.lower())


def client_project(client_id: str) -> str:
    """The project number an OAuth client id starts with (``1234-abc.apps...`` -> 1234)."""
    match = _CLIENT_ID.fullmatch(client_id)
    return match.group(1) if match else client_id[:64]


def service_account_project(email: str) -> str:
    """``name@my-project.iam.gserviceaccount.com`` -> ``my-project``."""
    domain = email.partition("@")[2].lower()
    if domain.endswith(".iam.gserviceaccount.com"):
        return domain[: -len(".iam.gserviceaccount.com")]
    return domain[:64] or email[:64]


class Credentials:
    """Which OAuth clients and service accounts the token endpoint accepts."""

    def __init__(
        self,
        clients: Mapping[str, str] | None = None,
        service_accounts: Mapping[str, str | bytes | None] | None = None,
    ) -> None:
        self.clients = dict(clients or {})
        self._keys: dict[str, rsa.RSAPublicKey | None] = {}
        for email, pem in (service_accounts or {}).items():
            self._keys[email.lower()] = None if pem is None else load_public_key(pem)
        self.service_accounts_known = service_accounts is not None

    def check_client(self, client_id: str, client_secret: str) -> None:
        """Raises :class:`OAuthError` (401 ``invalid_client``) for an unknown client or a
        wrong secret."""
        if self.clients:
            expected = self.clients.get(client_id)
            if expected is None:
                raise OAuthError("invalid_client", "The OAuth client was not found.", 401)
            if not secrets.compare_digest(expected.encode(), client_secret.encode()):
                raise OAuthError("invalid_client", "Unauthorized", 401)
            return
        if _CLIENT_ID.fullmatch(client_id) is None:
            raise OAuthError("invalid_client", "The OAuth client was not found.", 401)

    def service_account_key(self, email: str) -> rsa.RSAPublicKey | None:
        """The account's public key (None: signature not checked). Raises
        :class:`OAuthError` for an account the sandbox was told it does not have."""
        if not self.service_accounts_known:
            return None
        key = email.lower()
        if key not in self._keys:
            raise OAuthError("invalid_grant", "Invalid grant: account not found")
        return self._keys[key]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    expires_at: float
    credential: str
    project: str
    scopes: frozenset[str]
    grant: str

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


class TokenBook:
    """Access tokens issued by ``/token``, by digest. Thread-safe; bounded."""

    def __init__(self, max_tokens: int = MAX_TOKENS) -> None:
        self.max_tokens = max_tokens
        self._tokens: OrderedDict[str, IssuedToken] = OrderedDict()
        self._lock = threading.Lock()

    def issue(
        self,
        *,
        now: float,
        lifetime: int,
        credential: str,
        project: str,
        scopes: frozenset[str],
        grant: str,
    ) -> str:
        token = "ya29.sandbox-" + secrets.token_urlsafe(32)
        issued = IssuedToken(now + lifetime, credential, project, scopes, grant)
        with self._lock:
            self._tokens[digest(token)] = issued
            while self._tokens and len(self._tokens) > self.max_tokens:
                self._tokens.popitem(last=False)
            # Issued in time order with one lifetime, so the oldest expire first; an expired
            # token is remembered a day longer, to be answered "expired", not "unknown".
            while self._tokens:
                first = next(iter(self._tokens.values()))
                if now < first.expires_at + EXPIRED_KEPT:
                    break
                self._tokens.popitem(last=False)
        return token

    def lookup(self, token: str) -> IssuedToken | None:
        with self._lock:
            return self._tokens.get(digest(token))

    def __len__(self) -> int:
        return len(self._tokens)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()
