"""Logged-out dashboard sessions in the store (migration 0006), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from signalyard.dashboard.revoked import RevokedSessions
from signalyard.store.base import Store
from signalyard.store.dual import fetch

pytestmark = pytest.mark.anyio


async def _rows(store: Store) -> list[tuple[object, ...]]:
    return await fetch(
        store, "SELECT session_id, expires_at FROM dashboard_revoked_sessions ORDER BY 1"
    )


async def test_revoked_until_expiry_then_pruned(backend_store: Store) -> None:
    revoked = RevokedSessions(backend_store)
    await revoked.revoke("s-1", expires=1000.0, now=100.0)
    await revoked.revoke("s-1", expires=1000.0, now=100.0)  # logging out twice is fine
    await revoked.revoke("s-2", expires=2000.0, now=100.0)
    await revoked.revoke("s-0", expires=50.0, now=100.0)  # expired already: nothing to keep
    assert await revoked.is_revoked("s-1") and await revoked.is_revoked("s-2")
    assert not await revoked.is_revoked("s-0") and not await revoked.is_revoked("s-3")
    assert await _rows(backend_store) == [("s-1", 1000.0), ("s-2", 2000.0)]
    # a later logout prunes what expired: the table holds only sessions still alive
    await revoked.revoke("s-3", expires=3000.0, now=1500.0)
    assert await _rows(backend_store) == [("s-2", 2000.0), ("s-3", 3000.0)]
    assert await revoked.prune(now=5000.0) == 2
    assert await _rows(backend_store) == []
