"""A browser's consent token: the secret that lets a page, and only that page's browser,
decide later for the events it sent to ``/collect``.

The browser's ``fbp`` is no secret (it travels with every pixel request, sits in a cookie any
script of the shop can read, and reaches the shop's servers), so it cannot be what proves
"this is the browser whose events are held". Every ``/collect`` request carries a token
(``consent_token``, 128 bits or more, URL-safe base64): the script makes one with
``crypto.getRandomValues`` and keeps it in a first-party cookie; a request without one is
given a new one in the answer. The gateway keeps only :func:`token_key` (SHA-256), never the
token: held events are filed under it (beside the ``fbp``), and consent given with the token
reaches only those events, and is recorded only for later events that carry the same token.
"""

from __future__ import annotations

import re
import secrets

from signalyard.errors import InputError
from signalyard.transforms.consent import subject_key

__all__ = ["TOKEN_BYTES", "new_token", "read_token", "token_key"]

TOKEN_BYTES = 24
"""A new token's randomness: 192 bits (32 characters)."""

_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")
_RULE = "must be the consent_token /collect gave this browser: 22 to 64 URL-safe characters"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def read_token(value: object, field: str = "consent_token") -> str | None:
    """The token a request sent (``None`` when absent); raises :class:`InputError` naming
    ``field`` when it is not one: 22 to 64 characters of ``A-Z a-z 0-9 _ -`` (at least 128
    bits, the least the script makes)."""
    if value is None:
        return None
    if not isinstance(value, str) or _TOKEN.fullmatch(value) is None:
        raise InputError(field, _RULE)
    return value


def token_key(token: str) -> str:
    """The stored form of a token: SHA-256 of ``token:{token}``, a consent subject of its own
    kind (never equal to an ``fbp`` or a server's subject)."""
    return subject_key(token, "token")
