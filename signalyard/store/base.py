"""The store: the only durable seam between ingest and delivery.

It holds datasets, ingest keys, destinations and their state, events (normalized and hashed:
plaintext personal data is never stored), the outbox (one row per event and destination),
the dedup key, delivery attempts and dead letters.

Contracts every backend keeps (one contract test suite runs against each):

- ``ingest`` returns only once the events are committed and synced to disk. Concurrent
  calls share one transaction (group commit).
- ``(dataset_id, event_name, event_id)`` is stored once within ``DEDUP_WINDOW_SECONDS``;
  a repeat is reported as a duplicate and adds nothing.
- ``last_commit_failure`` is the last failed write (its time and a short reason, never SQL
  nor data) until a later write commits: readiness and ``signalyard_store_up`` report it.
  ``probe_write`` commits such a write on demand (readiness calls it while a failure is
  kept). A write that only lost a lock to another process is not a failure.
- ``claim`` leases due rows to one owner until ``lease_until``; ``settle_*`` only change rows
  the owner still holds, so a worker that finishes late cannot settle rows it lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from signalyard.event import AcceptedEvent, Consent, ServerEvent
from signalyard.outcome import Attempt
from signalyard.secret import Secret

DEDUP_WINDOW_SECONDS = 48 * 3600
CLICK_RETENTION_SECONDS = 90 * 86400
"""Click ids are kept 90 days after their first sighting: longer than every platform's click
attribution window."""
DEAD_LETTER_IDS_MAX = 900
"""The most outbox ids one ``dead_letters`` call looks up (one statement's parameters)."""
EXPIRED_HOLD_REASON = (
    "consent did not arrive before the event passed the platform's 7-day age limit: not sent"
)


@dataclass(frozen=True, slots=True)
class Dataset:
    id: str
    name: str
    default_country: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class IngestKey:
    id: str
    dataset_id: str
    label: str
    created_at: float
    revoked_at: float | None


@dataclass(frozen=True, slots=True)
class Destination:
    id: int
    dataset_id: str
    name: str
    kind: str
    options: dict[str, Any]
    secrets: Mapping[str, Secret]
    """The destination's secret fields (``access_token`` ...), named by its sink's spec;
    opened with the operator key when read, encrypted in the database."""
    state: str
    """``active`` or ``paused``."""
    paused_reason: str | None
    paused_fix: str | None
    throttled_until: float | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    outbox_id: int
    attempts: int
    event_time: int
    received_at: float
    test_event_code: str | None
    payload: ServerEvent
    consent_action: str | None = None
    """What the destination's consent policy decided (``full``, ``ldu``, ``no_pii``);
    ``None`` for rows stored before consent existed (sent in full)."""


@dataclass(frozen=True, slots=True)
class DestinationStatus:
    destination: Destination
    queued: int
    due: int
    oldest_event_time: int | None
    delivered: int
    dead: int
    held: int = 0
    """Waiting for consent."""
    dropped: int = 0
    """Not sent: the consent policy said drop (or consent never arrived)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    outbox_id: int
    destination_id: int
    event_name: str
    event_id: str
    event_time: int
    reason: str
    code: int | None
    subcode: int | None
    attempts: int
    dead_at: float


@dataclass(frozen=True, slots=True)
class ReplayRule:
    """Which dead letters a replay can help, checked by the store's query (so a selection
    reaches them however many others died since). A dead letter is left out when any
    condition set here says so."""

    skip_code: int | None = None
    """Left out: the platform's error code (events refused for their content)."""
    skip_reason_prefix: str = ""
    """Left out: a reason beginning with this (empty: none is)."""
    min_event_time: int | None = None
    """Left out: an event older than this (past the platform's age limit)."""


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    destination_id: int
    at: float
    events: int
    outcome: str
    attempt: Attempt


