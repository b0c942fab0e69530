"""What the dashboard shows, read from the rollups (never from the events table), so a page
costs the same with a thousand events or ten million.

Each function takes the store, a dataset and ``now``, and returns plain values: the
dashboard renders them, tests and alerts read them. Windows are whole hours (``hours``) or
days (``days``) ending now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from signalyard.insights.quality import MatchModel, estimate
from signalyard.insights.recorder import EVENT_COUNTERS
from signalyard.store.base import Destination, Store
from signalyard.store.dual import fetch

__all__ = [
    "Diagnostic",
    "EventQuality",
    "KindQuality",
    "MatchQuality",
    "Overview",
    "QueueView",
    "dedup",
    "diagnostics",
    "match_quality",
    "overview",
    "queues",
]

SOURCES_SERVER = frozenset(("graph_api", "shopify", "woocommerce", "import"))


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: list[int]

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass(frozen=True, slots=True)
class Overview:
    hours: list[int]
    """Epoch hours (``hour * 3600`` is the start), oldest first."""
    by_event_name: list[Series]
    by_source: list[Series]
    delivered: list[Series]
    """Per destination (name): events delivered per hour."""
    failed: list[Series]
    """Per destination: events dead-lettered per hour."""
    received: int
    stored: int
    duplicates: int
    rejected: int


@dataclass(frozen=True, slots=True)
class QueueView:
    destination: Destination
    queued: int
    due: int
    held: int
    dead_letters: int
    oldest_queued_event_time: int | None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    title: str
    events: int
    share: float
    """Of the events received in the window."""
    event_names: list[str]
    advice: str
    kind: str = "problem"
    """``problem`` (something to fix) or ``info`` (worth knowing, nothing wrong: personal
    data sent in plaintext for Signalyard to hash is the intended use)."""


@dataclass(frozen=True, slots=True)
class EventQuality:
    event_name: str
    events: int
    score: float
    coverage: dict[str, float]
    drivers: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]
    advice: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class KindQuality:
    """The match quality of one destination kind, by its own model."""

    kind: str
    model: MatchModel
    destinations: list[str]
    """The names of the dataset's destinations of this kind."""
    rows: list[EventQuality]
    """Per event name, the most events first."""


@dataclass(frozen=True, slots=True)
class MatchQuality:
    kinds: list[KindQuality]
    """Per destination kind of the dataset that has a model."""
    note: str = ""
    """Why nothing is shown, when ``kinds`` is empty (no destination, or none with a model)."""


@dataclass(frozen=True, slots=True)
class DedupRow:
    event_name: str
    received: int
    with_event_id: float
    """Share of events that came with their own ``event_id``."""
    duplicates: int
    browser_events: int
    """Event ids the browser script sent, each counted once."""
    paired: int
    """Of those, the ids also received from a server source (each once)."""
    pairing_rate: float | None
    """Share of the browser's event ids also received from a server source (None: no
    browser events)."""
    mismatched: int
    merged: int = 0
    """Duplicates whose ``user_data`` keys were added to the copy stored first, before it
    was sent."""
    late_richer: int = 0
    """Duplicates with ``user_data`` keys the stored copy lacked that arrived after it was
    sent ("richer copy arrived late")."""


