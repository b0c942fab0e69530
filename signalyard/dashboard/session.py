"""The dashboard's session: a signed cookie, and the limit on failed logins.

The cookie holds no secret and nothing personal: whether the holder logged in, when that
ends, the session's id, its CSRF token and a one-shot message. It is signed with HMAC-SHA256
under a key every process derives the same way from the configuration, so the processes of
``serve --workers N`` accept each other's cookies, and changing the password (or the session
secret) ends every session. Logging out records the session's id in the store
(:mod:`.revoked`), so a copy of the cookie is refused by every process from then on.

A second, long-lived cookie marks a *known device*: a browser that logged in here before. It is
signed under a key derived from the same one and holds only its expiry; its holder passes ahead
of the line of login attempts that a flood of failures causes (:class:`LoginLimiter`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import secrets
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import orjson

from signalyard.clock import Clock
from signalyard.sources.clients import client_key

__all__ = [
    "DEVICE_SECONDS",
    "LoginLimiter",
    "Session",
    "SessionCodec",
    "client_key",
    "passwords_match",
    "session_key",
]

_LABEL = b"signalyard dashboard session v1"
_VERSION = "v1"
_DEVICE_LABEL = b"signalyard dashboard known device v1"
_DEVICE_VERSION = "d1"
DEVICE_SECONDS = 90 * 86400.0
"""How long a known-device cookie lasts (renewed at each login)."""


def session_key(password: str, session_secret: str) -> bytes:
    """The key signing session cookies. From ``session_secret`` when set; otherwise from the
    password through scrypt, so that a cookie (which an attacker can brute-force offline
    against its signature) does not make the password cheap to guess. Either way the
    password's digest is bound into the key: a new password ends every session."""
    if session_secret:
        material = session_secret.encode()
    else:
        material = hashlib.scrypt(password.encode(), salt=_LABEL, n=2**14, r=8, p=1, dklen=32)
    bound = _LABEL + hashlib.sha256(password.encode()).digest()
    return hmac.new(material, bound, hashlib.sha256).digest()


