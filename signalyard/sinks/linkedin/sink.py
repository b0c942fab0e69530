"""The LinkedIn Conversions API destination: one batch, one ``BATCH_CREATE`` request, one
outcome PER EVENT.

LinkedIn answers each element of a ``BATCH_CREATE`` on its own (``{"elements": [{"status":
201}, ...]}``), so the sink is ``per_event``: the worker settles each row by its own outcome
and never sends a delivered event again. An event LinkedIn would refuse for good without
looking (no user id: neither an email hash nor a ``li_fat_id``) is refused here, alone, with
that reason, and the others of the batch are sent.

``send`` and ``healthcheck`` never raise for what LinkedIn or the network does: timeouts,
connection and protocol errors become :class:`~signalyard.outcome.Retry`, answers are
classified by :mod:`signalyard.sinks.linkedin.classify`. They raise only for a caller's
mistake (a batch over ``max_batch``). The access token travels in the ``Authorization``
header only; it is masked in every message this module returns, and never in a repr. The
worker's ``test_event_code`` has no LinkedIn equivalent (LinkedIn has no test facility for
conversion events) and is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx
import orjson

from signalyard.clock import Clock
from signalyard.event import ServerEvent
from signalyard.outcome import (
    DESTINATION,
    Attempt,
    Delivered,
    Outcome,
    Paused,
    Rejected,
    Retry,
    SendResult,
)
from signalyard.sinks.answers import json_or_none
from signalyard.sinks.exchange import Peer, batch_check, exchange
from signalyard.sinks.linkedin import payload
from signalyard.sinks.linkedin.classify import classify, paused_by_status, scrub
from signalyard.sinks.linkedin.config import (
    API_VERSION,
    MAX_AGE_SECONDS,
    MAX_BATCH,
    RESTLI_PROTOCOL_VERSION,
    LinkedInConfig,
)
from signalyard.sinks.spec import own_config

__all__ = ["LinkedInSink"]


class LinkedInSink:
    """Sends canonical events to ``POST {api_url}/rest/conversionEvents``."""

    kind: str = "linkedin"
    max_batch: int = MAX_BATCH
    max_age_seconds: int = MAX_AGE_SECONDS
    per_event: bool = True  # LinkedIn answers each element of a BATCH_CREATE on its own

    def __init__(self, config: LinkedInConfig, client: httpx.AsyncClient, clock: Clock) -> None:
        self.config = config
        self._client = client
        self._clock = clock

    @classmethod
    def build(cls, config: object, client: httpx.AsyncClient, clock: Clock) -> LinkedInSink:
        """The registry's constructor: ``config`` must be a :class:`LinkedInConfig`."""
        return cls(own_config("linkedin", config, LinkedInConfig), client, clock)

    def __repr__(self) -> str:
        return (
            f"LinkedInSink(conversion_rule_id={self.config.conversion_rule_id!r},"
            f" url={payload.events_url(self.config)!r})"
        )

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        """POST one batch; event *i*'s outcome is at index *i*. ``test_event_code`` is
        ignored (LinkedIn has no test facility).

        Waits at most ``timeout_seconds`` per phase of the request. Raises ``ValueError`` only
        for a batch over ``max_batch``; an empty batch sends nothing.
        """
        checked = batch_check(events, self.max_batch, "LinkedIn")
        if checked is not None:
            return checked
        urn = self.config.conversion_urn
        elements = [payload.build_element(e, conversion_urn=urn) for e in events]
        own: dict[int, Outcome] = {}  # refused here, before sending
        for i, element in enumerate(elements):
            why = payload.unsendable(element)
            if why is not None:
                own[i] = Rejected(f"not sent: {why}")
            else:
                try:
                    orjson.dumps(element)
                except orjson.JSONEncodeError as error:
                    own[i] = Rejected(scrub(f"the event cannot be encoded as JSON: {error}"))
        sent = [i for i in range(len(elements)) if i not in own]
        if not sent:
            reason = "no event of the batch can be sent: nothing sent"
            refused = tuple(own[i] for i in range(len(elements)))
            return SendResult(Attempt(None, message=reason), refused)
        body = payload.encode([elements[i] for i in sent])
        result = await self._post(body, len(sent))
        if not own:
            return result
        answered = dict(zip(sent, result.outcomes, strict=True))
        outcomes = tuple(own.get(i) or answered[i] for i in range(len(elements)))
        return SendResult(result.attempt, outcomes)

    async def healthcheck(self) -> SendResult:
        """The pre-flight check: read the conversion rule with the token (``GET
        /rest/conversions/{id}?account=<ad account URN>``). LinkedIn has no test facility
        for conversion events, so nothing is sent: the read proves the token, its scopes, the
        API version, and that the rule exists in the account, was created for the
        Conversions API and is enabled."""

        def answered(
            status: int, content: bytes, headers: Mapping[str, str]
        ) -> tuple[Attempt, tuple[Outcome, ...]]:
            if status != 200:
                attempt, outcomes = classify(
                    status, content, headers, n_events=1, now=self._clock.now()
                )
                if 400 <= status < 500 and status not in (408, 429):
                    said = f": {attempt.message}" if attempt.message else ""
                    answer = json_or_none(content)
                    mapping = answer if isinstance(answer, dict) else {}
                    outcomes = (paused_by_status(status, mapping, said),)
                return attempt, outcomes
            return Attempt(status), (self._rule_outcome(json_or_none(content)),)

        return await exchange(
            self._client,
            self._clock,
            self._peer(),
            "GET",
            payload.rule_url(self.config),
            params={"account": self.config.account_urn},
            headers=self._headers(batch=False),
            n_events=1,
            classify=answered,
        )

    def _rule_outcome(self, rule: object) -> Outcome:
        fix = (
            "create a rule for the Conversions API (Campaign Manager → Analyze → Conversion"
            " tracking → Create conversion → Conversions API) and set its id with"
            f" `signalyard destinations update {DESTINATION} --option conversion_rule_id=ID`"
        )
        if not isinstance(rule, Mapping):
            return Retry("LinkedIn answered the rule read without a JSON object")
        method = rule.get("conversionMethod")
        if method != "CONVERSIONS_API":
            return Paused(
                f"conversion rule {self.config.conversion_rule_id} is not a Conversions API"
                f" rule (conversionMethod {str(method)[:40]!r}): LinkedIn refuses its events",
                fix,
            )
        if rule.get("enabled") is False:
            return Paused(
                f"conversion rule {self.config.conversion_rule_id} is disabled: its events"
                " count nowhere",
                "enable the rule in Campaign Manager → Analyze → Conversion tracking, then"
                f" resume the destination: `signalyard destinations resume {DESTINATION}`",
            )
        return Delivered()

    def _headers(self, *, batch: bool) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.config.access_token.reveal()}",
            "LinkedIn-Version": API_VERSION,
            "X-Restli-Protocol-Version": RESTLI_PROTOCOL_VERSION,
        }
        if batch:
            headers["X-RestLi-Method"] = "BATCH_CREATE"
            headers["Content-Type"] = "application/json"
        return headers

    async def _post(self, body: bytes, n_events: int) -> SendResult:
        return await exchange(
            self._client,
            self._clock,
            self._peer(),
            "POST",
            payload.events_url(self.config),
            content=body,
            headers=self._headers(batch=True),
            n_events=n_events,
            classify=lambda status, content, headers: classify(
                status, content, headers, n_events=n_events, now=self._clock.now()
            ),
        )

    def _peer(self) -> Peer:
        c = self.config
        return Peer("LinkedIn", c.api_url, c.timeout_seconds, (c.access_token.reveal(),))
