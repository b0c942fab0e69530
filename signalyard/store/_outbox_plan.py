"""What an ingest transaction writes to the outbox for each new event: one row per
destination of its dataset, in the state its consent decides. Shared by both stores; pure
apart from the callback that loads a dataset's destinations inside the transaction.

- ``full``, ``ldu``, ``no_pii`` → ``queued`` (the worker applies the action when sending);
- ``hold`` → ``held`` (and a ``consent_holds`` row under each key the event has: its consent
  subject, and a browser's consent token);
- ``drop`` → ``dropped`` (settled at once, kept for the retention period to be seen).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from signalyard.event import AcceptedEvent, Consent
from signalyard.transforms.consent import Rule, decide, parse_policy

__all__ = ["STATUS_OF", "IngestRows", "OutboxPlanner", "OutboxRow", "ingest_rows"]

STATUS_OF = {"hold": "held", "drop": "dropped"}
"""Outbox state for an action; any other action is ``queued``."""

OutboxRow = tuple[int, str, str, str]
"""(destination id, status, consent action, consent reason)."""

_UNKNOWN = Consent()


Recorded = Callable[[str, str], "tuple[str, str, float] | None"]
"""``(dataset_id, subject)`` → the last consent recorded for it: ``(state, source,
updated_at)``."""


class OutboxPlanner:
    def __init__(
        self,
        load: Callable[[str], Iterable[tuple[int, Any]]],
        recorded: Recorded | None = None,
    ) -> None:
        """``load(dataset_id)``: ``(destination id, options as JSON text or dict)`` pairs;
        ``recorded``: the consent given earlier for a subject (``consent_subjects``), which
        decides for a pending or unstated event of that subject: under its subject (recorded
        by an authenticated sender) or under its browser's consent token (recorded by that
        browser), the later of the two."""
        self._load = load
        self._recorded = recorded
        self._destinations: dict[str, list[tuple[int, tuple[Rule, ...]]]] = {}
        self._decided: dict[tuple[str, str, str, str | None], list[OutboxRow]] = {}

    def _of(self, dataset_id: str) -> list[tuple[int, tuple[Rule, ...]]]:
        found = self._destinations.get(dataset_id)
        if found is None:
            found = []
            for destination_id, options in self._load(dataset_id):
                if isinstance(options, str | bytes):
                    options = orjson.loads(options)
                policy = options.get("consent_policy") if isinstance(options, dict) else None
                found.append((int(destination_id), parse_policy(policy)))
            self._destinations[dataset_id] = found
        return found

    def rows(self, event: AcceptedEvent) -> list[OutboxRow]:
        consent = event.consent or _UNKNOWN
        if self._recorded is not None and consent.state in ("pending", "unknown"):
            earlier = None
            for subject in (consent.subject, consent.token_key):
                found = self._recorded(event.dataset_id, subject) if subject else None
                if found is not None and (earlier is None or found[2] > earlier[2]):
                    earlier = found
            if earlier is not None:
                consent = dataclasses.replace(
                    consent, state=earlier[0], source=f"{earlier[1]}, given earlier"
                )
        key = (event.dataset_id, consent.state, consent.source, consent.region)
        rows = self._decided.get(key)
        if rows is None:
            rows = []
            for destination_id, policy in self._of(event.dataset_id):
                decision = decide(policy, consent)
                status = STATUS_OF.get(decision.action, "queued")
                rows.append((destination_id, status, decision.action, decision.reason))
            self._decided[key] = rows
        return rows


@dataclasses.dataclass(slots=True)
class IngestRows:
    """The rows an ingest transaction writes beside its new events."""

    outbox: list[tuple[int, int, str, str, str]] = dataclasses.field(default_factory=list)
    """(event pk, destination id, status, consent action, consent reason)."""
    holds: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)
    """(dataset id, consent subject or token key, event pk) of held events."""
    clicks: list[tuple[str, str, str, float, str | None, int]] = dataclasses.field(
        default_factory=list
    )
    """(dataset id, kind, click id, clicked at, browser, event pk)."""


def ingest_rows(planner: OutboxPlanner, stored: Iterable[tuple[int, AcceptedEvent]]) -> IngestRows:
    """The outbox rows, consent holds and click ledger entries of the newly stored events
    (``(pk, event)`` pairs): the same for every store."""
    out = IngestRows()
    for pk, ev in stored:
        held = False
        for destination_id, status, action, reason in planner.rows(ev):
            out.outbox.append((pk, destination_id, status, action, reason))
            held = held or status == "held"
        if held and ev.consent is not None:
            if ev.consent.subject is not None:
                out.holds.append((ev.dataset_id, ev.consent.subject, pk))
            if ev.consent.token_key is not None:
                out.holds.append((ev.dataset_id, ev.consent.token_key, pk))
        out.clicks.extend(
            (ev.dataset_id, c.kind, c.value, c.clicked_at, ev.browser, pk) for c in ev.clicks
        )
    return out