def passwords_match(given: str, expected: str) -> bool:
    """Constant time, whatever the lengths (both sides are hashed to the same size first)."""
    a = hashlib.sha256(given.encode()).digest()
    b = hashlib.sha256(expected.encode()).digest()
    return hmac.compare_digest(a, b)


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    """Sent back in a hidden field of every form; a POST without it is refused."""
    authenticated: bool
    expires: float
    flash: str = ""
    """A message shown once on the next page (\"3 dead letters queued again\")."""
    sid: str = ""
    """The id of a logged-in session (random, given at login): what logging out revokes.
    Empty before login."""

    @classmethod
    def anonymous(cls, *, now: float, seconds: float = 3600.0) -> Session:
        """Before login: a CSRF token for the login form, nothing else."""
        return cls(new_token(), False, now + seconds)

    @classmethod
    def logged_in(cls, *, now: float, seconds: float) -> Session:
        """A fresh token and a new id at login: a token seen before login is not the
        session's."""
        return cls(new_token(), True, now + seconds, sid=new_token())

    def with_flash(self, message: str) -> Session:
        return replace(self, flash=message)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """``v1.<payload>.<signature>``, base64url: cookie-safe without quoting."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._device_key = hmac.new(key, _DEVICE_LABEL, hashlib.sha256).digest()

    def _sign(self, body: str, key: bytes | None = None) -> str:
        return _b64(hmac.new(key or self._key, body.encode(), hashlib.sha256).digest())

    def dumps_device(self, *, expires: float) -> str:
        """A known-device cookie: ``d1.<payload>.<signature>``, the payload only its expiry.
        Signed under its own key (derived from the session key), so neither cookie passes for
        the other."""
        body = f"{_DEVICE_VERSION}.{_b64(orjson.dumps({'e': expires}))}"
        return f"{body}.{self._sign(body, self._device_key)}"

    def known_device(self, value: str | None, *, now: float) -> bool:
        """True for an unexpired known-device cookie signed with this key."""
        if not value or len(value) > 200 or value.count(".") != 2:
            return False
        body, signature = value.rsplit(".", 1)
        if not hmac.compare_digest(signature.encode(), self._sign(body, self._device_key).encode()):
            return False
        version, payload_text = body.split(".")
        if version != _DEVICE_VERSION:
            return False
        try:
            expires = float(orjson.loads(_unb64(payload_text))["e"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return False
        return expires > now

    def dumps(self, session: Session) -> str:
        payload = {
            "c": session.csrf,
            "a": session.authenticated,
            "e": session.expires,
            "f": session.flash,
            "s": session.sid,
        }
        body = f"{_VERSION}.{_b64(orjson.dumps(payload))}"
        return f"{body}.{self._sign(body)}"

    def loads(self, value: str | None, *, now: float) -> Session | None:
        """The session, or None when the cookie is missing, forged, tampered or expired (or
        logged in without a session id: it could not be logged out)."""
        if not value or value.count(".") != 2:
            return None
        body, signature = value.rsplit(".", 1)
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        version, payload_text = body.split(".")
        if version != _VERSION:
            return None
        try:
            payload = orjson.loads(_unb64(payload_text))
            session = Session(
                str(payload["c"]),
                payload["a"] is True,
                float(payload["e"]),
                str(payload["f"]),
                str(payload.get("s") or ""),
            )
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            return None
        if session.authenticated and not session.sid:
            return None
        return session if session.expires > now else None


class LoginLimiter:
    """Failed logins. Per client (:func:`client_key`: an IPv4 address, an IPv6 /64), a hard
    limit: past ``per_client`` failures within ``window`` seconds that client is refused until
    its oldest failure leaves the window.

    For everyone together, a slowdown, never a block (a block for everyone would let anyone
    keep the admin out by failing logins from a few addresses): past ``overall`` failures
    within the window, login attempts take turns (:meth:`turn`): one at a time, each waiting
    ``slow_seconds`` before its password is checked, so at most one password is checked per
    ``slow_seconds`` however many attempts arrive at once, from however many addresses. At
    most ``queue`` attempts wait in line; one arriving when the line is full is refused at
    once (429 with the time the line takes to clear) without its password being checked, and
    counts as a failure of its client: a flood uses up its own per-client limit. A browser
    holding a known-device cookie (it logged in before) does not take a turn: only its own
    client's limit applies, so the admin gets in at once during a flood; from a new browser
    the right password still gets in once it finds room in the line.

    Kept per process (``serve --workers N`` allows N times as many); the table of clients is
    bounded by ``max_clients``."""

    def __init__(
        self,
        clock: Clock,
        *,
        per_client: int = 5,
        overall: int = 100,
        window: float = 300.0,
        slow_seconds: float = 1.0,
        max_clients: int = 10_000,
        queue: int = 10,
    ) -> None:
        self.clock = clock
        self.per_client = per_client
        self.overall = overall
        self.window = window
        self.slow_seconds = slow_seconds
        self.max_clients = max_clients
        self.queue = queue
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()
        self._gate = asyncio.Lock()
        self._in_line = 0
        """Attempts waiting for their turn, and the one taking it."""

    def _trim(self, failures: deque[float], now: float) -> None:
        while failures and failures[0] <= now - self.window:
            failures.popleft()

    def wait_seconds(self, client: str) -> float:
        """0 when ``client`` may try a login now; else how long until it may."""
        now = self.clock.monotonic()
        mine = self._clients.get(client_key(client))
        if mine is None:
            return 0.0
        self._trim(mine, now)
        if len(mine) < self.per_client:
            return 0.0
        return mine[0] + self.window - now

    def delay_seconds(self) -> float:
        """How long any login attempt waits before its password is checked: ``slow_seconds``
        while the failures of everyone together are past ``overall`` in the window, else 0."""
        self._trim(self._all, self.clock.monotonic())
        return self.slow_seconds if len(self._all) >= self.overall else 0.0

    def failed(self, client: str) -> None:
        now = self.clock.monotonic()
        self._all.append(now)
        self._trim(self._all, now)
        while len(self._all) > self.overall:  # only whether it reaches ``overall`` matters
            self._all.popleft()
        key = client_key(client)
        mine = self._clients.pop(key, None) or deque()
        mine.append(now)
        self._trim(mine, now)
        self._clients[key] = mine
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client_key(client), None)

    @contextlib.asynccontextmanager
    async def turn(self, client: str, *, known_device: bool = False) -> AsyncIterator[float]:
        """A login attempt's turn to have its password checked (inside the ``async with``).
        Gives 0 when the check may be made: at once while logins are not slowed down (or the
        attempt comes from a known device), else after the attempts ahead of it, one per
        ``slow_seconds``. Gives the seconds after which to try again when ``queue`` attempts
        are already in line: refuse this one without checking its password; it has been
        counted as a failure of ``client``."""
        if self.delay_seconds() == 0 or known_device:
            yield 0.0
            return
        if self._in_line >= self.queue:
            self.failed(client)
            yield max(self.slow_seconds, self._in_line * self.slow_seconds)
            return
        self._in_line += 1
        try:
            async with self._gate:
                await self.clock.sleep(self.slow_seconds)
                yield 0.0
        finally:
            self._in_line -= 1
