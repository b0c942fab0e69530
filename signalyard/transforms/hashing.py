"""SHA-256 hashing of normalized customer information, and recognising values already hashed.

Meta accepts a hashed value as 64 hex digits (SHA-256) or 32 hex digits (MD5), optionally
followed by ``.`` and a parameter-builder appendix: a legacy 2-char language token or an 8-char
base64url block (reference §3.2). Such a value is forwarded as is, never hashed a second time.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

_HASHED: Final = re.compile(
    r"(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{32})(?:\.(?:[A-Za-z0-9_-]{2}|[A-Za-z0-9_-]{8}))?"
)
# The only lengths a hashed value can have: 32/64 hex, plus ".xx" (3) or ".xxxxxxxx" (9).
HASHED_LENGTHS: Final = frozenset({32, 35, 41, 64, 67, 73})

_sha256: Final = hashlib.sha256


def sha256_hex(s: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 encoding of ``s``.

    Raises ``UnicodeEncodeError`` for a string holding lone surrogates (not valid text).
    """
    return _sha256(s.encode()).hexdigest()


def looks_hashed(s: str) -> bool:
    """True if ``s`` is a 64-hex (SHA-256) or 32-hex (MD5) digest, case-insensitive,
    optionally followed by ``.`` and a 2- or 8-char base64url parameter-builder appendix."""
    return len(s) in HASHED_LENGTHS and _HASHED.fullmatch(s) is not None


def canonical_hash(s: str) -> str:
    """A value for which :func:`looks_hashed` is true, as forwarded to Meta: the hex digest
    lowercased, the appendix (case-sensitive base64url) kept exactly as it came."""
    dot = s.find(".")
    if dot < 0:
        return s.lower()
    return s[:dot].lower() + s[dot:]
