"""The pages: each reads the rollups and partial-index queries of
:mod:`signalyard.insights.views` (never the events or delivered history), so a page costs the
same with a thousand events or ten million. Nothing personal is shown: event names, ids,
counts, shares and the platform's error messages only."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from signalyard.dashboard.charts import stacked_bars
from signalyard.dashboard.dead_letters import REPLAY_BATCH, bulk_rule, replay_of
from signalyard.dashboard.format import slug
from signalyard.dashboard.session import Session
from signalyard.dashboard.web import Web
from signalyard.insights import views
from signalyard.insights.alert_log import firing_alerts, recent_alerts
from signalyard.insights.quality import MatchModel
from signalyard.sinks import delivery_mode, mode_note, mode_option, spec_for
from signalyard.store.base import Destination, Store

__all__ = ["NAV", "WINDOWS", "Pages", "dedup_advice"]


@dataclass(frozen=True, slots=True)
class Window:
    hours: int
    bucket_hours: int
    days: int
    label_pattern: str
    per: str


WINDOWS = {
    "24h": Window(24, 1, 1, "%H:%M", "per hour"),
    "7d": Window(168, 6, 7, "%d %b %Hh", "per 6 hours"),
    "30d": Window(720, 24, 30, "%d %b", "per day"),
}
DEFAULT_WINDOW = "7d"
NAV = (
    ("overview", "Overview", "/"),
    ("quality", "Match quality", "/quality"),
    ("dedup", "Deduplication", "/dedup"),
    ("attribution", "Attribution", "/attribution"),
    ("delivery", "Delivery", "/delivery"),
    ("diagnostics", "Diagnostics", "/diagnostics"),
    ("alerts", "Alerts", "/alerts"),
)
SOURCE_LABELS = {
    "browser": "browser",
    "graph_api": "server API",
    "shopify": "webhook: Shopify",
    "woocommerce": "webhook: WooCommerce",
    "import": "import",
}
AGE_WARNING_MARGIN_SECONDS = 86400
"""A queued event this close to its destination's age limit (the spec's ``max_age_seconds``:
7 days for Meta, 90 for Google) is shown in red."""


def _buckets(values: list[int], size: int) -> list[int]:
    return [sum(values[i : i + size]) for i in range(0, len(values), size)]


def dedup_advice(row: views.DedupRow) -> list[str]:
    """What to change, from one event name's deduplication numbers (docs/dashboard.md)."""
    out = []
    name = row.event_name
    if row.received and row.with_event_id < 0.95:
        out.append(
            f"event_id missing on {1 - row.with_event_id:.0%} of {name} events: Signalyard"
            " gave them one, but Meta cannot pair them with the Pixel's copy; send the Pixel's"
            " eventID as event_id"
        )
    if (
        name in views.CONVERSIONS  # a server copy is expected for conversions, not page views
        and row.pairing_rate is not None
        and row.browser_events >= 10
        and row.pairing_rate < 0.5
    ):
        out.append(
            f"only {row.pairing_rate:.0%} of the {name} events the script saw also came from"
            " a server source with the same event_id: if your server sends them, pass it the"
            " browser's event_id"
        )
    if row.mismatched:
        out.append(
            f"{row.mismatched:,} event_id(s) of {name} were also used for other event names:"
            " generate a new event_id for every event"
        )
    if row.late_richer:
        out.append(
            f"{row.late_richer:,} copy(ies) of {name} with customer information the first copy"
            " lacked arrived after the first copy was sent (richer copy arrived late): send"
            " the server's copy sooner, or the browser's later"
        )
    return out


