"""How a sandbox keeps a secret it was sent (a token, a credential): as its SHA-256 hex
digest only, never the text. Any string has one, even one with lone surrogates."""

from __future__ import annotations

import hashlib


def sha256_hex(text: str) -> str:
    """The SHA-256 hex digest of ``text`` as UTF-8 (lone surrogates kept, not refused)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def token_digest(token: str) -> str:
    """What a sandbox keeps of an access token: its digest (request records and faults show
    its first 12 hex digits)."""
    return sha256_hex(token)
