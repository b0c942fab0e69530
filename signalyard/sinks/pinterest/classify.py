"""A Pinterest Conversions API answer -> one :class:`Attempt` and ONE outcome PER EVENT. Pure.

Pinterest answers a request it could read with ``{"num_events_received",
"num_events_processed", "events": [{"status": "processed"|"failed", "error_message",
"warning_message"}]}``, one entry per event in the order sent; an error is an HTTP status
with ``{"code", "message"}``. First match wins:

==========================================  ================================================
answer                                      outcomes
==========================================  ================================================
no answer (network error, timeout)          Retry for every event
``events`` with one entry per event         each event by its own entry: ``processed``
(any HTTP status)                           Delivered, ``failed`` Rejected with Pinterest's
                                            ``error_message`` (code 400)
2xx, ``num_events_processed`` = all         Delivered for every event
other 2xx                                   Retry (Pinterest deduplicates a web event sent
                                            again by its ``event_id``)
401                                         Paused, fix: set a new conversion token
403                                         Paused: the token has no role on the ad account
404                                         Paused: check ``ad_account_id`` and ``api_url``
400, 413, 422 without ``events``           Rejected for every event with Pinterest's
                                            message (a batch of several is bisected by the
                                            worker to find the event)
408, 5xx (503: endpoint ramped down)        Retry, ``Retry-After`` when given
429                                         Retry(throttled), ``Retry-After`` when given
other 3xx/4xx                               Paused: check ``api_url``
==========================================  ================================================

The :class:`Attempt` records the HTTP status, Pinterest's ``code``, the ``x-request-id``
header as the trace id, and Pinterest's message with e-mail and IP addresses masked, cut to
300 characters.
"""

from __future__ import annotations

from collections.abc import Mapping

from signalyard.outcome import DESTINATION, Attempt, Delivered, Outcome, Paused, Rejected, Retry
from signalyard.sinks.answers import (
    MAX_MESSAGE,
    Outcomes,
    body_text,
    code_of,
    header,
    json_or_none,
    no_answer,
    retry_after,
    scrub,
)

__all__ = ["INVALID", "MAX_MESSAGE", "classify", "scrub"]

INVALID = 400
"""The code an event Pinterest refused is dead-lettered with (the HTTP status of an invalid
request; a ``failed`` entry of ``events`` carries no code of its own)."""

SET_TOKEN = (
    "generate a new conversion access token (Pinterest Ads Manager → Conversions →"
    " Conversion access token → Generate new token) and set it with"
    f" `signalyard destinations set-secret {DESTINATION} access_token`"
)
_CHECK_ACCOUNT = (
    f"check ad_account_id (`signalyard destinations show {DESTINATION}`); correct it with"
    f" `signalyard destinations update {DESTINATION} --option ad_account_id=ID`, or {SET_TOKEN}"
    f" for an account with the Admin, Audience or Campaign role on it; then resume it:"
    f" `signalyard destinations resume {DESTINATION}`"
)
_CHECK_URL = (
    f"check the destination's api_url and ad_account_id (`signalyard destinations show"
    f" {DESTINATION}`), correct them with `signalyard destinations update {DESTINATION}"
    f" --option KEY=VALUE`, then resume it: `signalyard destinations resume {DESTINATION}`"
)


def classify(
    status: int | None,
    body: bytes,
    headers: Mapping[str, str],
    *,
    n_events: int,
    now: float,
) -> tuple[Attempt, Outcomes]:
    """Classify the answer to ``POST .../ad_accounts/{id}/events`` carrying ``n_events``
    events."""
    if status is None:
        return no_answer("Pinterest", n_events)
    answer = json_or_none(body)
    trace = header(headers, "x-request-id")
    if not isinstance(answer, dict):
        text = body_text(body)
        attempt = Attempt(status, trace_id=trace, message=text or None)
        return attempt, _by_status(status, headers, now, n_events, text)
    code = code_of(answer.get("code"))
    message = scrub(str(answer.get("message") or ""))
    events = answer.get("events")
    if isinstance(events, list) and len(events) == n_events and n_events:
        own = tuple(_own(entry) for entry in events)
        failed = sum(1 for o in own if not isinstance(o, Delivered))
        summary = message or (f"{failed} of {n_events} events failed" if failed else None)
        return Attempt(status, code=code, trace_id=trace, message=summary), own
    attempt = Attempt(status, code=code, trace_id=trace, message=message or None)
    if 200 <= status < 300:
        processed = code_of(answer.get("num_events_processed"))
        if processed == n_events:
            return attempt, (Delivered(),) * n_events
        reason = (
            f"Pinterest answered HTTP {status} with {processed} of {n_events} events"
            " processed and no per-event answer"
        )
        return attempt, (Retry(reason),) * n_events
    return attempt, _by_status(status, headers, now, n_events, message, code)


def _own(entry: object) -> Outcome:
    if not isinstance(entry, dict):
        return Retry("Pinterest's answer for this event is not readable")
    state = entry.get("status")
    if state == "processed":
        return Delivered()
    said = scrub(str(entry.get("error_message") or "")) or "refused by Pinterest"
    if state == "failed":
        return Rejected(said, INVALID)
    return Retry(scrub(f"Pinterest answered status {state!r} for this event: {said}"))


def _by_status(
    status: int,
    headers: Mapping[str, str],
    now: float,
    n_events: int,
    message: str,
    code: int | None = None,
) -> Outcomes:
    said = f": {message}" if message else ""
    coded = f" (code {code})" if code is not None else ""
    if status == 429:
        reason = scrub(f"Pinterest throttled the requests (HTTP 429){coded}{said}")
        return (Retry(reason, after=retry_after(headers, now), throttled=True),) * n_events
    if status >= 500 or status == 408:
        reason = scrub(f"Pinterest answered HTTP {status}{coded}{said}")
        return (Retry(reason, after=retry_after(headers, now)),) * n_events
    if 200 <= status < 300:
        return (Retry(f"Pinterest answered HTTP {status} without its JSON body"),) * n_events
    if status == 401:
        reason = scrub(f"Pinterest refused the conversion token (HTTP 401){coded}{said}")
        return (Paused(reason, SET_TOKEN, status, code),) * n_events
    if status == 403:
        reason = scrub(
            f"the conversion token has no access to the ad account (HTTP 403){coded}{said}"
        )
        return (Paused(reason, _CHECK_ACCOUNT, status, code),) * n_events
    if status in (400, 413, 422):
        reason = scrub(f"{message or 'the request was invalid'} (HTTP {status}){coded}")
        return (Rejected(reason, INVALID, code),) * n_events
    reason = scrub(f"Pinterest answered HTTP {status}{coded}{said}")
    return (Paused(reason, _CHECK_URL, status, code),) * n_events
