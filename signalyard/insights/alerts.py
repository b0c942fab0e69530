"""Alert rules, evaluated every ``alerts.interval_seconds`` by each delivery worker (see
``docs/alerts.md``). Each rule reads the rollups or the destinations, never the events table
(except the age rule's one grouped query over queued outbox rows), and decides per subject:
firing, fine, or not enough data to tell (the state is kept).

- ``volume_drop`` (``dataset:<id>``): events received in the last ``volume_hours`` complete
  hours against the same hours exactly 7 days earlier. Fires when the week before had at
  least ``volume_min_events`` and now is below ``volume_drop_ratio`` of it; resolves when now
  is back at or above that share *and* events arrive (a dataset that stays silent keeps its
  alert, even once the week before is silent too).
- ``error_rate`` (``destination:<id>``): failed delivery requests over the last 60 minutes,
  estimated from the hourly rollup as the current hour plus the previous hour weighted by the
  part of it still inside the window. Fires above ``error_rate`` with at least
  ``error_min_requests`` requests; resolves at or below it, or when nothing was sent.
- ``destination_paused`` (``destination:<id>``): the destination is paused (expired token,
  missing permission); the message carries the platform's reason and the fix. Resolves once
  it is active again.
- ``age_limit`` (``destination:<id>``): queued events within ``age_hours`` of the platform's
  7-day age limit (they will be dead-lettered if not delivered). Resolves when none are.

Alerts live in the store (:mod:`signalyard.insights.alert_log`): at most one firing alert per
kind and subject, so several processes evaluating at once raise it once, and only the process
that raised (or resolved) it notifies (:mod:`signalyard.insights.notify`). An alert whose
subject no longer exists resolves. Messages name datasets and destinations and give counts
and reasons: never personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from signalyard.clock import Clock
from signalyard.insights.alert_log import firing_alerts, raise_alert, resolve_alert
from signalyard.insights.notify import Notification, Notifier, channels_from_settings
from signalyard.settings import AlertSettings
from signalyard.sinks import REGISTRY
from signalyard.store.base import Dataset, Destination, Store
from signalyard.store.dual import fetch

__all__ = [
    "AGE_LIMIT_SECONDS",
    "KINDS",
    "AlertEngine",
    "Check",
    "Notification",
    "check_age_limit",
    "check_error_rate",
    "check_paused",
    "check_volume",
]

log = logging.getLogger("signalyard.alerts")

KINDS = ("volume_drop", "error_rate", "destination_paused", "age_limit")
AGE_LIMIT_SECONDS = 7 * 86400
"""The age limit of a destination whose kind is not registered (the strictest platform's, 7
days); a registered kind's own limit is its spec's ``max_age_seconds``."""


def _age_limit(destination: Destination) -> int:
    spec = REGISTRY.get(destination.kind)
    return spec.max_age_seconds if spec is not None else AGE_LIMIT_SECONDS


WEEK_HOURS = 7 * 24


@dataclass(frozen=True, slots=True)
class Check:
    """One rule's verdict on one subject."""

    kind: str
    subject: str
    firing: bool | None
    """True: the condition holds; False: it does not; None: not enough data (keep the state)."""
    message: str
    """What holds now (the firing message, or the recovery message)."""


# naming ----------------------------------------------------------------------------------


def _dataset_label(dataset: Dataset) -> str:
    if dataset.name and dataset.name != dataset.id:
        return f'dataset "{dataset.name}" ({dataset.id})'
    return f"dataset {dataset.id}"


def _destination_label(destination: Destination) -> str:
    return f'destination "{destination.name}" (#{destination.id}, dataset {destination.dataset_id})'


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _hour(epoch_hour: int) -> str:
    return time.strftime("%H:%M", time.gmtime(epoch_hour * 3600))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _duration(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} d {hours % 24} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


# rules -----------------------------------------------------------------------------------