@dataclass(frozen=True, slots=True)
class ConsentUpdate:
    released: int
    dropped: int
    still_held: int


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What a duplicate did to the copy already stored (see ``Store.merge_duplicates``)."""

    outcome: str
    """``merged`` (its ``user_data`` keys the stored copy lacked were added before delivery),
    ``late`` (it had keys the stored copy lacked, but that copy was already sent, or is being
    sent), ``stricter_consent`` (not merged: its consent state is stricter than the stored
    copy's) or ``same`` (nothing to add, or no stored copy left)."""
    keys: tuple[str, ...] = ()
    """The ``user_data`` key names it added (or would have): names only, never values."""
    cut: tuple[str, ...] = ()
    """The list keys (``em``, ``ph``...) some of whose values were left out of a merge: the
    stored copy's list reached the per-key cap (names only, never values)."""


@dataclass(frozen=True, slots=True)
class PruneResult:
    outbox: int
    attempts: int
    events: int
    dedup_keys: int
    clicks: int = 0


def waiting_message(waiting: int) -> str:
    """Why a destination with events still to send is not removed."""
    return (
        f"{waiting} event(s) are still waiting to be sent to this destination (queued or"
        " held for consent)"
    )


@dataclass(frozen=True, slots=True)
class CommitFailure:
    """A write the store could not commit: when (epoch seconds) and why, in a few words (a
    SQLite result code or a PostgreSQL error class; never SQL nor data)."""

    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored, read back for attribution."""

    pk: int
    event_name: str
    event_id: str
    event_time: float
    source: str
    test_event_code: str | None
    payload: bytes | str
    received_at: float = 0.0


@dataclass(frozen=True, slots=True)
class AttributionRows:
    """Evidence attribution keeps from a batch of events (see migration 0009)."""

    orders: Sequence[tuple[str, int, float, str, str, str, str, str]] = ()
    """(order id, event pk, created at, currency, gross as decimal text, kind, source, node)."""
    touches: Sequence[tuple[int, float, str, str, str | None, str]] = ()
    """(event pk, at, channel, detail, campaign, node)."""
    clicks: Sequence[tuple[str, str, int, str, float, str | None]] = ()
    """(kind, click id, event pk, evidence, event time, campaign); the click time comes from
    the click ledger (none for a click first seen on an order, at the order's own time)."""
    links: Sequence[tuple[str, str, int, float]] = ()
    """(node, node, event pk, the event's time)."""


@dataclass(frozen=True, slots=True)
class AttributionEvidence:
    """All of a dataset's attribution evidence, as stored."""

    orders: Sequence[tuple[Any, ...]]
    """(order id, event pk, created at, currency, gross, kind, source, node, refunded value or
    None, cancelled at or None)."""
    touches: Sequence[tuple[Any, ...]]
    """(event pk, at, channel, detail, campaign, node)."""
    clicks: Sequence[tuple[Any, ...]]
    """(kind, click id, clicked at or None, first event pk, evidence, campaign or None)."""
    links: Sequence[tuple[Any, ...]]
    """(node, node, observed at or None)."""


class Store(Protocol):
    # life cycle
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    @property
    def last_commit_failure(self) -> CommitFailure | None:
        """The last write that failed, until a later write commits."""
        ...

    async def probe_write(self) -> bool:
        """Commit one tiny real write (on SQLite, only when the database has room to grow);
        whether it did. Success clears ``last_commit_failure``."""
        ...

    # datasets and keys
    async def add_dataset(
        self, dataset_id: str, *, name: str, default_country: str | None, now: float
    ) -> Dataset: ...
    async def list_datasets(self) -> list[Dataset]: ...
    async def get_dataset(self, dataset_id: str) -> Dataset | None: ...
    async def update_dataset(
        self, dataset_id: str, *, name: str, default_country: str | None
    ) -> Dataset | None:
        """Replace a dataset's name and default country; ``None`` when there is no such
        dataset."""
        ...

    async def add_key(
        self, dataset_id: str, *, key_id: str, key_hash: str, label: str, now: float
    ) -> IngestKey: ...
    async def find_key(self, key_hash: str) -> IngestKey | None: ...
    async def list_keys(self, dataset_id: str | None = None) -> list[IngestKey]: ...
    async def revoke_key(self, key_id: str, *, now: float) -> bool: ...

    # destinations
    async def add_destination(
        self,
        dataset_id: str,
        *,
        name: str,
        kind: str,
        options: dict[str, Any],
        secrets: Mapping[str, Secret],
        now: float,
    ) -> Destination:
        """``secrets`` are stored encrypted with the operator key."""
        ...

    async def list_destinations(self, dataset_id: str | None = None) -> list[Destination]: ...
    async def get_destination(self, destination_id: int) -> Destination | None:
        """The destination as stored now (its state, options and secrets), ``None`` when it
        was removed: what a delivery cycle reads, one row instead of the whole list."""
        ...

    async def set_secrets(
        self, destination_id: int, secrets: Mapping[str, Secret], *, now: float
    ) -> None:
        """Replace the destination's secrets (all of them) and resume it if it was paused."""
        ...

    async def forget_secrets(self, *, now: float) -> int:
        """After the operator key was lost: drop every destination's secrets, pause them
        all with the fix (set the secrets again), and make the current key the database's.
        Returns how many destinations it paused."""
        ...

    async def set_options(
        self, destination_id: int, options: dict[str, Any], *, now: float
    ) -> None:
        """Replace a destination's options (its consent policy among them)."""
        ...

    async def pause(
        self,
        destination_id: int,
        *,
        reason: str,
        fix: str,
        now: float,
        unchanged_since: float | None = None,
    ) -> None:
        """Pause a destination with the reason and the fix. ``unchanged_since``: only if its
        ``updated_at`` is still that one (an answer to a request sent with what it had then
        never pauses it again once the operator has replaced the token or resumed it; equal,
        not earlier, so that another host's clock cannot matter)."""
        ...

    async def resume(self, destination_id: int, *, now: float) -> None: ...
    async def throttle(self, destination_id: int, *, until: float) -> None:
        """Hold the destination back until at least ``until`` (a throttle already set for
        later stays)."""
        ...

    async def remove_destination(self, destination_id: int, *, drop_queue: bool) -> int:
        """Remove a destination with its outbox rows and attempts, in one transaction;
        returns how many of its events were still waiting (queued or held) and are dropped.
        Raises :class:`~signalyard.errors.Conflict` naming that count, and changes nothing,
        when some are waiting and ``drop_queue`` is false."""
        ...

    # ingest
    async def ingest(self, events: Sequence[AcceptedEvent], *, now: float) -> list[bool]:
        """Commit the events durably; True for each stored, False for each duplicate."""
        ...

    async def ingest_recording(
        self,
        events: Sequence[AcceptedEvent],
        decisions: Sequence[tuple[str, str, Consent]],
        *,
        now: float,
    ) -> tuple[list[bool], ConsentUpdate]:
        """:meth:`ingest`, then :meth:`update_consents` of ``decisions`` (the consent the
        request's events carry), in one transaction: one commit for the request, and a
        decision is durable with the events that carry it."""
        ...

    async def merge_duplicates(
        self, events: Sequence[AcceptedEvent], *, now: float
    ) -> list[MergeResult]:
        """For each duplicate (``ingest`` said False), in one transaction: add its
        ``user_data`` keys and values the stored copy lacks to that copy while one of its
        outbox rows still waits (``queued`` or ``held``) without being sent right now,
        never overwriting a value nor widening its consent, and record both sources as
        ``_sources`` (:mod:`signalyard.store._merge`); what each did. A duplicate from an
        unauthenticated source (the browser's ``/collect``) is never merged."""
        ...

    # delivery
    async def claim(
        self, destination_id: int, *, owner: str, limit: int, now: float, lease_seconds: float
    ) -> list[ClaimedEvent]: ...
    async def extend_lease(self, ids: Sequence[int], *, owner: str, until: float) -> int:
        """Keep holding the rows of ``ids`` that ``owner`` still holds, until ``until`` (a
        heartbeat while a long delivery is in flight); how many."""
        ...

    async def settle_delivered(self, ids: Sequence[int], *, owner: str, now: float) -> int: ...
    async def settle_retry(
        self, ids: Sequence[int], *, owner: str, due_at: float, count_attempt: bool, error: str
    ) -> int: ...
    async def settle_dead(
        self,
        ids: Sequence[int],
        *,
        owner: str,
        reason: str,
        code: int | None,
        subcode: int | None,
        now: float,
    ) -> int: ...
    async def release(self, ids: Sequence[int], *, owner: str) -> int:
        """Give leased rows back unchanged, due at once (the destination paused, a cycle's
        extra batches, a cycle that failed)."""
        ...

    async def record_attempt(self, record: AttemptRecord) -> None: ...

    # operations
    async def status(self, *, now: float) -> list[DestinationStatus]: ...
    async def dead_letters(
        self,
        *,
        destination_id: int | None = None,
        limit: int = 100,
        outbox_ids: Sequence[int] | None = None,
        replayable: ReplayRule | None = None,
    ) -> list[DeadLetter]:
        """The most recent first (by when they died). ``outbox_ids``: only these (at most
        ``DEAD_LETTER_IDS_MAX``); ``replayable``: only those the rule keeps."""
        ...

    async def count_dead_letters(
        self, *, destination_id: int | None = None, replayable: ReplayRule | None = None
    ) -> int:
        """How many dead letters (``replayable``: only those the rule keeps)."""
        ...

    async def attempts(
        self, *, destination_id: int | None = None, limit: int = 100
    ) -> list[AttemptRecord]: ...
    async def replay(
        self,
        *,
        destination_id: int | None = None,
        outbox_ids: Sequence[int] | None = None,
        now: float,
    ) -> int:
        """Queue dead letters again; returns how many."""
        ...

    async def event_count(self, dataset_id: str | None = None) -> int: ...

    # consent
    async def update_consent(
        self, dataset_id: str, subject: str, consent: Consent, *, now: float
    ) -> ConsentUpdate:
        """Consent arrived for ``subject`` (hashed, see :class:`Consent`): decide again, with
        the new state, for each of its held outbox rows. Rows the policy now sends are queued
        (due now, their original ``event_time`` unchanged), rows it drops are dropped."""
        ...

    async def update_consents(
        self, decisions: Sequence[tuple[str, str, Consent]], *, now: float
    ) -> ConsentUpdate:
        """:meth:`update_consent` for each ``(dataset_id, subject, consent)`` in order, in one
        transaction (a request's decisions cost one commit, not one each); the counts
        summed."""
        ...

    async def expire_holds(self, *, event_time_before: float, now: float) -> int:
        """Drop held rows whose event is older than ``event_time_before`` (consent did not
        arrive within the platform's age limit); returns how many."""
        ...

    # attribution (its own tables; it never touches what is delivered)
    async def attribution_events(
        self, dataset_id: str, *, after_pk: int, limit: int
    ) -> list[StoredEvent]:
        """Up to ``limit`` of the dataset's events with ``pk > after_pk``, oldest first."""
        ...

    async def attribution_cursor(self, dataset_id: str) -> int:
        """The last event pk attribution took in for the dataset (0: none)."""
        ...

    async def attribution_save(
        self, dataset_id: str, rows: AttributionRows, *, last_pk: int, now: float
    ) -> None:
        """Keep ``rows`` and move the cursor to ``last_pk``, in one transaction (a batch is
        taken in once, whatever happens)."""
        ...

    async def attribution_evidence(self, dataset_id: str) -> AttributionEvidence: ...

    # retention
    async def prune(self, *, before: float, now: float, batch: int = 5000) -> PruneResult:
        """Delete, in batches (short transactions, no long locks): delivered outbox rows
        settled before ``before``, attempts made before it, events received before it that no
        outbox row needs any more, and dedup keys past the 48-hour window. Dead letters and
        queued rows (and their events) are kept. Dropped rows (consent) go like delivered
        ones; click ledger entries go ``CLICK_RETENTION_SECONDS`` after they were first seen
        (received)."""
        ...
