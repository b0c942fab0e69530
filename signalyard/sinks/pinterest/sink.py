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
from dataclasses import replace
from typing import Any

import httpx
import orjson

from signalyard import outbound
from signalyard.clock import Clock
from signalyard.event import ServerEvent
from signalyard.outcome import DESTINATION, Attempt, Outcome, Paused, Rejected, Retry, SendResult
from signalyard.sinks.pinterest import payload
from signalyard.sinks.pinterest.classify import classify, scrub
from signalyard.sinks.pinterest.config import MAX_AGE_SECONDS, MAX_BATCH, PinterestConfig

__all__ = ["CHECK_ID_PREFIX", "PinterestSink"]

_MASK = "**********"
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
        if not isinstance(config, PinterestConfig):
            raise TypeError(
                f"a pinterest sink needs a PinterestConfig, not {type(config).__name__}"
            )
        return cls(config, client, clock)

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
        if len(events) > self.max_batch:
            raise ValueError(
                f"a Pinterest batch holds at most {self.max_batch} events, not {len(events)}"
            )
        if not events:
            return SendResult(Attempt(None, message="empty batch: nothing sent"), ())
        data = [payload.build_event(e) for e in events]
        try:
            body = payload.encode(data)
        except orjson.JSONEncodeError:
            return self._unencodable(data)
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

    async def _post(self, body: bytes, n_events: int, *, test: bool) -> SendResult:
        token = self.config.access_token.reveal()
        timeout = self.config.timeout_seconds
        started = self._clock.monotonic()
        try:
            reply = await outbound.request(
                self._client,
                "POST",
                payload.events_url(self.config, test=test),
                content=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
                timeout=timeout,
            )
        except httpx.TimeoutException as error:
            reason = scrub(f"no answer from Pinterest within {timeout:g}s ({type(error).__name__})")
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
            reason = scrub(self._hide(f"no answer from Pinterest: {type(error).__name__}: {error}"))
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
