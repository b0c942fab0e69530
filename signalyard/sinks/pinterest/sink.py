"""The Pinterest Conversions API destination: one batch, one request, one outcome PER EVENT.

Pinterest answers each event of a request on its own (``events[i].status``), so the sink is
``per_event``: the worker settles each row by its own outcome and never sends a delivered
event again.

``send`` and ``healthcheck`` never raise for what Pinterest or the network does: timeouts,
connection and protocol errors become :class:`~signalyard.outcome.Retry`, answers are
classified by :mod:`signalyard.sinks.pinterest.classify`. They raise only for a caller's
mistake (a batch over ``max_batch``). The conversion token travels in the ``Authorization``
header only; it is masked in every message this module returns, and never in a repr.

Test mode: the option ``test``, or a batch whose events carry a ``test_event_code`` (Meta's
test events), is sent with ``?test=true``: Pinterest checks the events and answers as usual
but records nothing.
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
from signalyard.sinks.pinterest import payload
from signalyard.sinks.pinterest.classify import classify
from signalyard.sinks.pinterest.config import MAX_AGE_SECONDS, MAX_BATCH, PinterestConfig
from signalyard.sinks.spec import own_config

__all__ = ["CHECK_ID_PREFIX", "PinterestSink"]

CHECK_ID_PREFIX = "signalyard-check-"
"""The ``event_id`` prefix of the pre-flight check's event (a ``custom`` event, sent with
``?test=true``: never recorded by Pinterest)."""
_CHECK_IP = "192.0.2.1"
"""An address reserved for documentation (RFC 5737): the check names no one."""


class PinterestSink:
    """Sends canonical events to ``POST {api_url}/v5/ad_accounts/{id}/events``."""

    kind: str = "pinterest"
    max_batch: int = MAX_BATCH
    max_age_seconds: int = MAX_AGE_SECONDS
    per_event: bool = True  # Pinterest answers each event on its own (events[i].status)

    def __init__(self, config: PinterestConfig, client: httpx.AsyncClient, clock: Clock) -> None:
        self.config = config
        self._client = client
        self._clock = clock

    @classmethod
    def build(cls, config: object, client: httpx.AsyncClient, clock: Clock) -> PinterestSink:
        """The registry's constructor: ``config`` must be a :class:`PinterestConfig`."""
        return cls(own_config("pinterest", config, PinterestConfig), client, clock)

    def __repr__(self) -> str:
        return (
            f"PinterestSink(ad_account_id={self.config.ad_account_id!r},"
            f" url={payload.events_url(self.config, test=self.config.test)!r})"
        )

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        """POST one batch (in test mode when the config says ``test`` or the events carry a
        ``test_event_code``); event *i*'s outcome is at index *i*.

        Waits at most ``timeout_seconds`` per phase of the request. Raises ``ValueError`` only
        for a batch over ``max_batch``; an empty batch sends nothing.
        """
        checked = batch_check(events, self.max_batch, "Pinterest")
        if checked is not None:
            return checked
        data = [payload.build_event(e) for e in events]
        try:
            body = payload.encode(data)
        except orjson.JSONEncodeError:
            return unencodable(data)
        test = self.config.test or bool(test_event_code)
        return await self._post(body, len(events), test=test)

    async def healthcheck(self) -> SendResult:
        """The pre-flight check: one ``custom`` event sent with ``?test=true`` (Pinterest
        checks it and records nothing). A ``processed`` answer means the token and the ad
        account work; the answer's outcome is the check's."""
        now = int(self._clock.now())
        event: dict[str, Any] = {
            "event_name": payload.CUSTOM,
            "action_source": "web",
            "event_time": now,
            "event_id": f"{CHECK_ID_PREFIX}{now}",
            "event_source_url": "https://signalyard.invalid/healthcheck",
            "user_data": {
                "client_ip_address": _CHECK_IP,
                "client_user_agent": "signalyard-healthcheck",
            },
        }
        return await self._post(payload.encode([event]), 1, test=True)

    async def _post(self, body: bytes, n_events: int, *, test: bool) -> SendResult:
        token = self.config.access_token.reveal()
        return await exchange(
            self._client,
            self._clock,
            self._peer(),
            "POST",
            payload.events_url(self.config, test=test),
            content=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            n_events=n_events,
            classify=lambda status, content, headers: classify(
                status, content, headers, n_events=n_events, now=self._clock.now()
            ),
        )

    def _peer(self) -> Peer:
        c = self.config
        return Peer("Pinterest", c.api_url, c.timeout_seconds, (c.access_token.reveal(),))
