"""Ingest keys: the ``access_token`` a client sends is a Signalyard key for one dataset.

Keys look like ``sy_<43 url-safe characters>``; only their SHA-256 is stored. Lookups are
cached for a few seconds so a busy endpoint does not touch the store per request, and a
revoked key stops working within that time.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from signalyard.clock import Clock
from signalyard.errors import AuthError
from signalyard.store.base import IngestKey, Store

KEY_PREFIX = "sy_"
CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class NewKey:
    id: str
    secret: str
    """The key itself: shown once to whoever created it, never stored."""
    key_hash: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> NewKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewKey(id="key_" + secrets.token_hex(6), secret=secret, key_hash=hash_key(secret))


class KeyChecker:
    def __init__(self, store: Store, clock: Clock, cache_seconds: float = CACHE_SECONDS) -> None:
        self._store = store
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, IngestKey | None]] = {}

    async def check(self, token: str | None, dataset_id: str) -> IngestKey:
        """The key if it is valid for ``dataset_id``; else :class:`AuthError` (Graph code 190,
        or 104 when no token was sent)."""
        key = await self.find(token)
        self.check_dataset(key, dataset_id)
        return key

    async def find(self, token: str | None) -> IngestKey:
        """The current key ``token`` is, whatever its dataset; else :class:`AuthError` (Graph
        code 190, or 104 when no token was sent)."""
        if not token:
            raise AuthError(
                "access_token",
                "an access token is required: send a Signalyard ingest key for this dataset"
                " (create one with `signalyard keys create`)",
                code=104,
            )
        digest = hash_key(token)
        now = self._clock.monotonic()
        cached = self._cache.get(digest)
        if cached is None or cached[0] < now:
            key = await self._store.find_key(digest)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._cache_seconds, key)
        else:
            key = cached[1]
        if key is None or key.revoked_at is not None:
            raise AuthError(
                "access_token",
                "invalid access token: not a current Signalyard ingest key",
                code=190,
                subcode=467,
            )
        return key

    @staticmethod
    def check_dataset(key: IngestKey, dataset_id: str) -> None:
        """:class:`AuthError` (190) unless ``key`` is a key of ``dataset_id``."""
        if key.dataset_id != dataset_id:
            raise AuthError(
                "access_token",
                f"this ingest key belongs to another dataset, not {dataset_id}",
                code=190,
                subcode=467,
            )