class Pages:
    def __init__(
        self,
        web: Web,
        store: Store,
        *,
        on_replay: Callable[[], None] | None = None,
        sandbox_url: str = "",
        models: Mapping[str, MatchModel] | None = None,
    ) -> None:
        """``models``: destination kind -> its match model (the registry's ``match_model``):
        the match-quality page shows one section per kind of a dataset's destinations."""
        self.web = web
        self.store = store
        self.on_replay = on_replay
        self.sandbox_url = sandbox_url
        self.models: Mapping[str, MatchModel] = models or {}

    async def _common(
        self, request: Request, page: str
    ) -> tuple[Session, dict[str, Any]] | Response:
        session = await self.web.session(request)
        if session is None or not session.authenticated:
            return self.web.to_login(request)
        datasets = await self.store.list_datasets()
        wanted = request.query_params.get("dataset")
        dataset = next((d for d in datasets if d.id == wanted), datasets[0] if datasets else None)
        window = request.query_params.get("window", DEFAULT_WINDOW)
        if window not in WINDOWS:
            window = DEFAULT_WINDOW
        return session, {
            "page": page,
            "nav_path": next(path for key, _, path in NAV if key == page),
            "nav": NAV,
            "datasets": datasets,
            "dataset": dataset,
            "dataset_id": dataset.id if dataset else "",
            "window": window,
            "windows": list(WINDOWS),
            "firing": await firing_alerts(self.store),
            "now": self.web.clock.now(),
        }

    async def _page(
        self,
        request: Request,
        page: str,
        template: str,
        fill: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> Response:
        got = await self._common(request, page)
        if isinstance(got, Response):
            return got
        session, ctx = got
        if ctx["dataset"] is not None or page == "alerts":
            await fill(ctx)
        return self.web.render(request, template, ctx, session=session)

    # overview ----------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        return await self._page(request, "overview", "overview.html", self._overview)

    async def _overview(self, ctx: dict[str, Any]) -> None:
        w = WINDOWS[ctx["window"]]
        ov = await views.overview(self.store, ctx["dataset_id"], now=ctx["now"], hours=w.hours)
        starts = ov.hours[:: w.bucket_hours]
        labels = [time.strftime(w.label_pattern, time.gmtime(h * 3600)) for h in starts]

        def chart(chart_id: str, title: str, series: list[tuple[str, list[int]]], **kw: Any) -> Any:
            return stacked_bars(
                chart_id,
                title,
                labels,
                [(name, _buckets(values, w.bucket_hours)) for name, values in series],
                y_title=f"events {w.per}",
                **kw,
            )

        def summed(series: list[views.Series]) -> list[int]:
            return [sum(s.values[i] for s in series) for i in range(len(ov.hours))]

        queue_views = await views.queues(self.store, ctx["dataset_id"], now=ctx["now"])
        delivered = {s.name: s.total for s in ov.delivered}
        failed = {s.name: s.total for s in ov.failed}
        ctx.update(
            overview=ov,
            charts=[
                chart("overview-chart-events", "Events by event name", _series(ov.by_event_name)),
                chart(
                    "overview-chart-sources",
                    "Events by source",
                    [(SOURCE_LABELS.get(s.name, s.name), s.values) for s in ov.by_source],
                ),
                chart(
                    "overview-chart-delivery",
                    "Delivered and failed (all destinations)",
                    [("delivered", summed(ov.delivered)), ("failed", summed(ov.failed))],
                    colours={"delivered": "s-ok", "failed": "s-bad"},
                ),
            ],
            destinations=[
                {
                    "queue": q,
                    "delivered": delivered.get(q.destination.name, 0),
                    "failed": failed.get(q.destination.name, 0),
                }
                for q in queue_views
            ],
            delivered_total=sum(delivered.values()),
            failed_total=sum(failed.values()),
            queued_total=sum(q.queued for q in queue_views),
            dead_total=sum(q.dead_letters for q in queue_views),
        )

    # match quality -----------------------------------------------------------------------

    async def quality(self, request: Request) -> Response:
        return await self._page(request, "quality", "quality.html", self._quality)

    async def _quality(self, ctx: dict[str, Any]) -> None:
        w = WINDOWS[ctx["window"]]
        found = await views.match_quality(
            self.store, ctx["dataset_id"], now=ctx["now"], days=w.days, models=self.models
        )
        ctx.update(
            sections=[
                {
                    "kind": k.kind,
                    "model": k.model,
                    "destinations": k.destinations,
                    "rows": k.rows,
                    "columns": {
                        q.event_name: [c.coverage(q.coverage) for c in k.model.columns]
                        for q in k.rows
                    },
                }
                for k in found.kinds
            ],
            quality_note=found.note,
        )

    # deduplication -----------------------------------------------------------------------

    async def dedup(self, request: Request) -> Response:
        return await self._page(request, "dedup", "dedup.html", self._dedup)

    async def _dedup(self, ctx: dict[str, Any]) -> None:
        w = WINDOWS[ctx["window"]]
        rows = await views.dedup(self.store, ctx["dataset_id"], now=ctx["now"], days=w.days)
        ctx.update(rows=rows, advice={r.event_name: dedup_advice(r) for r in rows})

    # delivery ----------------------------------------------------------------------------

    async def delivery(self, request: Request) -> Response:
        return await self._page(request, "delivery", "delivery.html", self._delivery)

    async def _delivery(self, ctx: dict[str, Any]) -> None:
        now = ctx["now"]
        cards = []
        for q in await views.queues(self.store, ctx["dataset_id"], now=now):
            d = q.destination
            oldest = q.oldest_queued_event_time
            dead = await self.store.dead_letters(destination_id=d.id, limit=50)
            spec = spec_for(d.kind)
            replays = {x.outbox_id: replay_of(x, now=now, spec=spec) for x in dead}
            cards.append(
                {
                    "queue": q,
                    "d": d,
                    "mode": delivery_mode(d, sandbox_url=self.sandbox_url),
                    "mode_note": mode_note(
                        delivery_mode(d, sandbox_url=self.sandbox_url), d.name, mode_option(d)
                    ),
                    "throttled": d.throttled_until is not None and d.throttled_until > now,
                    "oldest_age": now - oldest if oldest is not None else None,
                    "too_old": oldest is not None
                    and now - oldest > spec.max_age_seconds - AGE_WARNING_MARGIN_SECONDS,
                    "max_age_days": spec.max_age_seconds // 86400,
                    "attempts": await self.store.attempts(destination_id=d.id, limit=10),
                    "dead": dead,
                    "replays": replays,
                    "in_bulk": sum(1 for r in replays.values() if r.in_bulk),
                }
            )
        ctx.update(cards=cards)

    async def replay(self, request: Request) -> Response:
        """Queue dead letters again: one (``outbox_id``) or all of a destination, except those
        a replay cannot help (:mod:`.dead_letters`)."""
        session = await self.web.session(request)
        if session is None or not session.authenticated:
            return self.web.to_login(request)
        form = await self.web.checked_form(request, session)
        if form is None:
            return self.web.forbidden()
        dataset_id = str(form.get("dataset", ""))
        try:
            destination_id = int(str(form.get("destination_id", "")))
            raw_id = str(form.get("outbox_id", "") or "")
            outbox_ids = [int(raw_id)] if raw_id else None
        except ValueError:
            return self.web.forbidden()
        if not 0 < destination_id < 2**31 or any(not 0 < i < 2**63 for i in outbox_ids or ()):
            return self.web.forbidden()  # no such row can exist
        destination = next(
            (d for d in await self.store.list_destinations(dataset_id) if d.id == destination_id),
            None,
        )
        if destination is None:
            message = "No such destination in this dataset: nothing replayed."
        elif outbox_ids is not None:
            message = await self._replay_one(destination, outbox_ids[0])
        else:
            message = await self._replay_all(destination)
        url = self.web.url_maker(request)("/delivery", dataset=dataset_id)
        anchor = f"#destination-{slug(destination.name)}" if destination else ""
        response = self.web.redirect(url + anchor)
        self.web.set_session(request, response, session.with_flash(message))
        return response

    async def _queue_again(self, destination: Destination, ids: list[int], now: float) -> int:
        n = 0
        if ids:
            n = await self.store.replay(destination_id=destination.id, outbox_ids=ids, now=now)
        if n and self.on_replay is not None:
            self.on_replay()
        return n

    async def _replay_one(self, destination: Destination, outbox_id: int) -> str:
        """The dead letter is looked up by its id, however old it is."""
        now = self.web.clock.now()
        found = await self.store.dead_letters(
            destination_id=destination.id, outbox_ids=[outbox_id], limit=1
        )
        if not found:
            return (
                f"Nothing replayed: {destination.name} has no dead letter {outbox_id} (it was"
                " queued again already, or there is no such dead letter)."
            )
        if not replay_of(found[0], now=now, spec=spec_for(destination.kind)).one:
            return "Nothing replayed." + _left_out(1)
        if await self._queue_again(destination, [outbox_id], now):
            return f"1 dead letter(s) of {destination.name} queued again."
        return f"Nothing replayed: dead letter {outbox_id} was queued again meanwhile."

    async def _replay_all(self, destination: Destination) -> str:
        """The store selects the replayable dead letters (:func:`bulk_rule`), at most
        ``REPLAY_BATCH`` of them, the most recent first; the message says how many are left
        out and how many a next press would queue."""
        now = self.web.clock.now()
        rule = bulk_rule(now, spec_for(destination.kind))
        dead = await self.store.dead_letters(
            destination_id=destination.id, limit=REPLAY_BATCH, replayable=rule
        )
        n = await self._queue_again(destination, [x.outbox_id for x in dead], now)
        more = await self.store.count_dead_letters(destination_id=destination.id, replayable=rule)
        left = await self.store.count_dead_letters(destination_id=destination.id) - more
        if n:
            message = f"{n:,} dead letter(s) of {destination.name} queued again."
        elif left or more:
            message = "Nothing replayed."
        else:
            message = f"Nothing to replay: {destination.name} has no dead letters."
        if more:
            message += f" {more:,} more can be replayed: press Replay again to queue them."
        return message + (_left_out(left) if left else "")

    # diagnostics and alerts --------------------------------------------------------------

    async def diagnostics(self, request: Request) -> Response:
        return await self._page(request, "diagnostics", "diagnostics.html", self._diagnostics)

    async def _diagnostics(self, ctx: dict[str, Any]) -> None:
        w = WINDOWS[ctx["window"]]
        ctx.update(
            rows=await views.diagnostics(self.store, ctx["dataset_id"], now=ctx["now"], days=w.days)
        )

    async def alerts(self, request: Request) -> Response:
        return await self._page(request, "alerts", "alerts.html", self._alerts)

    async def _alerts(self, ctx: dict[str, Any]) -> None:
        ctx.update(alerts=await recent_alerts(self.store, limit=100))


def _left_out(n: int) -> str:
    return (
        f" {n:,} refused by the platform as invalid (or past its age limit) were left as they"
        " are: sent again unchanged, they would fail again."
    )


def _series(series: list[views.Series]) -> list[tuple[str, list[int]]]:
    return [(s.name, s.values) for s in series]
