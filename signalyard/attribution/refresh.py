"""The delivery worker's refresh of the kept attribution reports (:mod:`.snapshot`): a round
every ``attribution.report_refresh_minutes`` in the background."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from signalyard.attribution.engine import Attributor
from signalyard.attribution.kept import (
    Busy,
    basis_of,
    find_kept,
    is_due,
    is_fresh,
    load_kept,
    newest_event,
)
from signalyard.attribution.rounds import Rounds
from signalyard.attribution.snapshot import compute
from signalyard.clock import Clock
from signalyard.store.base import Store

__all__ = ["ReportRefresher"]

log = logging.getLogger("signalyard.attribution")

ASKED_DAYS = 7.0
"""The worker keeps fresh the reports a page asked for within these days (and always the
settings' one)."""


class ReportRefresher(Rounds):
    """The delivery worker's refresh of the kept reports, at most every ``every_seconds``
    (the first call refreshes): for every dataset, the report of the settings' profile, lens
    and currency, and every report a page asked for within :data:`ASKED_DAYS`, when it is no
    longer fresh and is due (:func:`is_due`); each profile and currency's lenses in one
    pass. Calling it starts a round in the background and returns at once; a round never
    raises (a failure is logged, the next round tries again); :meth:`aclose` cancels it."""

    def __init__(
        self,
        store: Store,
        attributor: Attributor,
        clock: Clock,
        *,
        every_seconds: float,
        tz: ZoneInfo,
        profile: str,
        lens: str,
        currency: str,
        rates_base: str,
    ) -> None:
        super().__init__(clock, every_seconds)
        self.store = store
        self.attributor = attributor
        self.tz = tz
        self.rates_base = rates_base
        self.default = (profile, lens, currency)

    async def run_round(self) -> int:
        """One round, now: how many reports were computed again."""
        done = 0
        try:
            for dataset in await self.store.list_datasets():
                done += await self._dataset(dataset.id)
        except Exception:  # the next round tries again
            log.exception("refreshing the attribution reports failed")
        return done

    async def _dataset(self, dataset_id: str) -> int:
        now = self.clock.now()
        through = await newest_event(self.store, dataset_id)
        bases: dict[str, str] = {}
        wanted: dict[tuple[str, str], set[str]] = {}
        profile, lens, currency = self.default
        kept = await load_kept(self.store, dataset_id)
        if find_kept(kept, (dataset_id, profile, lens, currency)) is None:
            wanted.setdefault((profile, currency), set()).add(lens)
        for k in kept:
            default = (k.profile, k.lens, k.currency) == self.default
            asked = k.asked_at is not None and k.asked_at >= now - ASKED_DAYS * 86400
            if not (default or asked) or not is_due(k, now=now, every=self.every_seconds):
                continue
            if k.currency not in bases:
                bases[k.currency] = await basis_of(
                    self.store,
                    self.attributor,
                    tz=self.tz,
                    currency=k.currency,
                    rates_base=self.rates_base,
                )
            if not is_fresh(k, through=through, basis=bases[k.currency], now=now):
                wanted.setdefault((k.profile, k.currency), set()).add(k.lens)
        done = 0
        for (p, cur), lenses in sorted(wanted.items()):
            try:
                done += len(
                    await compute(
                        self.store,
                        self.attributor,
                        dataset_id,
                        profile=p,
                        lenses=sorted(lenses),
                        tz=self.tz,
                        currency=cur,
                        rates_base=self.rates_base,
                        clock=self.clock,
                    )
                )
            except Busy as busy:
                log.info("%s", busy)
        return done
