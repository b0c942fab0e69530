"""The Snapchat Conversions API v3 destination: one batch, one request, one outcome PER EVENT.

Snap answers a request whole but names the event it refused (``event`` in an ``INVALID``
answer), and its test facility (``/events/validate``) answers each event with its own log,
so the sink is ``per_event``: the named event is dead-lettered alone and the others are sent
again at once without it; nothing delivered is sent again (see :mod:`.classify`).

``send`` and ``healthcheck`` never raise for what Snap or the network does: timeouts,
connection and protocol errors become :class:`~signalyard.outcome.Retry`, answers are
classified by :mod:`signalyard.sinks.snapchat.classify`. They raise only for a caller's
mistake (a batch over ``max_batch``). Snap takes the token in the ``access_token`` query
parameter only (Snap's OpenAPI): it is passed to httpx as a parameter, never written into a
URL this module keeps, and masked in every message this module returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from signalyard.clock import Clock
from signalyard.event import ServerEvent
from signalyard.outcome import SendResult
from signalyard.sinks.exchange import Peer, batch_check, exchange, query_forms, unencodable
from signalyard.sinks.snapchat import payload
from signalyard.sinks.snapchat.classify import classify
from signalyard.sinks.snapchat.config import MAX_AGE_SECONDS, MAX_BATCH, SnapchatConfig
from signalyard.sinks.spec import own_config

__all__ = ["CHECK_EVENT", "SnapchatSink"]

CHECK_EVENT = "PAGE_VIEW"
"""The event of the pre-flight check, sent to ``/events/validate`` only (Snap's test
facility, which writes no production data)."""


class SnapchatSink:
    """Sends canonical events to ``POST {api_url}/v3/{pixel_id}/events``."""

    kind: str = "snapchat"
    max_batch: int = MAX_BATCH
    max_age_seconds: int = MAX_AGE_SECONDS
    per_event: bool = True  # Snap names the refused event; validate answers per event

    def __init__(self, config: SnapchatConfig, client: httpx.AsyncClient, clock: Clock) -> None:
        self.config = config
        self._client = client
        self._clock = clock

    @classmethod
    def build(cls, config: object, client: httpx.AsyncClient, clock: Clock) -> SnapchatSink:
        """The registry's constructor: ``config`` must be a :class:`SnapchatConfig`."""
        return cls(own_config("snapchat", config, SnapchatConfig), client, clock)

    def __repr__(self) -> str:
        url = payload.events_url(self.config, validate=self.config.validate_only)
        return f"SnapchatSink(pixel_id={self.config.pixel_id!r}, url={url!r})"

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        """POST one batch; event *i*'s outcome is at index *i*. A ``test_event_code`` (Meta's
        word for a test event) sends the batch to Snap's test facility, ``/events/validate``,
        as the option ``validate_only`` does.

        Waits at most ``timeout_seconds`` per phase of the request. Raises ``ValueError`` only
        for a batch over ``max_batch``; an empty batch sends nothing.
        """
        checked = batch_check(events, self.max_batch, "Snapchat")
        if checked is not None:
            return checked
        data = [payload.build_event(e, integration=self.config.integration) for e in events]
        try:
            body = payload.encode(data)
        except orjson.JSONEncodeError:
            return unencodable(data)
        validate = self.config.validate_only or bool(test_event_code)
        return await self._post(body, len(events), validate=validate)

    async def healthcheck(self) -> SendResult:
        """The pre-flight check: one ``PAGE_VIEW`` to ``/events/validate``, Snap's test
        facility: it checks the token, the pixel and the event without counting it. The
        answer's outcome (the event's log) is the check's."""
        now = self._clock.now()
        event: dict[str, Any] = {
            "event_name": CHECK_EVENT,
            "event_time": int(now),
            "event_id": f"signalyard-check-{int(now)}",
            "action_source": "WEB",
            "event_source_url": "https://signalyard.invalid/healthcheck",
            "user_data": {
                "client_ip_address": "192.0.2.1",  # TEST-NET-1: names no one
                "client_user_agent": "signalyard-healthcheck",
            },
        }
        return await self._post(payload.encode([event]), 1, validate=True)

    async def _post(self, body: bytes, n_events: int, *, validate: bool) -> SendResult:
        return await exchange(
            self._client,
            self._clock,
            self._peer(),
            "POST",
            payload.events_url(self.config, validate=validate),
            content=body,
            params={"access_token": self.config.access_token.reveal()},
            headers={"Content-Type": "application/json"},
            n_events=n_events,
            classify=lambda status, content, headers: classify(
                status, content, headers, n_events=n_events, now=self._clock.now()
            ),
        )

    def _peer(self) -> Peer:
        """The token is masked as it is and as a URL query carries it."""
        c = self.config
        return Peer("Snap", c.api_url, c.timeout_seconds, query_forms(c.access_token.reveal()))