def _hour_range(now: float, hours: int) -> list[int]:
    last = int(now // 3600)
    return list(range(last - hours + 1, last + 1))


async def overview(store: Store, dataset_id: str, *, now: float, hours: int = 168) -> Overview:
    span = _hour_range(now, hours)
    index = {h: i for i, h in enumerate(span)}
    names: defaultdict[str, list[int]] = defaultdict(lambda: [0] * len(span))
    sources: defaultdict[str, list[int]] = defaultdict(lambda: [0] * len(span))
    received = stored = duplicates = 0
    rows = await fetch(
        store,
        "SELECT hour, event_name, source, SUM(received), SUM(stored), SUM(duplicates)"
        " FROM stats_events WHERE dataset_id = ? AND hour >= ? AND hour <= ?"
        " GROUP BY hour, event_name, source",
        (dataset_id, span[0], span[-1]),
    )
    for hour, name, source, n_received, n_stored, n_dup in rows:
        i = index[int(hour)]
        names[name][i] += int(n_received)
        sources[source][i] += int(n_received)
        received += int(n_received)
        stored += int(n_stored)
        duplicates += int(n_dup)
    rejected_rows = await fetch(
        store,
        "SELECT COALESCE(SUM(events), 0) FROM stats_rejections"
        " WHERE dataset_id = ? AND hour >= ? AND hour <= ?",
        (dataset_id, span[0], span[-1]),
    )
    delivered: defaultdict[str, list[int]] = defaultdict(lambda: [0] * len(span))
    failed: defaultdict[str, list[int]] = defaultdict(lambda: [0] * len(span))
    for hour, name, n_delivered, n_dead in await fetch(
        store,
        "SELECT s.hour, d.name, SUM(s.delivered), SUM(s.dead) FROM stats_delivery s"
        " JOIN destinations d ON d.id = s.destination_id"
        " WHERE d.dataset_id = ? AND s.hour >= ? AND s.hour <= ? GROUP BY s.hour, d.name",
        (dataset_id, span[0], span[-1]),
    ):
        delivered[name][index[int(hour)]] += int(n_delivered)
        failed[name][index[int(hour)]] += int(n_dead)

    def series(table: dict[str, list[int]]) -> list[Series]:
        return sorted((Series(k, v) for k, v in table.items()), key=lambda s: (-s.total, s.name))

    return Overview(
        hours=span,
        by_event_name=series(names),
        by_source=series(sources),
        delivered=series(delivered),
        failed=series(failed),
        received=received,
        stored=stored,
        duplicates=duplicates,
        rejected=int(rejected_rows[0][0]) if rejected_rows else 0,
    )


async def queues(store: Store, dataset_id: str | None, *, now: float) -> list[QueueView]:
    """Per destination: queued (and due), held for consent, dead letters, the oldest queued
    event. Reads only the rows in those states (partial indexes), not delivered history."""
    counts: dict[int, list[Any]] = defaultdict(lambda: [0, 0, 0, 0, None])
    # One statement per state, each matching its partial index (outbox_due, outbox_held,
    # outbox_dead) exactly, so delivered history is never read.
    for dest, n, due in await fetch(
        store,
        "SELECT destination_id, COUNT(*), SUM(CASE WHEN due_at <= ? THEN 1 ELSE 0 END)"
        " FROM outbox WHERE status = 'queued' GROUP BY destination_id",
        (now,),
    ):
        counts[int(dest)][0:2] = [int(n), int(due or 0)]
    for column, status in ((2, "held"), (3, "dead")):
        for dest, n in await fetch(
            store,
            f"SELECT destination_id, COUNT(*) FROM outbox WHERE status = '{status}'"
            " GROUP BY destination_id",
        ):
            counts[int(dest)][column] = int(n)
    for dest, oldest in await fetch(
        store,
        "SELECT o.destination_id, MIN(e.event_time) FROM outbox o JOIN events e"
        " ON e.pk = o.event_pk WHERE o.status = 'queued' GROUP BY o.destination_id",
    ):
        counts[int(dest)][4] = int(oldest) if oldest is not None else None
    out = []
    for d in await store.list_destinations(dataset_id):
        queued, due, held, dead, oldest = counts.get(d.id, [0, 0, 0, 0, None])
        out.append(QueueView(d, queued, due, held, dead, oldest))
    return out


async def _event_totals(
    store: Store, dataset_id: str, now: float, days: int
) -> dict[tuple[str, str], dict[str, int]]:
    """(event name, source) → summed counters over the last ``days``."""
    since = int(now // 3600) - days * 24 + 1
    rows = await fetch(
        store,
        "SELECT event_name, source, "
        + ", ".join(f"SUM({c})" for c in EVENT_COUNTERS)
        + " FROM stats_events WHERE dataset_id = ? AND hour >= ? GROUP BY event_name, source",
        (dataset_id, since),
    )
    return {
        (r[0], r[1]): {c: int(v or 0) for c, v in zip(EVENT_COUNTERS, r[2:], strict=True)}
        for r in rows
    }


CONVERSIONS = frozenset(
    (
        "Purchase",
        "Lead",
        "CompleteRegistration",
        "Subscribe",
        "StartTrial",
        "SubmitApplication",
        "Contact",
        "Schedule",
        "AddPaymentInfo",
        "InitiateCheckout",
    )
)
"""Events where the customer's identity is usually known (checkout, forms, sign-up)."""
NO_DESTINATION = (
    "No destination yet: match quality is estimated per destination kind, from the keys that"
    " kind's platform matches on. Add a destination to this dataset (signalyard destinations"
    " add) to see it."
)
NO_MODEL = "No destination of this dataset has a match-quality model."


async def match_quality(
    store: Store,
    dataset_id: str,
    *,
    now: float,
    days: int = 7,
    models: Mapping[str, MatchModel],
) -> MatchQuality:
    """Per kind of the dataset's destinations that has a model in ``models`` (destination
    kind -> model; the sink registry's ``match_model``), in the order of ``models``: per event
    name, the estimated match quality by that kind's model (see
    :mod:`signalyard.insights.quality`), its keys' coverage, the keys that drive it, and
    advice for keys often missing. Every kind reads the same mask histogram."""
    names: dict[str, list[str]] = {}
    destinations = await store.list_destinations(dataset_id)
    for d in destinations:
        if d.kind in models:
            names.setdefault(d.kind, []).append(d.name)
    if not names:
        return MatchQuality([], NO_MODEL if destinations else NO_DESTINATION)
    since = int(now // 86400) - days + 1
    masks: defaultdict[str, dict[int, int]] = defaultdict(dict)
    for name, mask, n in await fetch(
        store,
        "SELECT event_name, mask, SUM(events) FROM stats_masks WHERE dataset_id = ? AND day >= ?"
        " GROUP BY event_name, mask",
        (dataset_id, since),
    ):
        masks[name][int(mask)] = int(n)
    kinds = [
        KindQuality(kind, model, names[kind], _event_rows(masks, model))
        for kind, model in models.items()
        if kind in names
    ]
    return MatchQuality(kinds)


def _event_rows(masks: Mapping[str, Mapping[int, int]], model: MatchModel) -> list[EventQuality]:
    out = []
    for name, by_mask in masks.items():
        result = estimate(by_mask, model)
        coverage: dict[str, float] = result["coverage"]
        advice = []
        for key, (threshold, why) in model.advice.items():
            if key in model.customer_keys and name not in CONVERSIONS:
                continue  # nobody has an email on a page view: advice only where it is known
            if coverage[key] < threshold:
                advice.append(f"{key} missing on {1.0 - coverage[key]:.0%} of {name} events: {why}")
        out.append(
            EventQuality(
                name,
                int(result["events"]),
                float(result["score"]),
                coverage,
                list(result["drivers"]),
                list(result["suggestions"]),
                advice,
            )
        )
    out.sort(key=lambda q: (-q.events, q.event_name))
    return out


async def dedup(store: Store, dataset_id: str, *, now: float, days: int = 7) -> list[DedupRow]:
    totals = await _event_totals(store, dataset_id, now, days)
    by_name: defaultdict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (name, _source), counters in totals.items():
        row = by_name[name]
        for c, v in counters.items():
            row[c] += v
    out = []
    for name, row in by_name.items():
        received = row["received"]
        browser = row["browser_ids"]
        paired = min(row["paired"], browser)  # rollups before 0006 counted arrivals
        out.append(
            DedupRow(
                event_name=name,
                received=received,
                with_event_id=(received - row["generated_ids"]) / received if received else 0.0,
                duplicates=row["duplicates"],
                browser_events=browser,
                paired=paired,
                pairing_rate=paired / browser if browser else None,
                mismatched=row["mismatched"],
                merged=row["merged"],
                late_richer=row["late_richer"],
            )
        )
    out.sort(key=lambda r: (-r.received, r.event_name))
    return out


_COUNTER_DIAGNOSTICS = (
    (
        "hashed_cookies",
        "fbc or fbp looks hashed",
        "Meta needs fbc and fbp exactly as the cookies hold them; stop hashing them",
    ),
    (
        "malformed_cookies",
        "fbc or fbp not in Meta's format",
        "send the _fbc/_fbp cookie values unchanged (fb.1.<time>.<value>)",
    ),
    (
        "dropped_values",
        "customer values dropped as unusable",
        "invalid emails, phones or dates were left out: check the form or CRM fields",
    ),
    (
        "late",
        "events sent late (over an hour after they happened)",
        "send events as they happen; Meta refuses events older than 7 days",
    ),
    (
        "future",
        "timestamps in the future",
        "a server clock is ahead, or event_time is in milliseconds or the wrong time zone",
    ),
    (
        "generated_ids",
        "events without an event_id",
        "send the same event_id as the Pixel so Meta can deduplicate browser and server",
    ),
    (
        "mismatched",
        "one event_id used for different events",
        "generate a new event_id for every event; reuse it only for the same event's pair",
    ),
)
_INFO_DIAGNOSTICS = (
    (
        "plaintext_pii",
        "personal data sent in plaintext for Signalyard to hash",
        "nothing to do: this is the intended use; Signalyard normalizes and hashes these"
        " values before storing or sending them (only a client sending straight to Meta must"
        " hash them itself)",
    ),
)
_REJECTION_TITLES = {
    "custom_data.value": ("purchase_without_value", "Purchase without value"),
    "custom_data.currency": ("purchase_without_currency", "Purchase without a valid currency"),
    "user_data.client_ip_address": ("invalid_ip", "invalid IP address"),
    "event_time": ("bad_event_time", "event_time refused (too old, in the future or malformed)"),
    "user_data": ("too_little_customer_data", "too little customer information to match"),
}


async def diagnostics(
    store: Store, dataset_id: str, *, now: float, days: int = 7
) -> list[Diagnostic]:
    """What Meta would complain about, with counts over the window: problems in accepted
    events (from the counters) and refused events (by field and rule), the most frequent
    first; then what is worth knowing but needs no fix (``kind == "info"``)."""
    totals = await _event_totals(store, dataset_id, now, days)
    received = sum(c["received"] for c in totals.values())
    since = int(now // 3600) - days * 24 + 1
    rejections = await fetch(
        store,
        "SELECT field, rule, SUM(events) FROM stats_rejections WHERE dataset_id = ? AND hour >= ?"
        " GROUP BY field, rule ORDER BY SUM(events) DESC",
        (dataset_id, since),
    )
    rejected = sum(int(r[2]) for r in rejections)
    base = received + rejected
    out = []
    for kind, table in (("problem", _COUNTER_DIAGNOSTICS), ("info", _INFO_DIAGNOSTICS)):
        for code, title, advice in table:
            names = sorted({n for (n, _), c in totals.items() if c[code]})
            count = sum(c[code] for c in totals.values())
            if count:
                share = count / base if base else 0.0
                out.append(Diagnostic(code, title, count, share, names, advice, kind))
    for field_path, rule, n in rejections:
        code, title = _REJECTION_TITLES.get(field_path, ("rejected", f"refused: {field_path}"))
        out.append(
            Diagnostic(
                code,
                title,
                int(n),
                int(n) / base if base else 0.0,
                [],
                f"{field_path or 'request'}: {rule} (these events were not accepted)",
            )
        )
    out.sort(key=lambda d: (d.kind != "problem", -d.events))
    return out
