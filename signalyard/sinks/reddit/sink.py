"""The Reddit Conversions API destination: one batch, one request, one outcome PER EVENT.

Reddit processes a request whole ("There were N invalid conversion events. None were
processed.") but names the events it refused (``invalid_events``, each echoing the event
with its ``conversion_id``), so the sink is ``per_event``: the refused events are
dead-lettered with Reddit's own message and the others sent again at once, without
bisecting. A refusal naming no event of the batch is one reason for every event, which the
worker bisects (:mod:`signalyard.sinks.reddit.classify`).

``send`` and ``healthcheck`` never raise for what Reddit or the network does: timeouts,
connection and protocol errors become :class:`~signalyard.outcome.Retry`. They raise only
for a caller's mistake (a batch over ``max_batch``). The token travels in the
``Authorization: Bearer`` header only; it is masked in every message this module returns,
and never in a repr.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import httpx
import orjson

from signalyard import outbound
from signalyard.clock import Clock
from signalyard.event import ServerEvent
from signalyard.outcome import DESTINATION, Attempt, Outcome, Paused, Rejected, Retry, SendResult
from signalyard.sinks.reddit import payload
from signalyard.sinks.reddit.classify import classify, scrub
from signalyard.sinks.reddit.config import MAX_AGE_SECONDS, MAX_BATCH, RedditConfig

__all__ = ["CHECK_EVENT", "RedditSink"]

_MASK = "**********"
CHECK_EVENT = "SignalyardCheck"
"""The custom event name of the pre-flight check (sent with ``test_mode: true``): never one
of Reddit's tracking types, so a check can never count as a conversion."""


class RedditSink:
    """Sends canonical events to ``POST {api_url}/api/v2.0/conversions/events/{account}``."""

    kind: str = "reddit"
    max_batch: int = MAX_BATCH
    max_age_seconds: int = MAX_AGE_SECONDS
    per_event: bool = True  # Reddit names each invalid event of a refused request

    def __init__(self, config: RedditConfig, client: httpx.AsyncClient, clock: Clock) -> None:
        self.config = config
        self._client = client
        self._clock = clock

    @classmethod
    def build(cls, config: object, client: httpx.AsyncClient, clock: Clock) -> RedditSink:
        """The registry's constructor: ``config`` must be a :class:`RedditConfig`."""
        if not isinstance(config, RedditConfig):
            raise TypeError(f"a reddit sink needs a RedditConfig, not {type(config).__name__}")
        return cls(config, client, clock)

    def __repr__(self) -> str:
        return (
            f"RedditSink(ad_account_id={self.config.ad_account_id!r},"
            f" url={self.config.events_url!r})"
        )

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        """POST one batch; event *i*'s outcome is at index *i*. An event received with a
        ``test_event_code`` (Meta's test tool) is sent with ``test_mode: true``, Reddit's
        equivalent, as is every event when the destination's ``test_mode`` is on.

        Waits at most ``timeout_seconds`` per phase of the request. Raises ``ValueError`` only
        for a batch over ``max_batch``; an empty batch sends nothing.
        """
        if len(events) > self.max_batch:
            raise ValueError(
                f"a Reddit batch holds at most {self.max_batch} events, not {len(events)}"
            )
        if not events:
            return SendResult(Attempt(None, message="empty batch: nothing sent"), ())
        data = [payload.build_event(e) for e in events]
        test_mode = self.config.test_mode or bool(test_event_code)
        try:
            body = payload.encode(data, test_mode=test_mode)
        except orjson.JSONEncodeError:
            return self._unencodable(data)
        return await self._post(body, [payload.conversion_id_of(e) for e in events])

    async def healthcheck(self) -> SendResult:
        """The pre-flight check: one event of the custom name ``SignalyardCheck`` with
        ``test_mode: true`` (Reddit checks it and counts nothing). Reddit documents no
        read-only call a conversion access token can make; HTTP 200 means the token and the
        ad account work. The answer's outcome is the check's."""
        now = self._clock.now()
        event: dict[str, Any] = {
            "event_at": payload.event_at(int(now)),
            "event_type": payload.event_type(CHECK_EVENT),
            "event_metadata": {"conversion_id": f"signalyard-check-{int(now)}"},
            "user": {"user_agent": "signalyard-healthcheck"},
        }
        conversion_id = event["event_metadata"]["conversion_id"]
        return await self._post(payload.encode([event], test_mode=True), [conversion_id])

    def _unencodable(self, data: list[dict[str, Any]]) -> SendResult:
        """An event JSON cannot carry: refuse it alone, the others are sent again."""
        outcomes: list[Outcome] = []
        for event in data:
            try:
                orjson.dumps(event)
            except orjson.JSONEncodeError as error:
                outcomes.append(Rejected(scrub(f"the event cannot be encoded as JSON: {error}")))
            else:
                outcomes.append(Retry("not sent: another event of the batch cannot be encoded"))
        reason = "an event of the batch cannot be encoded as JSON: nothing sent"
        return SendResult(Attempt(None, message=reason), tuple(outcomes))

    async def _post(self, body: bytes, conversion_ids: list[str | None]) -> SendResult:
        n_events = len(conversion_ids)
        token = self.config.access_token.reveal()
        timeout = self.config.timeout_seconds
        started = self._clock.monotonic()
        try:
            reply = await outbound.request(
                self._client,
                "POST",
                self.config.events_url,
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                timeout=timeout,
            )
        except httpx.TimeoutException as error:
            reason = scrub(f"no answer from Reddit within {timeout:g}s ({type(error).__name__})")
            return self._finish(started, Attempt(None, message=reason), (Retry(reason),) * n_events)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            reason = self._hide(
                f"cannot send to {self.config.api_url!r}: {type(error).__name__}: {error}"
            )
            paused = Paused(
                reason,
                "correct the destination's api_url with `signalyard destinations update"
                f" {DESTINATION} --option api_url=URL`, then resume it:"
                f" `signalyard destinations resume {DESTINATION}`",
            )
            return self._finish(started, Attempt(None, message=reason), (paused,) * n_events)
        except httpx.RequestError as error:  # connect, read, write, protocol, proxy, decoding
            reason = scrub(self._hide(f"no answer from Reddit: {type(error).__name__}: {error}"))
            return self._finish(started, Attempt(None, message=reason), (Retry(reason),) * n_events)
        content = reply.body
        if len(token) >= 4:  # before classify cuts messages: no partial secret left
            content = content.replace(token.encode(), _MASK.encode())
        attempt, outcomes = classify(
            reply.status,
            content,
            reply.headers,
            conversion_ids=conversion_ids,
            now=self._clock.now(),
        )
        return self._finish(started, attempt, outcomes)

    def _finish(
        self, started: float, attempt: Attempt, outcomes: tuple[Outcome, ...]
    ) -> SendResult:
        """Add the duration; mask the token once more (belt and braces)."""
        elapsed_ms = max(0.0, (self._clock.monotonic() - started) * 1000)
        attempt = replace(attempt, duration_ms=elapsed_ms)
        if attempt.message:
            attempt = replace(attempt, message=self._hide(attempt.message))
        hidden: list[Outcome] = []
        for outcome in outcomes:
            if isinstance(outcome, Retry | Rejected | Paused):
                outcome = replace(outcome, reason=self._hide(outcome.reason))
            hidden.append(outcome)
        return SendResult(attempt, tuple(hidden))

    def _hide(self, text: str) -> str:
        token = self.config.access_token.reveal()
        return text.replace(token, _MASK) if len(token) >= 4 else text
