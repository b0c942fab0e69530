"""What every sandbox's test ``factory.py`` shares: the frozen time the tests start at, the
SHA-256 of a value, and a payload without the fields a test leaves out (None)."""

from __future__ import annotations

import hashlib
from typing import Any

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def sha(value: str) -> str:
    """The SHA-256 hex digest of ``value`` as UTF-8."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def present(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without those whose value is None."""
    return {k: v for k, v in fields.items() if v is not None}