async def check_volume(
    store: Store, settings: AlertSettings, *, now: float, datasets: Sequence[Dataset]
) -> list[Check]:
    hours = max(1, settings.volume_hours)
    end = int(now // 3600)
    start = end - hours
    week_start, week_end = start - WEEK_HOURS, end - WEEK_HOURS
    rows = await fetch(
        store,
        "SELECT dataset_id, SUM(CASE WHEN hour >= ? THEN received ELSE 0 END),"
        " SUM(CASE WHEN hour < ? THEN received ELSE 0 END) FROM stats_events"
        " WHERE (hour >= ? AND hour < ?) OR (hour >= ? AND hour < ?) GROUP BY dataset_id",
        (start, week_end, start, end, week_start, week_end),
    )
    counts = {str(r[0]): (int(r[1] or 0), int(r[2] or 0)) for r in rows}
    window = f"the last {_plural(hours, 'hour')} ({_hour(start)}-{_hour(end)} UTC)"
    checks = []
    for dataset in datasets:
        current, before = counts.get(dataset.id, (0, 0))
        share = f"{current / before:.0%}" if before else "n/a"
        numbers = (
            f"{_plural(current, 'event')} received in {window},"
            f" {before} in the same hours a week earlier ({share}"
        )
        firing: bool | None
        if before >= settings.volume_min_events and current < settings.volume_drop_ratio * before:
            firing = True
            message = (
                f"Event volume dropped for {_dataset_label(dataset)}: {numbers},"
                f" alert below {settings.volume_drop_ratio:.0%})."
            )
        else:
            recovered = current > 0 and current >= settings.volume_drop_ratio * before
            firing = False if recovered else None
            message = f"Event volume recovered for {_dataset_label(dataset)}: {numbers})."
        checks.append(Check("volume_drop", f"dataset:{dataset.id}", firing, message))
    return checks


async def check_error_rate(
    store: Store, settings: AlertSettings, *, now: float, destinations: Sequence[Destination]
) -> list[Check]:
    hour = int(now // 3600)
    elapsed = (now - hour * 3600) / 3600
    rows = await fetch(
        store,
        "SELECT destination_id, hour, requests, failed_requests FROM stats_delivery"
        " WHERE hour >= ? AND hour <= ?",
        (hour - 1, hour),
    )
    window: dict[int, list[float]] = {}
    for destination_id, row_hour, requests, failed in rows:
        weight = 1.0 if int(row_hour) == hour else 1.0 - elapsed
        sums = window.setdefault(int(destination_id), [0.0, 0.0])
        sums[0] += float(requests) * weight
        sums[1] += float(failed) * weight
    checks = []
    for destination in destinations:
        requests, failed = window.get(destination.id, (0.0, 0.0))
        rate = failed / requests if requests > 0 else 0.0
        label = _destination_label(destination)
        numbers = (
            f"{round(failed)} of {_plural(round(requests), 'request')} failed in the last hour"
            f" ({rate:.0%}"
        )
        firing: bool | None
        if rate > settings.error_rate and requests >= settings.error_min_requests:
            firing = True
            message = (
                f"Delivery requests failing for {label}: {numbers},"
                f" alert above {settings.error_rate:.0%}). Failed events are retried;"
                " see `signalyard status` and the destination's attempts."
            )
        else:
            firing = False if requests <= 0 or rate <= settings.error_rate else None
            if round(requests):
                message = f"Delivery errors back to normal for {label}: {numbers})."
            else:
                message = f"Delivery errors stopped for {label}: no requests in the last hour."
        checks.append(Check("error_rate", f"destination:{destination.id}", firing, message))
    return checks


def check_paused(destinations: Sequence[Destination]) -> list[Check]:
    checks = []
    for destination in destinations:
        label = _destination_label(destination)
        if destination.state == "paused":
            reason = (destination.paused_reason or "no reason recorded").rstrip(". ")
            fix = (destination.paused_fix or "").strip()
            message = f"{_cap(label)} is paused: {reason}."
            if fix:
                message += f" Fix: {fix.rstrip('.')}."
            message += " Its events stay queued and are sent once it resumes."
            checks.append(
                Check("destination_paused", f"destination:{destination.id}", True, message)
            )
        else:
            message = f"{_cap(label)} is delivering again."
            checks.append(
                Check("destination_paused", f"destination:{destination.id}", False, message)
            )
    return checks


async def check_age_limit(
    store: Store, settings: AlertSettings, *, now: float, destinations: Sequence[Destination]
) -> list[Check]:
    # One query per distinct age limit among the destinations' kinds (a few at most).
    oldest: dict[int, tuple[float, int]] = {}
    for limit in sorted({_age_limit(d) for d in destinations}):
        near = now - (limit - settings.age_hours * 3600)
        rows = await fetch(
            store,
            "SELECT o.destination_id, MIN(e.event_time),"
            " SUM(CASE WHEN e.event_time <= ? THEN 1 ELSE 0 END)"
            " FROM outbox o JOIN events e ON e.pk = o.event_pk"
            " WHERE o.status = 'queued' GROUP BY o.destination_id",
            (near,),
        )
        ids = {d.id for d in destinations if _age_limit(d) == limit}
        for r in rows:
            if int(r[0]) in ids:
                oldest[int(r[0])] = (float(r[1]), int(r[2] or 0))
    checks = []
    for destination in destinations:
        label = _destination_label(destination)
        event_time, count = oldest.get(destination.id, (now, 0))
        limit_hours = _age_limit(destination) // 3600
        if count:
            age = (now - event_time) / 3600
            message = (
                f"Events near the age limit for {label}: {_plural(count, 'queued event')}"
                f" within {settings.age_hours:g} hours of the platform's {limit_hours}-hour"
                f" limit, the oldest {age:.0f} hours old. Events past the limit are refused"
                " (dead-lettered); is the destination paused or failing?"
            )
        else:
            message = f"No queued events near the age limit for {label}."
        checks.append(Check("age_limit", f"destination:{destination.id}", count > 0, message))
    return checks


# the engine ------------------------------------------------------------------------------


class AlertEngine:
    """Evaluates the rules, raises and resolves alerts in the store, notifies.

    ``evaluate`` is one pass; ``run`` evaluates every ``settings.interval_seconds`` until
    stopped (an interval of 0 or less: alerts are off and ``run`` returns at once). A rule
    whose query fails is skipped for that pass (its alerts keep their state); a notification
    that fails is retried at the next pass (see :class:`~signalyard.insights.notify.Notifier`).
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: AlertSettings,
        client: httpx.AsyncClient,
        *,
        notifier: Notifier | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.notifier = notifier or Notifier(channels_from_settings(settings, client), clock=clock)

    async def checks(self) -> dict[str, list[Check]]:
        """Every rule's verdicts, by kind; a kind whose rule failed is absent."""
        now = self.clock.now()
        out: dict[str, list[Check]] = {}
        try:
            datasets = await self.store.list_datasets()
            destinations = await self.store.list_destinations()
        except Exception:
            log.exception("Alert rules not evaluated: reading datasets and destinations failed.")
            return out
        out["destination_paused"] = check_paused(destinations)
        rules: list[tuple[str, Callable[[], Awaitable[list[Check]]]]] = [
            (
                "volume_drop",
                lambda: check_volume(self.store, self.settings, now=now, datasets=datasets),
            ),
            (
                "error_rate",
                lambda: check_error_rate(
                    self.store, self.settings, now=now, destinations=destinations
                ),
            ),
            (
                "age_limit",
                lambda: check_age_limit(
                    self.store, self.settings, now=now, destinations=destinations
                ),
            ),
        ]
        for kind, rule in rules:
            try:
                out[kind] = await rule()
            except Exception:
                log.exception("Alert rule %s failed; its alerts keep their state.", kind)
        return out

    async def evaluate(self) -> list[Notification]:
        """One pass: raise what fires, resolve what recovered, notify (this process only for
        the alerts it raised or resolved). The notifications made in this pass."""
        verdicts = await self.checks()
        now = self.clock.now()
        made: list[Notification] = []
        try:
            firing = {(a.kind, a.subject): a for a in await firing_alerts(self.store)}
        except Exception:
            log.exception("Alerts not evaluated: reading the firing alerts failed.")
            return made
        for kind, checks in verdicts.items():
            seen = set()
            for check in checks:
                seen.add(check.subject)
                key = (kind, check.subject)
                try:
                    if check.firing and key not in firing:
                        if await raise_alert(
                            self.store, kind, check.subject, check.message, now=now
                        ):
                            made.append(
                                Notification(kind, check.subject, "firing", check.message, now)
                            )
                    elif check.firing is False and key in firing:
                        alert = await resolve_alert(self.store, kind, check.subject, now=now)
                        if alert is not None:
                            message = (
                                f"{check.message} Firing for {_duration(now - alert.fired_at)}."
                            )
                            made.append(Notification(kind, check.subject, "resolved", message, now))
                except Exception:
                    log.exception("Alert %s %s: updating its state failed.", kind, check.subject)
            for (alert_kind, subject), previous in firing.items():
                if alert_kind != kind or subject in seen:
                    continue
                try:
                    gone = await resolve_alert(self.store, kind, subject, now=now)
                except Exception:
                    log.exception("Alert %s %s: resolving it failed.", kind, subject)
                    continue
                if gone is not None:
                    message = (
                        f"{_cap(subject.replace(':', ' ', 1))} no longer exists."
                        f" Firing for {_duration(now - previous.fired_at)}."
                    )
                    made.append(Notification(kind, subject, "resolved", message, now))
        for note in made:
            level = logging.WARNING if note.state == "firing" else logging.INFO
            log.log(level, "%s", note.text)
        try:
            await self.notifier.send(made)
        except Exception:
            log.exception("Sending alert notifications failed.")
        return made

    async def run(self, stop: asyncio.Event) -> None:
        """Evaluate now, then every ``interval_seconds``, until ``stop``."""
        interval = self.settings.interval_seconds
        if interval <= 0:
            return
        while not stop.is_set():
            try:
                await self.evaluate()
            except Exception:
                log.exception("Alert evaluation failed; will try again.")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
