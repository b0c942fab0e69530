"""The Google Ads destination through the Data Manager API: one batch, one ``events:ingest``
request, one outcome for all its events (the API is fail-fast: ``per_event = False``).

``send`` and ``healthcheck`` never raise for what Google or the network does. An access token
comes from :class:`~signalyard.sinks.google.auth.TokenSource` (cached, refreshed before it
expires); a token Google refuses (401) is dropped and the request sent once more with a new
one before the destination is paused. A batch holding an event Google would refuse for good
without looking (no identifier it can use) is refused before any request, so the worker
isolates that event without sending anything else twice. The worker's ``test_event_code``
has no Google equivalent and is ignored (the option ``validate_only`` is Google's test mode).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from signalyard import outbound
from signalyard.clock import Clock
from signalyard.event import ServerEvent
from signalyard.outcome import Attempt, Outcome, Rejected, SendResult
from signalyard.sinks.exchange import Peer, failure, finish, hide_bytes
from signalyard.sinks.google import payload
from signalyard.sinks.google.auth import TokenProblem, TokenSource
from signalyard.sinks.google.classify import classify, scrub
from signalyard.sinks.google.config import MAX_AGE_SECONDS, MAX_BATCH, GoogleConfig
from signalyard.sinks.spec import own_config

__all__ = ["HEALTHCHECK_TRANSACTION", "GoogleSink"]

HEALTHCHECK_TRANSACTION = "signalyard-healthcheck"
_HEALTHCHECK_EMAIL = hashlib.sha256(b"healthcheck@example.com").hexdigest()
"""The synthetic event's identifier (a reserved domain: nobody's address)."""


class GoogleSink:
    """Sends canonical events to ``POST {api_url}/v1/events:ingest``."""

    kind: str = "google"
    max_batch: int = MAX_BATCH
    max_age_seconds: int = MAX_AGE_SECONDS
    per_event: bool = False  # fail-fast: Google accepts or refuses a request whole

    def __init__(self, config: GoogleConfig, client: httpx.AsyncClient, clock: Clock) -> None:
        self.config = config
        self._client = client
        self._clock = clock
        self.tokens = TokenSource(
            config.credential,
            token_endpoint=config.token_endpoint,
            client=client,
            clock=clock,
            timeout=config.timeout_seconds,
        )

    @classmethod
    def build(cls, config: object, client: httpx.AsyncClient, clock: Clock) -> GoogleSink:
        """The registry's constructor: ``config`` must be a :class:`GoogleConfig`."""
        return cls(own_config("google", config, GoogleConfig), client, clock)

    def __repr__(self) -> str:
        return (
            f"GoogleSink(operating_account_id={self.config.operating_account_id!r},"
            f" conversion_action_id={self.config.conversion_action_id!r},"
            f" url={self.config.ingest_url!r})"
        )

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        """POST one batch. Raises ``ValueError`` only for a batch over ``max_batch``."""
        del test_event_code  # no Google equivalent; see the module's docstring
        if len(events) > self.max_batch:
            raise ValueError(
                f"a Google batch holds at most {self.max_batch} events, not {len(events)}"
            )
        if not events:
            return SendResult(Attempt(None, message="empty batch: nothing sent"), ())
        n_events = len(events)
        try:
            request = self._request(events, validate_only=self.config.validate_only)
            for i, event in enumerate(request["events"]):
                why = payload.unsendable(event)
                if why is not None:
                    # Refused whole by Google; refused here without a request, so the
                    # worker splits the batch until this event is alone.
                    reason = f"events[{i}]: {why}" if n_events > 1 else why
                    return SendResult(Attempt(None, message=reason), (Rejected(reason),) * n_events)
            body = orjson.dumps(request)
        except orjson.JSONEncodeError as error:
            reason = scrub(f"an event cannot be encoded as JSON: {error}")
            return SendResult(Attempt(None, message=reason), (Rejected(reason),) * n_events)
        attempt, outcome = await self._post(body)
        return SendResult(attempt, (outcome,) * n_events)

    async def healthcheck(self) -> SendResult:
        """A ``validateOnly`` request with one synthetic event: Google checks the credential,
        the destination and the request, and records nothing."""
        now = self._clock.now()
        synthetic: dict[str, Any] = {
            "event_name": "Purchase",
            "event_id": HEALTHCHECK_TRANSACTION,
            "event_time": int(now) - 60,
            "user_data": {"em": [_HEALTHCHECK_EMAIL]},
            "_identity": {"em.gmail": {}},
            "custom_data": {"currency": "USD", "value": 1.0},
        }
        body = orjson.dumps(self._request([synthetic], validate_only=True))
        attempt, outcome = await self._post(body)
        return SendResult(attempt, (outcome,))

    def _request(self, events: Sequence[ServerEvent], *, validate_only: bool) -> dict[str, Any]:
        c = self.config
        return payload.build_request(
            events,
            operating_account_id=c.operating_account_id,
            conversion_action_id=c.conversion_action_id,
            login_account_id=c.login_account_id,
            event_source=c.event_source,
            validate_only=validate_only,
        )

    async def _post(self, body: bytes) -> tuple[Attempt, Outcome]:
        started = self._clock.monotonic()
        for tries in (1, 2):
            try:
                token = await self.tokens.get()
            except TokenProblem as problem:
                outcome = problem.outcome
                message = getattr(outcome, "reason", None)
                return self._finish(started, Attempt(problem.status, message=message), outcome)
            attempt, outcome = await self._exchange(body, token)
            if attempt.http_status == 401 and tries == 1:
                self.tokens.invalidate(token)  # revoked or expired early: one fresh try
                continue
            return self._finish(started, attempt, outcome)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(self, body: bytes, token: str) -> tuple[Attempt, Outcome]:
        timeout = self.config.timeout_seconds
        url = self.config.ingest_url
        try:
            reply = await outbound.request(
                self._client,
                "POST",
                url,
                content=body,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                timeout=timeout,
            )
        except (httpx.RequestError, httpx.InvalidURL) as error:
            return failure(error, Peer("Google", url, timeout, tuple(self._secrets())))
        content = hide_bytes(reply.body, self._secrets())
        return classify(reply.status, content, reply.headers, now=self._clock.now())

    def _finish(
        self, started: float, attempt: Attempt, outcome: Outcome
    ) -> tuple[Attempt, Outcome]:
        result = finish(self._clock, started, attempt, (outcome,), self._secrets())
        return result.attempt, result.outcomes[0]

    def _secrets(self) -> list[str]:
        return [s for s in self.tokens.secrets() if len(s) >= 4]
