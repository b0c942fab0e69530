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
from typing import Any

import httpx
import orjson

from signalyard.clock import Clock
from signalyard.event import ServerEvent
from signalyard.outcome import SendResult
from signalyard.sinks.exchange import Peer, batch_check, exchange, unencodable
from signalyard.sinks.reddit import payload
from signalyard.sinks.reddit.classify import classify
from signalyard.sinks.reddit.config import MAX_AGE_SECONDS, MAX_BATCH, RedditConfig
from signalyard.sinks.spec import own_config

__all__ = ["CHECK_EVENT", "RedditSink"]

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
        return cls(own_config("reddit", config, RedditConfig), client, clock)

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
        checked = batch_check(events, self.max_batch, "Reddit")
        if checked is not None:
            return checked
        data = [payload.build_event(e) for e in events]
        test_mode = self.config.test_mode or bool(test_event_code)
        try:
            body = payload.encode(data, test_mode=test_mode)
        except orjson.JSONEncodeError:
            return unencodable(data)
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

    async def _post(self, body: bytes, conversion_ids: list[str | None]) -> SendResult:
        token = self.config.access_token.reveal()
        return await exchange(
            self._client,
            self._clock,
            self._peer(),
            "POST",
            self.config.events_url,
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            n_events=len(conversion_ids),
            classify=lambda status, content, headers: classify(
                status, content, headers, conversion_ids=conversion_ids, now=self._clock.now()
            ),
        )

    def _peer(self) -> Peer:
        c = self.config
        return Peer("Reddit", c.api_url, c.timeout_seconds, (c.access_token.reveal(),))
