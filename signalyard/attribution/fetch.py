"""Ask each destination's platform what it claims, and keep it (``signalyard attribution
fetch-claims``, and the worker's :class:`ClaimsRefresher`).

For every destination of a dataset whose platform declares a reporting API
(:class:`~signalyard.sinks.reporting.ReportingSpec`) and whose options name the ad account,
the platform folder fetches the claims of the days asked (the account's days, in its
currency). When every such destination of a platform answered, they replace, for that
platform and those days, the claims fetched before: the platform's later numbers win, as its
reports restate past days (rows imported from a CSV export stay, but where a fetch gives the
same day, campaign and currency); when one refused, was refused its config, or was not asked,
the platform's earlier claims stay as they were. Destinations reading the same claims (the
spec's ``scope``) are fetched once; one reading per ad account is kept (its windows and
action types count the same purchases); several accounts' claims are added up.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import anyio
import httpx

from signalyard.attribution.claims import UPSERT, Claim, claim_rows
from signalyard.attribution.rounds import Rounds
from signalyard.clock import Clock
from signalyard.errors import ConfigError
from signalyard.sinks import checked_config, spec_for
from signalyard.sinks.reporting import AccountReport, ReportingError, day_range
from signalyard.sinks.spec import SinkConfig
from signalyard.store import dual
from signalyard.store.base import Destination, Store

__all__ = ["ClaimsRefresher", "Fetched", "fetch_claims", "fetched_lines"]

log = logging.getLogger(__name__)

DELETE = (
    "DELETE FROM attribution_claims WHERE dataset_id = ? AND platform = ? AND day >= ?"
    " AND day <= ? AND source = ?"
)


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one destination's fetch gave: ``report`` or why not (``error`` and ``fix``, or
    ``skipped``); and whether its platform's claims were kept (``not_kept`` says why not)."""

    destination: str
    kind: str
    report: AccountReport | None = None
    error: str | None = None
    fix: str | None = None
    skipped: str | None = None
    same_as: str | None = None
    """The destination reading the same claims (its spec's ``scope``), fetched instead."""
    not_kept: str | None = None


@dataclass(slots=True)
class _Plan:
    destination: Destination
    config: SinkConfig | None = None
    scope: str | None = None
    result: Fetched | None = None


def _plan(d: Destination, sandbox_url: str) -> _Plan:
    spec = spec_for(d.kind)
    if spec.reporting is None:
        return _Plan(d, result=Fetched(d.name, d.kind, skipped=f"{d.kind} has no reporting API"))
    try:
        config = checked_config(d.kind, d.options, d.secrets, sandbox_url=sandbox_url)
    except ConfigError as error:
        return _Plan(d, result=Fetched(d.name, d.kind, error=str(error)))
    missing = spec.reporting.missing(config)
    if missing is not None:
        return _Plan(d, result=Fetched(d.name, d.kind, skipped=f"set {missing}"))
    return _Plan(d, config, spec.reporting.scope(config))


def _claims(kind: str, reports: Sequence[AccountReport]) -> list[Claim]:
    """The reports of one platform (one per ad account) added up by day, campaign and
    currency; an account's spend once."""
    totals: dict[tuple[str, str, str], list[Decimal]] = {}
    spent: set[str] = set()
    for report in reports:
        first = report.account_id not in spent
        spent.add(report.account_id)
        for row in report.rows:
            total = totals.setdefault(
                (row.day, row.campaign, report.currency), [Decimal(0), Decimal(0), Decimal(0)]
            )
            total[0] += row.conversions
            total[1] += row.value
            if first:
                total[2] += row.spend
    return [
        Claim(kind, day, campaign, currency, float(t[0]), t[1], t[2])
        for (day, campaign, currency), t in sorted(totals.items())
    ]


async def _keep(
    store: Store,
    dataset_id: str,
    kind: str,
    plans: Sequence[_Plan],
    first: str,
    last: str,
    now: float,
) -> None:
    """Keep what ``kind``'s destinations answered, when all of them that can report did (a
    destination whose config is refused counts as not answering): it replaces the claims
    fetched before for those days (rows imported from a file stay, but where the fetch has
    the same day, campaign and currency). One reading per ad account: a second destination
    reading the same account in another window or action type counts the same purchases."""
    mine = [p for p in plans if p.destination.kind == kind]
    answered = [p for p in mine if p.result is not None and p.result.report is not None]
    if not answered:
        return
    lacking = sorted(
        p.destination.name
        for p in mine
        if (
            p.scope is not None
            and (p.result is None or (p.result.report is None and p.result.same_as is None))
        )
        or (p.scope is None and p.result is not None and p.result.error is not None)
    )
    if lacking:
        why = (
            f"{', '.join(lacking)} did not answer or was not asked: a platform's claims are"
            " replaced only when all its destinations answer"
        )
        for p in answered:
            assert p.result is not None
            p.result = dataclasses.replace(p.result, not_kept=why)
        return
    reading: dict[str, str] = {}  # account id -> the destination whose reading is kept
    reports: list[AccountReport] = []
    for p in answered:
        assert p.result is not None and p.result.report is not None
        report = p.result.report
        account = report.account_id
        if account in reading:
            p.result = dataclasses.replace(
                p.result,
                not_kept=f"{reading[account]} reads account {account} already: one reading"
                " per account (its windows and action types count the same purchases)",
            )
            continue
        reading[account] = p.destination.name
        reports.append(report)
    claims = [c for c in _claims(kind, reports) if first <= c.day <= last]
    source = f"{kind} reporting API"
    rows = claim_rows(dataset_id, claims, source, now)
    await dual.replace(store, DELETE, (dataset_id, kind, first, last, source), UPSERT, rows)


