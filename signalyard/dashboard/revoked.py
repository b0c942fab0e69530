"""Sessions ended by "Log out", in the store (table ``dashboard_revoked_sessions``, migration
0006), so that every process refuses a logged-out session's cookie, not only the one that
answered the logout. A session id is kept until the session would have expired anyway, then
pruned: the table holds at most the sessions logged out within the last ``session_hours``."""

from __future__ import annotations

from signalyard.store.base import Store
from signalyard.store.dual import execute, fetch

__all__ = ["RevokedSessions"]


class RevokedSessions:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def revoke(self, session_id: str, *, expires: float, now: float) -> None:
        """Refuse ``session_id`` from now until ``expires`` (its own expiry); expired entries
        are pruned on the way."""
        await self.prune(now=now)
        if expires <= now:
            return  # already refused by its expiry
        await execute(
            self.store,
            "INSERT INTO dashboard_revoked_sessions(session_id, expires_at) VALUES (?, ?)"
            " ON CONFLICT (session_id) DO NOTHING",
            (session_id, expires),
        )

    async def is_revoked(self, session_id: str) -> bool:
        rows = await fetch(
            self.store,
            "SELECT 1 FROM dashboard_revoked_sessions WHERE session_id = ?",
            (session_id,),
        )
        return bool(rows)

    async def prune(self, *, now: float) -> int:
        """Forget sessions past their expiry (their cookies are refused by it); how many."""
        return await execute(
            self.store, "DELETE FROM dashboard_revoked_sessions WHERE expires_at <= ?", (now,)
        )
