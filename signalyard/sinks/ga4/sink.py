"""The GA4 destination through the Measurement Protocol: one request per event, one outcome
per event (``per_event = True``).

``client_id``, ``user_data``, ``consent`` and ``timestamp_micros`` belong to a GA4 request,
not to an event, so a request speaks for one user at one time; the worker's batches mix users.
The sink therefore sends each event of a batch in its own request, in order, and answers each
event by its own request: a delivered event is never sent again (GA4 does not deduplicate),
an invalid one is dead-lettered alone. After a request that is retried (5xx, 429, network) or
pauses the destination, the rest of the batch is not sent and gets the same outcome.

``/mp/collect`` answers 2xx to everything and silently drops what breaks GA4's rules, so a
request is checked before it leaves: first by GA4's documented rules
(:mod:`signalyard.sinks.ga4.rules`: an event that breaks one is dead-lettered, naming it,
without a request), then, with ``prevalidate`` (the default), by GA4's validation server
(``/debug/mp/collect``), and only then sent. ``validate_only`` sends to the validation server
alone (the destination's test mode). The worker's ``test_event_code`` has no GA4 equivalent
and is ignored.

GA4 takes the API secret in the query string: the sink passes it as a query parameter, never
shows a URL that carries it, and masks it in every message. ``send`` and ``healthcheck`` never
raise for what GA4 or the network does.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import httpx
import orjson

from signalyard import outbound
from signalyard.clock import Clock
from signalyard.event import ServerEvent
from signalyard.outcome import (
    Attempt,
    Delivered,
    Outcome,
    Paused,
    Rejected,
    Retry,
    SendResult,
)
from signalyard.sinks.exchange import Peer, batch_check, failure, finish, hide_bytes
from signalyard.sinks.ga4 import payload
from signalyard.sinks.ga4.classify import INVALID, classify_collect, classify_debug, scrub
from signalyard.sinks.ga4.config import MAX_AGE_SECONDS, MAX_BATCH, MAX_BODY_BYTES, GA4Config
from signalyard.sinks.ga4.rules import request_problem
from signalyard.sinks.spec import own_config

__all__ = ["CHECK_CLIENT_ID", "CHECK_EVENT", "NO_CLIENT_ID", "GA4Sink", "random_client_id"]

CHECK_EVENT = "signalyard_check"
"""The (custom) event of the pre-flight check, sent to the validation server only."""
CHECK_CLIENT_ID = "1000000000.1700000000"
NO_CLIENT_ID = (
    "no client_id: GA4 requires one for a web stream and the event carries no _ga cookie;"
    " install the browser script with the Google tag (it passes the _ga cookie as"
    " browser_ids.ga), or set the option missing_client_id=generate"
)


def random_client_id(event_time: int) -> str:
    """A client id made for one event alone, in GA's ``<random>.<seconds>`` form: random, so
    derived from nothing about the person."""
    return f"{1_000_000_000 + secrets.randbelow(1_147_483_647)}.{event_time}"


IN_FLIGHT = 10
"""Requests of one batch in flight at once: GA4 takes one user per request, so a batch is as
many requests as events, and one after the other they would take a batch's worth of round
trips."""


class GA4Sink:
    """Sends canonical events to ``POST {api_url}/mp/collect``."""

    kind: str = "ga4"
    max_batch: int = MAX_BATCH
    max_age_seconds: int = MAX_AGE_SECONDS
    per_event: bool = True  # one request per event: each event has its own outcome

    def __init__(self, config: GA4Config, client: httpx.AsyncClient, clock: Clock) -> None:
        self.config = config
        self._client = client
        self._clock = clock
        self.new_client_id: Callable[[int], str] = random_client_id

    @classmethod
    def build(cls, config: object, client: httpx.AsyncClient, clock: Clock) -> GA4Sink:
        """The registry's constructor: ``config`` must be a :class:`GA4Config`."""
        return cls(own_config("ga4", config, GA4Config), client, clock)

    def __repr__(self) -> str:
        return (
            f"GA4Sink(measurement_id={self.config.measurement_id!r},"
            f" url={self.config.collect_url!r})"
        )

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        """Send each event of a batch in its own request, up to :data:`IN_FLIGHT` at once;
        event *i*'s outcome is at index *i*. Once a request is retried or pauses the
        destination, the events not yet started are not sent and get the same outcome (those
        already in flight finish). Raises ``ValueError`` only for a batch over
        ``max_batch``."""
        del test_event_code  # no GA4 equivalent; see the module's docstring
        checked = batch_check(events, self.max_batch, "GA4")
        if checked is not None:
            return checked
        started = self._clock.monotonic()
        outcomes: list[Outcome | None] = [None] * len(events)
        attempts: list[Attempt | None] = [None] * len(events)
        stop: list[Outcome] = []
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(i: int, event: ServerEvent) -> None:
            async with gate:
                if stop:
                    outcomes[i] = stop[0]
                    return
                prepared = self._prepare(event)
                if isinstance(prepared, str):
                    reason = scrub(f"not sent: GA4 would drop it silently: {prepared}")
                    attempts[i] = Attempt(None, message=reason)
                    outcomes[i] = Rejected(reason, INVALID)
                    return
                attempts[i], outcome = await self._deliver(prepared)
                outcomes[i] = outcome
                if isinstance(outcome, Retry | Paused) and not stop:
                    stop.append(outcome)

        await asyncio.gather(*(one(i, e) for i, e in enumerate(events)))
        made = [a for a in attempts if a is not None]
        settled = [o if o is not None else stop[0] for o in outcomes]
        return self._finish(started, _summary(made) if made else Attempt(None), settled)

    async def _deliver(self, body: bytes) -> tuple[Attempt, Outcome]:
        """One event's request: to the validation server first (``prevalidate``, or only
        with ``validate_only``), then to ``/mp/collect``."""
        if self.config.validate_only or self.config.prevalidate:
            attempt, outcome = await self._post(self.config.debug_url, body, debug=True)
            if self.config.validate_only or not isinstance(outcome, Delivered):
                return attempt, outcome
        return await self._post(self.config.collect_url, body, debug=False)

    async def healthcheck(self) -> SendResult:
        """One synthetic event to GA4's validation server: it checks the measurement id and
        the request and records nothing. It does not check the API secret (GA4 offers no way
        to: a wrong one is silently ignored by ``/mp/collect``; look at Realtime after the
        first live event)."""
        now = int(self._clock.now())
        request: dict[str, Any] = {
            "client_id": CHECK_CLIENT_ID,
            "timestamp_micros": now * 1_000_000,
            "events": [{"name": CHECK_EVENT, "params": {"event_id": f"signalyard-check-{now}"}}],
        }
        started = self._clock.monotonic()
        attempt, outcome = await self._post(self.config.debug_url, orjson.dumps(request), True)
        return self._finish(started, attempt, [outcome])

    def _prepare(self, event: ServerEvent) -> bytes | str:
        """The body of one event's request, or why GA4 would drop it."""
        client_id = payload.client_id_of(event)
        if client_id is None:
            if self.config.missing_client_id == "reject":
                return NO_CLIENT_ID
            event_time = event.get("event_time")
            seconds = int(event_time) if isinstance(event_time, int | float) else 0
            client_id = self.new_client_id(seconds or int(self._clock.now()))
        request = payload.build_request([event], client_id=client_id)
        problem = request_problem(request, now_micros=int(self._clock.now() * 1_000_000))
        if problem is not None:
            return problem
        try:
            body = payload.encode(request)
        except orjson.JSONEncodeError as error:
            return f"the event cannot be encoded as JSON: {error}"
        if len(body) > MAX_BODY_BYTES:
            return f"the request is {len(body)} bytes; GA4 takes at most {MAX_BODY_BYTES}"
        return body

    async def _post(self, url: str, body: bytes, debug: bool) -> tuple[Attempt, Outcome]:
        c = self.config
        params = {"measurement_id": c.measurement_id, "api_secret": c.api_secret.reveal()}
        where = "GA4's validation server" if debug else "GA4"
        try:
            reply = await outbound.request(
                self._client,
                "POST",
                url,
                content=body,
                params=params,
                headers={"Content-Type": "application/json"},
                timeout=c.timeout_seconds,
            )
        except (httpx.RequestError, httpx.InvalidURL) as error:
            return failure(error, Peer(where, c.api_url, c.timeout_seconds, self._secrets()))
        content = hide_bytes(reply.body, self._secrets())
        now = self._clock.now()
        if debug:
            return classify_debug(reply.status, content, reply.headers, now=now)
        return classify_collect(reply.status, content, reply.headers, now=now)

    def _finish(self, started: float, attempt: Attempt, outcomes: list[Outcome]) -> SendResult:
        return finish(self._clock, started, attempt, outcomes, self._secrets())

    def _secrets(self) -> tuple[str, ...]:
        return (self.config.api_secret.reveal(),)


def _summary(attempts: list[Attempt]) -> Attempt:
    """The attempt recorded for a batch: its first failed request's (else its last), with
    how many requests were made."""
    failed = [a for a in attempts if a.http_status is None or a.message]
    chosen = failed[0] if failed else attempts[-1]
    if len(attempts) == 1:
        return chosen
    sent = sum(1 for a in attempts if a.http_status is not None)
    note = f"{sent} request(s), one per event"
    return replace(chosen, message=f"{note}; {chosen.message}" if chosen.message else note)