async def fetch_claims(
    store: Store,
    dataset_id: str,
    *,
    client: httpx.AsyncClient,
    since: datetime.date,
    until: datetime.date,
    sandbox_url: str,
    now: float,
    destination: str | None = None,
) -> list[Fetched]:
    """Fetch the claims of ``since`` .. ``until`` for the dataset's destinations (only
    ``destination``, by name, when given); one :class:`Fetched` per destination, in name
    order.

    A platform's claims of those days are replaced only when every one of its destinations
    that can report answered (the claims are kept per platform): one that refused, or was not
    asked, leaves the platform's earlier claims as they were."""
    day_range(since, until)  # ValueError for a range backwards or too long
    plans = [_plan(d, sandbox_url) for d in await store.list_destinations(dataset_id)]
    plans.sort(key=lambda p: p.destination.name)
    fetched: dict[tuple[str, str], str] = {}  # (kind, scope) -> the destination fetched
    for plan in plans:
        d = plan.destination
        if plan.result is not None or (destination is not None and d.name != destination):
            continue
        assert plan.config is not None and plan.scope is not None
        same = fetched.get((d.kind, plan.scope))
        if same is not None:
            plan.result = Fetched(d.name, d.kind, skipped="same claims", same_as=same)
            continue
        reporting = spec_for(d.kind).reporting
        assert reporting is not None
        try:
            report = await reporting.fetch(plan.config, client, since, until)
        except ReportingError as error:
            plan.result = Fetched(d.name, d.kind, error=error.reason, fix=error.fix or None)
            continue
        fetched[(d.kind, plan.scope)] = d.name
        plan.result = Fetched(d.name, d.kind, report=report)
    first, last = since.isoformat(), until.isoformat()
    for kind in sorted({p.destination.kind for p in plans}):
        await _keep(store, dataset_id, kind, plans, first, last, now)
    return [
        p.result
        for p in plans
        if p.result is not None and (destination is None or p.destination.name == destination)
    ]


def fetched_lines(results: Sequence[Fetched]) -> list[str]:
    """What each destination's fetch gave, for the CLI: the rows and totals, the reason it
    was skipped, or the platform's refusal and its fix."""
    lines: list[str] = []
    for r in results:
        head = f"  {r.destination} ({r.kind}): "
        if r.report is not None:
            rep = r.report
            conversions = sum((row.conversions for row in rep.rows), Decimal(0))
            value = sum((row.value for row in rep.rows), Decimal(0))
            spend = sum((row.spend for row in rep.rows), Decimal(0))
            lines.append(
                f"{head}{len(rep.rows)} row(s) from account {rep.account_id}"
                f" ({rep.currency}, {rep.time_zone}; counted: {rep.counted}):"
                f" {conversions.normalize():f} conversion(s), value {value:.2f},"
                f" spend {spend:.2f} {rep.currency}"
            )
            if r.not_kept:
                lines.append(f"      not kept: {r.not_kept}")
        elif r.same_as is not None:
            lines.append(f"{head}the same claims as {r.same_as}: fetched once")
        elif r.skipped is not None:
            lines.append(f"{head}skipped: {r.skipped}")
        else:
            lines.append(f"{head}FAILED: {r.error}")
            if r.fix:
                lines.append(f"      fix: {r.fix}")
    return lines


class ClaimsRefresher(Rounds):
    """The delivery worker's fetch of every dataset's claims, at most every ``every_seconds``
    (the first call fetches), for the last ``days`` days (today, by the clock's UTC day,
    included).

    Calling it starts a round in the background and returns at once (0), so the worker's
    pruning and its stop never wait on a platform; a round still running when the next is
    due is left to finish. A round never raises: a platform's refusal is logged with its
    fix (the earlier claims are kept), and a round over ``deadline_seconds`` stops."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        every_seconds: float,
        days: int,
        sandbox_url: str,
        client: Callable[[], httpx.AsyncClient] = httpx.AsyncClient,
        deadline_seconds: float = 300.0,
    ) -> None:
        super().__init__(clock, every_seconds)
        self.store = store
        self.days = days
        self.sandbox_url = sandbox_url
        self.client = client
        self.deadline_seconds = deadline_seconds
        """The longest one round may take: what is not fetched by then waits for the next."""

    async def run_round(self) -> int:
        """One round, now: the destinations whose claims were fetched and kept."""
        until = datetime.datetime.fromtimestamp(self.clock.now(), datetime.UTC).date()
        since = until - datetime.timedelta(days=self.days - 1)
        fetched = 0
        try:
            with anyio.move_on_after(self.deadline_seconds) as scope:
                fetched = await self._round(since, until)
            if scope.cancelled_caught:
                log.warning(
                    "fetching the platforms' claims took over %.0f s: stopped, tried again"
                    " next round",
                    self.deadline_seconds,
                )
        except Exception:  # the next round tries again
            log.exception("fetching the platforms' claims failed")
        return fetched

    async def _round(self, since: datetime.date, until: datetime.date) -> int:
        fetched = 0
        async with self.client() as client:
            for dataset in await self.store.list_datasets():
                for r in await fetch_claims(
                    self.store,
                    dataset.id,
                    client=client,
                    since=since,
                    until=until,
                    sandbox_url=self.sandbox_url,
                    now=self.clock.now(),
                ):
                    if r.report is not None and r.not_kept is None:
                        fetched += 1
                    elif r.error is not None or r.not_kept is not None:
                        log.warning(
                            "claims of destination %s (%s) not kept: %s; fix: %s",
                            r.destination,
                            r.kind,
                            r.error or r.not_kept,
                            r.fix or "see `signalyard attribution fetch-claims`",
                        )
        return fetched
