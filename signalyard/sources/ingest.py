"""What every source does with the raw events it decoded: clean them, store them, wake delivery.

Cleaning (validate, enrich, normalize, hash) is pure CPU work; a large request is cleaned in a
worker thread, one such request at a time (:meth:`.Turns.clean`), so the event loop keeps
answering other clients meanwhile. The answer is given
only after the store has committed (and synced) the events.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from signalyard.clock import Clock
from signalyard.errors import InputError
from signalyard.event import AcceptedEvent, Consent
from signalyard.insights.recorder import StatsRecorder
from signalyard.metrics import Metrics
from signalyard.sources.extensions import attach, take_extensions
from signalyard.sources.turns import Turns
from signalyard.store._merge import UNAUTHENTICATED_SOURCES
from signalyard.store.base import Dataset, Store
from signalyard.transforms.identity import VARIANTS, check_variants, unavailable
from signalyard.transforms.pipeline import clean_event
from signalyard.transforms.user_data import MAX_VALUES_PER_KEY
from signalyard.transforms.validate import MAX_EVENT_AGE_SECONDS

log = logging.getLogger("signalyard.ingest")

DECIDED_MEMORY = 100_000
"""Subjects whose recorded consent this process remembers (to skip repeating it)."""
INLINE_EVENTS = 16
"""Requests with more events than this are cleaned off the event loop."""


IDENTITY_TTL = 5.0
"""Seconds a dataset's identity plan (which variants its destinations need) is reused: a
destination added to a dataset gets its variants made for events received from then on, in
every process, within this time."""
_MAX_PLANS = 10_000


@dataclass(frozen=True, slots=True)
class IdentityPlan:
    """The identity variants to make for a dataset's events, and who needs each."""

    variants: tuple[str, ...] = ()
    """Names (:data:`~signalyard.transforms.identity.VARIANTS`), sorted."""
    users: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Variant name -> the names of the dataset's destinations that need it, sorted."""
    max_age_seconds: int = MAX_EVENT_AGE_SECONDS
    """The oldest event (by ``event_time``) one of the dataset's destinations still takes:
    the largest of their kinds' limits. Older events are refused at ingest; a younger one
    too old for some destination's platform is dead-lettered by that destination alone."""


NO_IDENTITY = IdentityPlan()


