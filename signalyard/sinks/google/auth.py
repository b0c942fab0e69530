"""OAuth 2.0 access tokens for the Data Manager API, from ``POST {token_url}/token``.

Two grants, as Google's token endpoint takes them (form-encoded):

- a **service account**: ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` with an
  ``assertion``, a JWT signed RS256 with the account's private key (google-auth's
  ``google.auth.crypt.RSASigner`` and ``google.auth.jwt.encode``), claims ``iss`` (the
  account's email), ``scope``, ``aud`` (the token endpoint), ``iat`` and ``exp`` (an hour
  later) on the injected clock;
- a **user's refresh token**: ``grant_type=refresh_token`` with ``client_id``,
  ``client_secret`` and ``refresh_token``.

The token is cached and fetched again :data:`REFRESH_EARLY` seconds before it expires (on
the injected clock), once at a time however many batches are in flight. What the endpoint
answers becomes an outcome for the send that needed the token (:class:`TokenProblem`):

- ``invalid_grant`` (a revoked or expired refresh token, a deleted service account or key),
  ``invalid_client``, ``invalid_scope``, ``unauthorized_client``, other 4xx: ``Paused`` with
  the command that replaces the credential;
- 5xx, 408, 429, no answer: ``Retry``.

A source asks for one ``scope``: the Data Manager's (sending events, the default) or the
Google Ads API's (``sinks/google/reporting.py`` reading the claims). A service account's
assertion names it; a refresh token is narrowed to it with the ``scope`` parameter when it is
not the Data Manager's (the token must have been authorized for it).

google-auth's own transports are synchronous; the exchange itself goes through the gateway's
async httpx client, so tests and the sandbox reach it in-process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import httpx
import orjson
from google.auth import crypt
from google.auth import jwt as google_jwt

from signalyard import outbound
from signalyard.clock import Clock
from signalyard.outcome import DESTINATION, Outcome, Paused, Retry
from signalyard.sinks.answers import scrub
from signalyard.sinks.exchange import hide
from signalyard.sinks.google.config import (
    DATAMANAGER_SCOPE,
    ServiceAccountKey,
    UserCredential,
)

__all__ = [
    "JWT_BEARER",
    "JWT_LIFETIME",
    "REFRESH_EARLY",
    "AccessToken",
    "TokenProblem",
    "TokenSource",
    "load_signer",
]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME = 3600
"""Seconds an assertion is valid for (Google's maximum)."""
REFRESH_EARLY = 300.0
"""A cached token is replaced this many seconds before it expires."""
DEFAULT_LIFETIME = 3599
_MAX_TEXT = 200


def load_signer(private_key: str, key_id: str | None) -> crypt.RSASigner:
    """An RS256 signer from a PEM private key. Raises ``ValueError`` when it is not one."""
    try:
        signer = crypt.RSASigner.from_string(private_key, key_id=key_id)  # type: ignore[no-untyped-call]
        return cast(crypt.RSASigner, signer)
    except (ValueError, TypeError, IndexError) as error:
        raise ValueError("not an RSA private key") from error


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"AccessToken(expires_at={self.expires_at!r})"


class TokenProblem(Exception):
    """No access token: ``outcome`` says what the send does (``Paused`` or ``Retry``),
    ``status`` the token endpoint's HTTP status (None: no answer)."""

    def __init__(self, outcome: Outcome, status: int | None) -> None:
        super().__init__(getattr(outcome, "reason", ""))
        self.outcome = outcome
        self.status = status


class TokenSource:
    """Access tokens for one destination's credential, cached until shortly before expiry."""

    def __init__(
        self,
        credential: ServiceAccountKey | UserCredential,
        *,
        token_endpoint: str,
        client: httpx.AsyncClient,
        clock: Clock,
        timeout: float,
        scope: str = DATAMANAGER_SCOPE,
    ) -> None:
        self._credential = credential
        self.scope = scope
        self._endpoint = token_endpoint
        self._client = client
        self._clock = clock
        self._timeout = timeout
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()
        self._signer: crypt.RSASigner | None = None

    @property
    def kind(self) -> str:
        return "service_account" if isinstance(self._credential, ServiceAccountKey) else "user"

    def secrets(self) -> list[str]:
        """The credential's secret strings and the cached token (to mask in messages)."""
        cred = self._credential
        if isinstance(cred, ServiceAccountKey):
            out = [cred.private_key.reveal()]
        else:
            out = [cred.client_secret.reveal(), cred.refresh_token.reveal()]
        if self._token is not None:
            out.append(self._token.value)
        return out

    def invalidate(self, value: str) -> None:
        """Forget ``value`` (Google refused it): the next :meth:`get` fetches another."""
        if self._token is not None and self._token.value == value:
            self._token = None

    async def get(self) -> str:
        """A valid access token; raises :class:`TokenProblem`."""
        token = self._token
        if token is not None and self._clock.now() < token.expires_at - REFRESH_EARLY:
            return token.value
        async with self._lock:
            token = self._token
            if token is not None and self._clock.now() < token.expires_at - REFRESH_EARLY:
                return token.value
            self._token = await self._fetch()
            return self._token.value

    async def _fetch(self) -> AccessToken:
        now = self._clock.now()
        form = self._form(now)
        try:
            reply = await outbound.request(
                self._client,
                "POST",
                self._endpoint,
                content=_urlencode(form),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            raise TokenProblem(
                Retry(f"no answer from Google's token endpoint within {self._timeout:g}s"), None
            ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            raise TokenProblem(
                Paused(
                    f"cannot reach the token endpoint {self._endpoint!r}: {type(error).__name__}",
                    "correct the destination's token_url with `signalyard destinations update"
                    f" {DESTINATION} --option token_url=URL`, then resume it:"
                    f" `signalyard destinations resume {DESTINATION}`",
                ),
                None,
            ) from None
        except httpx.RequestError as error:
            raise TokenProblem(
                Retry(f"no answer from Google's token endpoint: {type(error).__name__}"), None
            ) from None
        answer = _json(reply.body)
        if reply.is_success and isinstance(answer, dict):
            value = answer.get("access_token")
            if isinstance(value, str) and value:
                lifetime = answer.get("expires_in", DEFAULT_LIFETIME)
                if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
                    lifetime = DEFAULT_LIFETIME
                return AccessToken(value, self._clock.now() + float(lifetime))
        sent = [v for k, v in form.items() if k not in ("grant_type", "scope")]
        raise TokenProblem(self._problem(reply.status, answer, sent), reply.status)

    def _form(self, now: float) -> dict[str, str]:
        cred = self._credential
        if isinstance(cred, UserCredential):
            form = {
                "grant_type": "refresh_token",
                "client_id": cred.client_id.reveal(),
                "client_secret": cred.client_secret.reveal(),
                "refresh_token": cred.refresh_token.reveal(),
            }
            if self.scope != DATAMANAGER_SCOPE:
                form["scope"] = self.scope
            return form
        if self._signer is None:
            self._signer = load_signer(cred.private_key.reveal(), cred.private_key_id)
        issued = int(now)
        claims = {
            "iss": cred.client_email,
            "scope": self.scope,
            "aud": self._endpoint,
            "iat": issued,
            "exp": issued + JWT_LIFETIME,
        }
        assertion: bytes = google_jwt.encode(self._signer, claims)  # type: ignore[no-untyped-call]
        return {"grant_type": JWT_BEARER, "assertion": assertion.decode("ascii")}

    def _problem(self, status: int, answer: Any, sent: Sequence[str] = ()) -> Outcome:
        """What the endpoint's refusal means; what the request ``sent`` (the client's secret,
        the refresh token, the signed assertion) is masked in its words before they are
        cut."""
        error = description = ""
        if isinstance(answer, dict):
            error = scrub(hide(str(answer.get("error") or ""), sent))[:_MAX_TEXT]
            description = scrub(hide(str(answer.get("error_description") or ""), sent))[:_MAX_TEXT]
        said = ": ".join(p for p in (error, description) if p)
        reason = f"Google's token endpoint answered HTTP {status}" + (f" ({said})" if said else "")
        if status >= 500 or status in (408, 429):
            return Retry(reason, throttled=status == 429)
        return Paused(reason, self._fix(error), code=status)

    def _fix(self, error: str) -> str:
        resume = f"`signalyard destinations resume {DESTINATION}`"
        if self.kind == "service_account":
            if error == "invalid_scope":
                return (
                    "the service account key is refused for the Data Manager scope: check it"
                    f" is a service account key, then {resume}"
                )
            return (
                "the service account or its key was deleted or disabled: create a new JSON key"
                " (Google Cloud console → IAM & Admin → Service accounts → Keys) and set it"
                f" with `signalyard destinations set-secret {DESTINATION} service_account_key`"
                " < key.json (check the machine's clock too: the assertion is time-bound)"
            )
        if error == "invalid_client":
            return (
                "the OAuth client is unknown or its secret is wrong: set them with"
                f" `signalyard destinations set-secret {DESTINATION} client_secret` (and"
                " client_id), or create a new client and a refresh token for it"
            )
        return (
            "the refresh token was revoked or has expired (a user removed the access, changed"
            " their password, or a Testing-mode OAuth app's token passed 7 days): authorize"
            " again for the scope https://www.googleapis.com/auth/datamanager and set the new"
            f" token with `signalyard destinations set-secret {DESTINATION} refresh_token`"
        )


def _urlencode(form: Mapping[str, str]) -> bytes:
    return str(httpx.QueryParams(dict(form))).encode("ascii")


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
