"""How long attribution keeps its evidence: ``attribution.retention_days`` (400 by default: a
year of reports and the longest click window before it). Pruned in short batches by the
worker, after it took the new events in (:meth:`.engine.Attributor.sync_all`).

Orders go by their time, landings by theirs, clicks by their click time (a click whose time
is unknown stays: it is never credited, and rare). Identity links are kept: they hold no
time, and two short ids each.
"""

from __future__ import annotations

from signalyard.store import dual
from signalyard.store.base import Store

__all__ = ["PRUNE", "prune_evidence"]

PRUNE = (
    (
        "DELETE FROM attribution_orders WHERE (dataset_id, order_id) IN (SELECT dataset_id,"
        " order_id FROM attribution_orders WHERE created_at < ? LIMIT ?)"
    ),
    (
        "DELETE FROM attribution_touches WHERE (dataset_id, event_pk) IN (SELECT dataset_id,"
        " event_pk FROM attribution_touches WHERE at < ? LIMIT ?)"
    ),
    (
        "DELETE FROM attribution_clicks WHERE (dataset_id, kind, click_id) IN (SELECT"
        " dataset_id, kind, click_id FROM attribution_clicks WHERE clicked_at < ? LIMIT ?)"
    ),
)


async def prune_evidence(store: Store, *, before: float, batch: int = 5000) -> int:
    """Delete evidence older than ``before``, ``batch`` rows per transaction; how many."""
    total = 0
    for sql in PRUNE:
        while True:
            n = await dual.execute(store, sql, (before, batch))
            total += n
            if n < batch:
                break
    return total
