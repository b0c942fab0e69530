"""The TikTok Events API 2.0 destination: one batch, one request, one outcome PER EVENT.

TikTok answers each event of a request on its own (a partial success, code 20001, lists the
events it refused), so the sink is ``per_event``: the worker settles each row by its own
outcome and never sends a delivered event again.

``send`` and ``healthcheck`` never raise for what TikTok or the network does: timeouts,
connection and protocol errors become :class:`~signalyard.outcome.Retry`, answers are
classified by :mod:`signalyard.sinks.tiktok.classify`. They raise only for a caller's mistake
(a batch over ``max_batch``). The access token travels in the ``Access-Token`` header only;
it is masked in every message this module returns, and never in a repr.
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
from signalyard.sinks.spec import own_config
from signalyard.sinks.tiktok import payload
from signalyard.sinks.tiktok.classify import classify
from signalyard.sinks.tiktok.config import MAX_AGE_SECONDS, MAX_BATCH, TikTokConfig

__all__ = ["CHECK_EVENT", "CHECK_TEST_CODE", "TikTokSink"]

CHECK_EVENT = "SignalyardCheck"
"""The (custom) event name of the pre-flight check: never one of TikTok's standard events,
so a check can never count as a conversion."""
CHECK_TEST_CODE = "SIGNALYARD_CHECK"
"""The ``test_event_code`` of the pre-flight check when the destination sets none."""


class TikTokSink:
    """Sends canonical events to ``POST {api_url}/open_api/v1.3/event/track/``."""

    kind: str = "tiktok"
    max_batch: int = MAX_BATCH
    max_age_seconds: int = MAX_AGE_SECONDS
    per_event: bool = True  # TikTok answers each event on its own (20001 partial success)

    def __init__(self, config: TikTokConfig, client: httpx.AsyncClient, clock: Clock) -> None:
        self.config = config
        self._client = client
        self._clock = clock

    @classmethod
    def build(cls, config: object, client: httpx.AsyncClient, clock: Clock) -> TikTokSink:
        """The registry's constructor: ``config`` must be a :class:`TikTokConfig`."""
        return cls(own_config("tiktok", config, TikTokConfig), client, clock)

    def __repr__(self) -> str:
        return (
            f"TikTokSink(pixel_code={self.config.pixel_code!r},"
            f" url={payload.track_url(self.config)!r})"
        )

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        """POST one batch (``test_event_code`` overrides the config's); event *i*'s outcome
        is at index *i*.

        Waits at most ``timeout_seconds`` per phase of the request. Raises ``ValueError`` only
        for a batch over ``max_batch``; an empty batch sends nothing.
        """
        checked = batch_check(events, self.max_batch, "TikTok")
        if checked is not None:
            return checked
        data = [payload.build_event(e) for e in events]
        code = test_event_code or self.config.test_event_code
        try:
            body = self._encode(data, code)
        except orjson.JSONEncodeError:
            return unencodable(data)
        return await self._post(body, len(events))

    async def healthcheck(self) -> SendResult:
        """The pre-flight check: one test event (``test_event_code``: the destination's, or
        ``SIGNALYARD_CHECK``) of the custom name ``SignalyardCheck``. TikTok documents no
        read-only call an Events API token can make; code 0 means the token and the pixel
        work. The answer's outcome is the check's."""
        now = self._clock.now()
        event: dict[str, Any] = {
            "event": CHECK_EVENT,
            "event_time": int(now),
            "event_id": f"signalyard-check-{int(now)}",
            "user": {"user_agent": "signalyard-healthcheck"},
        }
        if self.config.event_source == "web":
            event["page"] = {"url": "https://signalyard.invalid/healthcheck"}
        body = self._encode([event], self.config.test_event_code or CHECK_TEST_CODE)
        return await self._post(body, 1)

    def _encode(self, data: list[dict[str, Any]], test_event_code: str | None) -> bytes:
        return payload.encode(
            data,
            event_source=self.config.event_source,
            event_source_id=self.config.pixel_code,
            test_event_code=test_event_code,
            partner_name=self.config.partner_name,
        )

    async def _post(self, body: bytes, n_events: int) -> SendResult:
        token = self.config.access_token.reveal()
        return await exchange(
            self._client,
            self._clock,
            self._peer(),
            "POST",
            payload.track_url(self.config),
            content=body,
            headers={"Access-Token": token, "Content-Type": "application/json"},
            n_events=n_events,
            classify=lambda status, content, headers: classify(
                status, content, headers, n_events=n_events, now=self._clock.now()
            ),
        )

    def _peer(self) -> Peer:
        c = self.config
        return Peer("TikTok", c.api_url, c.timeout_seconds, (c.access_token.reveal(),))
