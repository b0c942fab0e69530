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
from dataclasses import replace
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import orjson

from signalyard import outbound
from signalyard.clock import Clock
from signalyard.event import ServerEvent
from signalyard.outcome import DESTINATION, Attempt, Outcome, Paused, Rejected, Retry, SendResult
from signalyard.sinks.snapchat import payload
from signalyard.sinks.snapchat.classify import classify, scrub
from signalyard.sinks.snapchat.config import MAX_AGE_SECONDS, MAX_BATCH, SnapchatConfig

__all__ = ["CHECK_EVENT", "SnapchatSink"]

_MASK = "**********"
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
        if not isinstance(config, SnapchatConfig):
            raise TypeError(f"a snapchat sink needs a SnapchatConfig, not {type(config).__name__}")
        return cls(config, client, clock)

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
        if len(events) > self.max_batch:
            raise ValueError(
                f"a Snapchat batch holds at most {self.max_batch} events, not {len(events)}"
            )
        if not events:
            return SendResult(Attempt(None, message="empty batch: nothing sent"), ())
        data = [payload.build_event(e, integration=self.config.integration) for e in events]
        try:
            body = payload.encode(data)
        except orjson.JSONEncodeError:
            return self._unencodable(data)
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

    async def _post(self, body: bytes, n_events: int, *, validate: bool) -> SendResult:
        token = self.config.access_token.reveal()
        timeout = self.config.timeout_seconds
        started = self._clock.monotonic()
        try:
            reply = await outbound.request(
                self._client,
                "POST",
                payload.events_url(self.config, validate=validate),
                content=body,
                params={"access_token": token},
                headers={"Content-Type": "application/json"},
                timeout=timeout,
            )
        except httpx.TimeoutException as error:
            reason = scrub(f"no answer from Snap within {timeout:g}s ({type(error).__name__})")
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
            reason = scrub(self._hide(f"no answer from Snap: {type(error).__name__}: {error}"))
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
        """``text`` without the token, as it is and as a URL query carries it."""
        token = self.config.access_token.reveal()
        if len(token) < 4:
            return text
        for form in (token, quote(token, safe=""), quote_plus(token)):
            text = text.replace(form, _MASK)
        return text
