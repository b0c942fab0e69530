"""The Meta Conversions API destination: one batch, one request, one outcome for all its events.

``send`` and ``healthcheck`` never raise for what Meta or the network does: timeouts,
connection and protocol errors become :class:`~signalyard.outcome.Retry`, error answers are
classified by :mod:`signalyard.sinks.meta.classify`. They raise only for a caller's mistake
(a batch over ``max_batch``). The access token travels in the JSON body of ``send`` and in
the query string of ``healthcheck`` (Graph's documented placements); it is masked in every
message this module returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import httpx
import orjson

from signalyard.clock import Clock
from signalyard.event import ServerEvent
from signalyard.outcome import Attempt, Outcome, Rejected, SendResult
from signalyard.sinks.exchange import Peer, exchange
from signalyard.sinks.meta import payload
from signalyard.sinks.meta.classify import classify, classify_healthcheck, scrub
from signalyard.sinks.meta.config import MAX_AGE_SECONDS, MAX_BATCH, MetaConfig
from signalyard.sinks.spec import own_config

__all__ = ["MetaSink"]

_Classifier = Callable[[int | None, bytes, Mapping[str, str]], tuple[Attempt, Outcome]]


class MetaSink:
    """Sends canonical events to ``POST {graph_url}/{api_version}/{pixel_id}/events``."""

    kind: str = "meta"
    max_batch: int = MAX_BATCH
    max_age_seconds: int = MAX_AGE_SECONDS
    per_event: bool = False  # Meta accepts or refuses a batch whole

    def __init__(self, config: MetaConfig, client: httpx.AsyncClient, clock: Clock) -> None:
        self.config = config
        self._client = client
        self._clock = clock

    @classmethod
    def build(cls, config: object, client: httpx.AsyncClient, clock: Clock) -> MetaSink:
        """The registry's constructor: ``config`` must be a :class:`MetaConfig`."""
        return cls(own_config("meta", config, MetaConfig), client, clock)

    def __repr__(self) -> str:
        return (
            f"MetaSink(pixel_id={self.config.pixel_id!r}, url={payload.events_url(self.config)!r})"
        )

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        """POST one batch (``test_event_code`` overrides the config's).

        Waits at most ``timeout_seconds`` per phase of the request. Raises ``ValueError`` only
        for a batch over ``max_batch``; an empty batch sends nothing.
        """
        if len(events) > self.max_batch:
            raise ValueError(
                f"a Meta batch holds at most {self.max_batch} events, not {len(events)}"
            )
        if not events:
            return SendResult(Attempt(None, message="empty batch: nothing sent"), ())
        token = self.config.access_token.reveal()
        try:
            body = payload.build_body(
                events,
                access_token=token,
                appsecret_proof=self._proof(token),
                test_event_code=test_event_code or self.config.test_event_code,
                partner_agent=self.config.partner_agent,
            )
        except orjson.JSONEncodeError as error:
            # A value JSON cannot carry: refuse the batch so the worker isolates the event.
            reason = scrub(f"an event cannot be encoded as JSON: {error}")
            return SendResult(Attempt(None, message=reason), (Rejected(reason),) * len(events))
        n_events = len(events)
        attempt, outcome = await self._exchange(
            "POST",
            payload.events_url(self.config),
            content=body,
            headers={"Content-Type": "application/json"},
            classifier=lambda status, content, headers: classify(
                status, content, headers, n_events=n_events, now=self._clock.now()
            ),
        )
        return SendResult(attempt, (outcome,) * n_events)

    async def healthcheck(self) -> SendResult:
        """``GET {graph_url}/{api_version}/{pixel_id}?fields=id``: no side effect at Meta."""
        token = self.config.access_token.reveal()
        params = {"fields": "id", "access_token": token}
        proof = self._proof(token)
        if proof:
            params["appsecret_proof"] = proof
        attempt, outcome = await self._exchange(
            "GET",
            payload.object_url(self.config),
            params=params,
            classifier=lambda status, content, headers: classify_healthcheck(
                status, content, headers, now=self._clock.now()
            ),
        )
        return SendResult(attempt, (outcome,))

    def _proof(self, token: str) -> str | None:
        secret = self.config.app_secret
        return payload.appsecret_proof(token, secret.reveal()) if secret else None

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        classifier: _Classifier,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Attempt, Outcome]:
        result = await exchange(
            self._client,
            self._clock,
            self._peer(),
            method,
            url,
            n_events=1,
            classify=lambda status, body, answer_headers: _alone(
                classifier(status, body, answer_headers)
            ),
            content=content,
            params=params,
            headers=headers,
        )
        return result.attempt, result.outcomes[0]

    def _peer(self) -> Peer:
        c = self.config
        return Peer("Meta", c.graph_url, c.timeout_seconds, self._secrets(), "graph_url")

    def _secrets(self) -> tuple[str, ...]:
        secrets = [self.config.access_token.reveal()]
        if self.config.app_secret:
            secrets.append(self.config.app_secret.reveal())
        return tuple(secret for secret in secrets if len(secret) >= 4)


def _alone(answer: tuple[Attempt, Outcome]) -> tuple[Attempt, tuple[Outcome, ...]]:
    return answer[0], (answer[1],)
