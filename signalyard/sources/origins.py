"""The browser source of a dataset: which page origins may send to ``/collect``.

Stored in ``browser_sources(dataset_id, allowed_origins, updated_at)`` (migration 0004), on
either store. An origin is ``scheme://host[:port]``, lowercased, as browsers send it in the
``Origin`` header; ``https://*.example.com`` allows every subdomain of example.com (not
example.com itself: list it too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import orjson

from signalyard.store.base import Store
from signalyard.store.dual import execute, fetch

__all__ = ["get_allowed_origins", "normalize_origin", "origin_allowed", "set_allowed_origins"]

_ORIGIN = re.compile(
    r"(https?)://(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?"
)

_GET = "SELECT allowed_origins FROM browser_sources WHERE dataset_id = ?"
_SET = (
    "INSERT INTO browser_sources(dataset_id, allowed_origins, updated_at) VALUES (?,?,?)"
    " ON CONFLICT (dataset_id) DO UPDATE SET allowed_origins = excluded.allowed_origins,"
    " updated_at = excluded.updated_at"
)


def normalize_origin(text: str) -> str:
    """``https://Shop.Example.com/`` → ``https://shop.example.com``. Raises ``ValueError``."""
    value = text.strip().lower().rstrip("/")
    match = _ORIGIN.fullmatch(value)
    if match is None:
        raise ValueError(
            f"{text!r} is not an origin: expected scheme://host[:port], such as"
            " https://shop.example.com or https://*.example.com"
        )
    scheme, wildcard, host, port = match.groups()
    if port is not None and not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: the port must be 1 to 65535")
    default = {"http": "80", "https": "443"}[scheme]
    suffix = "" if port in (None, default) else f":{port}"
    return f"{scheme}://{wildcard or ''}{host}{suffix}"


def origin_allowed(origin: str, allowed: Sequence[str]) -> bool:
    try:
        origin = normalize_origin(origin)
    except ValueError:
        return False
    if "*" in origin:
        return False
    for pattern in allowed:
        if pattern == origin:
            return True
        if "://*." in pattern:
            scheme, rest = pattern.split("://*.", 1)
            if origin.startswith(scheme + "://") and origin.endswith("." + rest):
                return True
    return False


async def get_allowed_origins(store: Store, dataset_id: str) -> tuple[str, ...]:
    rows = await fetch(store, _GET, (dataset_id,))
    return tuple(orjson.loads(rows[0][0])) if rows else ()


async def set_allowed_origins(
    store: Store, dataset_id: str, origins: Sequence[str], *, now: float
) -> tuple[str, ...]:
    """Replace the dataset's allowed origins (normalized, de-duplicated); raises ``ValueError``
    on one that is not an origin."""
    clean = tuple(dict.fromkeys(normalize_origin(o) for o in origins))
    await execute(store, _SET, (dataset_id, orjson.dumps(list(clean)).decode(), now))
    return clean