@dataclass(frozen=True, slots=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int
    messages: tuple[str, ...]


def _new_id() -> str:
    return uuid.uuid4().hex


class Ingestor:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        default_country: str | None,
        max_future_seconds: int,
        on_stored: Callable[[], None] | None = None,
        metrics: Metrics | None = None,
        recorder: StatsRecorder | None = None,
        turns: Turns | None = None,
        identity_by_kind: Mapping[str, frozenset[str]] | None = None,
        max_age_by_kind: Mapping[str, int] | None = None,
    ) -> None:
        """``identity_by_kind``: destination kind -> the identity variants it needs (each
        sink spec's ``identity``); the variants a dataset's destinations need are made for
        its events (:meth:`identity_plan`). ``max_age_by_kind``: destination kind -> the
        oldest event its platform takes (each spec's ``max_age_seconds``); a dataset's events
        may be as old as the largest of its destinations' (a dataset without destinations,
        or of kinds not listed: :data:`~signalyard.transforms.validate.MAX_EVENT_AGE_SECONDS`,
        the Graph API's own limit). Neither given: no destination is ever looked up."""
        self.store = store
        self._identity_by_kind = {
            kind: check_variants(names) for kind, names in (identity_by_kind or {}).items() if names
        }
        self._max_age_by_kind = dict(max_age_by_kind or {})
        if set(self._max_age_by_kind.values()) <= {MAX_EVENT_AGE_SECONDS}:
            self._max_age_by_kind = {}  # every dataset's limit is the default: nothing to look up
        self._plans: dict[str, tuple[float, IdentityPlan]] = {}
        self.turns = turns if turns is not None else Turns()
        self.recorder = recorder
        self._decided: OrderedDict[tuple[str, str], str] = OrderedDict()
        self.clock = clock
        self.default_country = default_country
        self.max_future_seconds = max_future_seconds
        self.on_stored = on_stored
        self.metrics = metrics or Metrics()

    def _decisions(
        self, events: Sequence[AcceptedEvent]
    ) -> tuple[list[tuple[str, str, Consent]], dict[tuple[str, str], str]]:
        """The consent decisions the request's events carry: an event with a decision
        (granted, denied) for a subject records it, and decides again for that subject's held
        events (those received earlier, duplicates of this one included). A subject already
        recorded with the same state by this process is skipped. An event from a browser
        (with a consent token) decides only under its token, never for its ``fbp``, which is
        no secret: a page cannot release, or decide ahead of time for, events held for
        another browser. Also the request's decisions by subject, to remember once stored."""
        decisions: list[tuple[str, str, Consent]] = []
        seen: dict[tuple[str, str], str] = {}  # this request's decisions, by subject
        for event in events:
            consent = event.consent
            if consent is None or consent.state not in ("granted", "denied"):
                continue
            subject = consent.token_key or consent.subject
            if subject is None:
                continue
            key = (event.dataset_id, subject)
            if seen.get(key, self._decided.get(key)) == consent.state:
                continue
            seen[key] = consent.state
            decisions.append(
                (event.dataset_id, subject, Consent(state=consent.state, source=consent.source))
            )
        return decisions, seen

    def _remember(self, seen: Mapping[tuple[str, str], str]) -> None:
        for key, state in seen.items():
            self._decided[key] = state
            self._decided.move_to_end(key)
            if len(self._decided) > DECIDED_MEMORY:
                self._decided.popitem(last=False)

    def wake_delivery(self) -> None:
        """Tell delivery that events are due (new ones, or held ones consent released)."""
        if self.on_stored is not None:
            self.on_stored()

    async def identity_plan(self, dataset_id: str) -> IdentityPlan:
        """Which identity variants the destinations of ``dataset_id`` need (looked up again
        after :data:`IDENTITY_TTL` seconds); :data:`NO_IDENTITY` without a store lookup when
        no destination kind needs any."""
        if not self._identity_by_kind and not self._max_age_by_kind:
            return NO_IDENTITY
        now = self.clock.monotonic()
        cached = self._plans.get(dataset_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        plan = await identity_plan(
            self.store, dataset_id, self._identity_by_kind, self._max_age_by_kind
        )
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        self._plans[dataset_id] = (now + IDENTITY_TTL, plan)
        return plan

    def clean(
        self,
        raw_events: Sequence[Any],
        dataset: Dataset,
        *,
        source: str,
        test_event_code: str | None,
        consent_token_key: str | None = None,
        plan: IdentityPlan = NO_IDENTITY,
    ) -> list[AcceptedEvent]:
        """All-or-nothing, as Meta does: the first bad event fails the request, named by
        its index (``data[3].user_data.em: ...``). ``consent_token_key``: the sending
        browser's consent token, hashed (``/collect``; see :mod:`.consent_token`);
        ``plan``: the identity variants to make and the oldest event time accepted
        (:meth:`identity_plan`)."""
        now = self.clock.now()
        country = dataset.default_country or self.default_country
        out = []
        for i, raw in enumerate(raw_events):
            try:
                event, extensions = take_extensions(raw, country, token_key=consent_token_key)
                cleaned = clean_event(
                    event,
                    dataset_id=dataset.id,
                    default_country=country,
                    now=now,
                    new_id=_new_id,
                    source=source,
                    test_event_code=test_event_code,
                    max_future_seconds=self.max_future_seconds,
                    max_age_seconds=plan.max_age_seconds,
                    identity=plan.variants,
                )
                out.append(attach(cleaned, extensions))
            except InputError as error:
                raise error.at(f"data[{i}]") from None
        return out

    async def ingest(
        self,
        raw_events: Sequence[Any],
        dataset: Dataset,
        *,
        source: str,
        test_event_code: str | None = None,
        consent_token_key: str | None = None,
    ) -> IngestResult:
        plan = await self.identity_plan(dataset.id)
        try:
            if len(raw_events) > INLINE_EVENTS:
                async with self.turns.clean():
                    events = await anyio.to_thread.run_sync(
                        lambda: self.clean(
                            raw_events,
                            dataset,
                            source=source,
                            test_event_code=test_event_code,
                            consent_token_key=consent_token_key,
                            plan=plan,
                        )
                    )
            else:
                events = self.clean(
                    raw_events,
                    dataset,
                    source=source,
                    test_event_code=test_event_code,
                    consent_token_key=consent_token_key,
                    plan=plan,
                )
        except InputError as error:
            self.metrics.ingest_rejected(dataset.id, source, len(raw_events))
            if self.recorder is not None:
                self.recorder.rejected(
                    dataset.id, source, error.field, error.rule, now=self.clock.now()
                )
            raise
        now = self.clock.now()
        decisions, seen = self._decisions(events)
        # One transaction: the events, then the consent they carry (one commit, and a
        # decision is durable with its events).
        stored, update = await self.store.ingest_recording(events, decisions, now=now)
        self._remember(seen)
        released = update.released
        if self.recorder is not None:
            self.recorder.ingested(
                events, stored, [e.id_generated for e in events], source=source, now=now
            )
        n_stored = sum(stored)
        self.metrics.ingested(dataset.id, source, len(events), n_stored)
        duplicates = len(events) - n_stored
        # Merged before delivery is woken: a worker woken first could claim the stored copy
        # and make the merge late for no reason.
        merges = (
            await self._merge(events, stored, dataset, source=source, now=now) if duplicates else []
        )
        if (n_stored or released) and self.on_stored is not None:
            self.on_stored()
        messages: list[str] = []
        for i, ev in enumerate(events):
            messages.extend(f"data[{i}].{w}" for w in ev.warnings)
            if plan.variants and "_identity" in ev.payload:
                # A page (no key) is not told the names of the dataset's destinations.
                named = source not in UNAUTHENTICATED_SOURCES
                messages.extend(
                    f"data[{i}].{w}"
                    for w in identity_warnings(
                        ev.payload["_identity"], plan, name_destinations=named
                    )
                )
        if duplicates and source not in UNAUTHENTICATED_SOURCES:
            # A page (no key) is told nothing about duplicates: whether an event id was
            # received, sent, or lacks keys would tell anyone about another customer's order.
            messages.append(
                f"{duplicates} event(s) already received within 48 hours"
                " (same event_name and event_id): not stored again"
            )
            messages.extend(merges)
        return IngestResult(len(events), n_stored, duplicates, tuple(messages))

    async def _merge(
        self,
        events: Sequence[AcceptedEvent],
        stored: Sequence[bool],
        dataset: Dataset,
        *,
        source: str,
        now: float,
    ) -> list[str]:
        """Merge the duplicates' ``user_data`` into the copies stored before them
        (:meth:`Store.merge_duplicates`); a message per duplicate that added (or would have
        added) keys. Only requests with duplicates that carry ``user_data`` pay for it; a
        browser's duplicates (``/collect``, no key) are never merged. A failed merge changes
        nothing stored: it is logged (without personal data) and said in the messages, and
        the request, whose new events are committed, still succeeds."""
        if source in UNAUTHENTICATED_SOURCES:
            return []
        at = [
            i
            for i, (ev, new) in enumerate(zip(events, stored, strict=True))
            if not new and ev.payload.get("user_data")
        ]
        if not at:
            return []
        dups = [events[i] for i in at]
        try:
            results = await self.store.merge_duplicates(dups, now=now)
        except Exception as error:
            # The request's new events are committed: it is answered, not failed.
            log.error(
                "Duplicate merge failed; the duplicates' user_data was not merged."
                " dataset=%s source=%s duplicates=%d error=%s",
                dataset.id,
                source,
                len(dups),
                type(error).__name__,
            )
            return [
                f"data[{i}]: could not be merged into the copy received first (a store"
                " error): user_data keys that copy lacks are not added to it"
                for i in at
            ]
        if self.recorder is not None:
            self.recorder.merges(dups, results, source=source, now=now)
        messages = []
        for i, result in zip(at, results, strict=True):
            keys = ", ".join(result.keys)
            if result.outcome == "merged":
                messages.append(
                    f"data[{i}]: merged into the copy received first, not sent yet"
                    f" (user_data keys added: {keys})"
                )
            elif result.outcome == "late":
                messages.append(
                    f"data[{i}]: the copy received first was already sent (or is being"
                    f" sent) without user_data keys this one has ({keys}): send the richer"
                    " copy first, or sooner"
                )
            elif result.outcome == "stricter_consent":
                messages.append(
                    f"data[{i}]: not merged into the copy received first: its consent is"
                    " stricter than that copy's"
                )
            if result.cut:
                messages.append(
                    f"data[{i}]: the copy received first holds {MAX_VALUES_PER_KEY} values"
                    f" (the most per key) of user_data {', '.join(result.cut)}: this copy's"
                    " other values were not merged"
                )
        return messages


async def identity_plan(
    store: Store,
    dataset_id: str,
    by_kind: Mapping[str, frozenset[str]],
    max_age_by_kind: Mapping[str, int] | None = None,
) -> IdentityPlan:
    """The identity variants the destinations of ``dataset_id`` need, by their kinds'
    declarations (``by_kind``: kind -> variant names), which destinations need each, and the
    oldest event one of them takes (``max_age_by_kind``: kind -> seconds)."""
    ages = max_age_by_kind or {}
    if not ages and not any(check_variants(names) for names in by_kind.values()):
        return NO_IDENTITY
    users: dict[str, list[str]] = {}
    kinds: set[str] = set()
    for destination in await store.list_destinations(dataset_id):
        kinds.add(destination.kind)
        for name in by_kind.get(destination.kind, ()):
            users.setdefault(name, []).append(destination.name)
    limits = [ages[k] for k in kinds if k in ages]
    return IdentityPlan(
        tuple(sorted(users)),
        {k: tuple(sorted(v)) for k, v in users.items()},
        max(limits, default=MAX_EVENT_AGE_SECONDS),
    )


def identity_warnings(
    identity: Mapping[str, Any], plan: IdentityPlan, *, name_destinations: bool = True
) -> list[str]:
    """What the sender is told (``field: rule``, as an event's warnings) about the identity
    variants that could not be made for an event (its ``_identity``): which key, how many
    values, why, and which destinations go without them (named only when
    ``name_destinations``). Never a value."""
    messages = []
    for name, hashed, left in unavailable(identity):
        variant = VARIANTS[name]
        who = ", ".join(plan.users.get(name, ())) if name_destinations else ""
        who = who or "a destination of this dataset"
        field = f"user_data.{variant.key}"
        if hashed:
            messages.append(
                f"{field}: {hashed} value(s) arrived hashed, not sent to {who}, which"
                f" need(s) the {name} hash ({variant.description}): only the plaintext gives"
                " it"
            )
        if left:
            messages.append(
                f"{field}: {left} value(s) not sent to {who}: nothing is left of them under"
                f" the {name} rule ({variant.description})"
            )
    return messages
