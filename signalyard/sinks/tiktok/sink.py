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
from dataclasses import replace
from typing import Any

import httpx
import orjson

from signalyard import outbound
from signalyard.clock import Clock
from signalyard.event import ServerEvent
from signalyard.outcome import DESTINATION, Attempt, Outcome, Paused, Rejected, Retry, SendResult
from signalyard.sinks.tiktok import payload
from signalyard.sinks.tiktok.classify import classify, scrub
from signalyard.sinks.tiktok.config import MAX_AGE_SECONDS, MAX_BATCH, TikTokConfig

__all__ = ["CHECK_EVENT", "CHECK_TEST_CODE", "TikTokSink"]

_MASK = "**********"
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
        if not isinstance(config, TikTokConfig):
            raise TypeError(f"a tiktok sink needs a TikTokConfig, not {type(config).__name__}")
        return cls(config, client, clock)

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
        if len(events) > self.max_batch:
            raise ValueError(
                f"a TikTok batch holds at most {self.max_batch} events, not {len(events)}"
            )
        if not events:
            return SendResult(Attempt(None, message="empty batch: nothing sent"), ())
        data = [payload.build_event(e) for e in events]
        code = test_event_code or self.config.test_event_code
        try:
            body = self._encode(data, code)
        except orjson.JSONEncodeError:
            return self._unencodable(data)
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

    async def _post(self, body: bytes, n_events: int) -> SendResult:
        token = self.config.access_token.reveal()
        timeout = self.config.timeout_seconds
        started = self._clock.monotonic()
        try:
            reply = await outbound.request(
                self._client,
                "POST",
                payload.track_url(self.config),
                content=body,
                headers={"Access-Token": token, "Content-Type": "application/json"},
                timeout=timeout,
            )
        except httpx.TimeoutException as error:
            reason = scrub(f"no answer from TikTok within {timeout:g}s ({type(error).__name__})")
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
            reason = scrub(self._hide(f"no answer from TikTok: {type(error).__name__}: {error}"))
            return self._finish(started, Attempt(None, message=reason), (Retry(reason),) * n_events)
        content = reply.body
        if len(token) >= 4:  # before classify cuts messages: no partial secret left
            content = content.replace(token.encode(), _MASK.encode())
        attempt, outcomes = classify(
            reply.status, content, reply.headers, n_events=n_events, now=self._clock.now()
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
