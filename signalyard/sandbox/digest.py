"""How a sandbox keeps a secret it was sent (a token, a credential): as its SHA-256 hex
digest only, never the text. Any string has one, even one with lone surrogates. Also what
most sandboxes take for a well-formed token."""

from __future__ import annotations

import hashlib


def sha256_hex(text: str) -> str:
    """The SHA-256 hex digest of ``text`` as UTF-8 (lone surrogates kept, not refused)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


MIN_TOKEN_LENGTH = 10


def well_formed_token(token: str) -> bool:
    """At least :data:`MIN_TOKEN_LENGTH` printable ASCII characters, no white space."""
    return (
        len(token) >= MIN_TOKEN_LENGTH
        and token.isascii()
        and token.isprintable()
        and not any(c.isspace() for c in token)
    )


def token_digest(token: str) -> str:
    """What a sandbox keeps of an access token: its digest (request records and faults show
    its first 12 hex digits)."""
    return sha256_hex(token)


def digest_prefix(digest: str | None) -> str | None:
    """What request records and faults show of a digest: its first 12 hex digits."""
    return digest[:12] if digest else None
