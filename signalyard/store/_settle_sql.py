"""The outbox's lease and settle statements, written once for both stores (``?``
placeholders; :func:`signalyard.store._marks.pg` for PostgreSQL). Each store appends its own
``AND id IN ...`` for the rows of one call. A row changes only while the owner still holds it
(``status='queued' AND lease_owner=?``)."""

from __future__ import annotations

_HELD_BY_OWNER = " WHERE status='queued' AND lease_owner=?"

EXTEND_LEASE = "UPDATE outbox SET lease_until=?" + _HELD_BY_OWNER
"""(until, owner)"""
DELIVERED = (
    "UPDATE outbox SET status='delivered', settled_at=?, attempts=attempts+1,"
    " lease_owner=NULL, lease_until=NULL" + _HELD_BY_OWNER
)
"""(now, owner)"""
RETRY = (
    "UPDATE outbox SET due_at=?, attempts=attempts+?, last_error=?,"
    " lease_owner=NULL, lease_until=NULL" + _HELD_BY_OWNER
)
"""(due_at, 0 or 1, error, owner)"""
DEAD = (
    "UPDATE outbox SET status='dead', settled_at=?, attempts=attempts+1,"
    " dead_reason=?, dead_code=?, dead_subcode=?, last_error=?,"
    " lease_owner=NULL, lease_until=NULL" + _HELD_BY_OWNER
)
"""(now, reason, code, subcode, reason, owner)"""
RELEASE = "UPDATE outbox SET lease_owner=NULL, lease_until=NULL" + _HELD_BY_OWNER
"""(owner)"""
