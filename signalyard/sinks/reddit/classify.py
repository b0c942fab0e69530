"""A Reddit Conversions API answer -> one :class:`Attempt` and ONE outcome PER EVENT. Pure.

Reddit v2.0 answers by HTTP status (RudderStack's recorded answers), first match wins:

==========================================  ================================================
answer                                      outcomes
==========================================  ================================================
no answer (network error, timeout)          Retry for every event
2xx (``{"message": "Successfully            Delivered for every event
processed N conversion events."}``)
400 with ``invalid_events``                 nothing was processed ("None were processed"):
                                            each invalid event found among the batch (by
                                            the ``conversion_id`` Reddit echoes back)
                                            Rejected with Reddit's ``error_message``; the
                                            others Retry at once (sent again without it)
400 naming no event of the batch            Rejected for every event, one reason: the
                                            worker bisects the batch to find the bad event
401                                         Paused: set a new conversion access token
403 ``JSON error ...`` (a wrong JSON type)  Rejected for every event, one reason (observed:
                                            Reddit answers a type error with a 403)
403                                         Paused: the token has no access to the ad account
404                                         Paused: ``ad_account_id`` or ``api_url`` wrong
429                                         Retry(throttled), ``Retry-After`` when given
5xx, 408                                    Retry (``Retry-After`` honoured)
3xx                                         Paused (``api_url`` answers a redirect)
other 4xx                                   Rejected for every event, one reason
==========================================  ================================================

Reddit's 401/403 body is ``{"success": false, "error": {"reason", "explanation"}}`` or the
plain text ``Authorization Required``; a request-level 400 is read from ``message`` or
``error.message``. The :class:`Attempt` records the HTTP status, Reddit's message with
e-mail and IP addresses masked, cut to 300 characters, and the ``x-request-id`` header as
the trace id when there is one. An invalid event's echo is never kept: only its
``conversion_id`` is read out of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from signalyard.outcome import DESTINATION, Attempt, Delivered, Paused, Rejected, Retry
from signalyard.sinks.answers import (
    MAX_MESSAGE,
    Outcomes,
    body_text,
    header,
    json_or_none,
    no_answer,
    retry_after,
    scrub,
)

__all__ = ["INVALID", "MAX_MESSAGE", "classify", "scrub"]

INVALID = 400
"""The HTTP status with which Reddit refuses an invalid event."""

_SET_TOKEN = (
    "generate a new conversion access token (Reddit Ads Manager → Events Manager → the pixel →"
    " Settings → Conversions API → Generate access token) and set it with"
    f" `signalyard destinations set-secret {DESTINATION} access_token`"
)
_FIX_ACCOUNT = (
    f"check the destination's ad_account_id and api_url (`signalyard destinations show"
    f" {DESTINATION}`), correct them with `signalyard destinations update {DESTINATION}"
    f" --option ad_account_id=ID`, then resume it: `signalyard destinations resume"
    f" {DESTINATION}`"
)
_FIX_URL = (
    f"check the destination's api_url (`signalyard destinations show {DESTINATION}`),"
    f" correct it with `signalyard destinations update {DESTINATION} --option"
    f" api_url=URL`, then resume it: `signalyard destinations resume {DESTINATION}`"
)


def classify(
    status: int | None,
    body: bytes,
    headers: Mapping[str, str],
    *,
    conversion_ids: Sequence[str | None],
    now: float,
) -> tuple[Attempt, Outcomes]:
    """Classify the answer to ``POST .../conversions/events/{account}`` carrying events
    whose ``conversion_id`` are ``conversion_ids`` (None: sent without one), in order."""
    n_events = len(conversion_ids)
    if status is None:
        return no_answer("Reddit", n_events)
    answer = json_or_none(body)
    message = _message(answer, body)
    attempt = Attempt(
        status,
        code=status if status >= 400 else None,
        trace_id=header(headers, "x-request-id"),
        message=message or None,
    )
    said = f": {message}" if message else ""
    if 200 <= status < 300:
        return attempt, (Delivered(),) * n_events
    if status == 400:
        return attempt, _invalid(answer, conversion_ids, said)
    if status == 401:
        reason = scrub(f"Reddit refused the conversion access token (HTTP 401){said}")
        return attempt, (Paused(reason, _SET_TOKEN, status),) * n_events
    if status == 403 and "JSON error" in message:
        # Reddit answers a value of the wrong JSON type with a 403 (observed): the request
        # is refused, the token is fine. One reason for every event: the worker bisects.
        reason = scrub(f"Reddit could not read the request (HTTP 403){said}")
        return attempt, (Rejected(reason, status),) * n_events
    if status == 403:
        reason = scrub(f"the token has no access to the ad account (HTTP 403){said}")
        fix = f"{_SET_TOKEN}; check too that ad_account_id is the account of the token's pixel"
        return attempt, (Paused(reason, fix, status),) * n_events
    if status == 404:
        reason = scrub(f"Reddit knows no such ad account or path (HTTP 404){said}")
        return attempt, (Paused(reason, _FIX_ACCOUNT, status),) * n_events
    if status == 429:
        reason = scrub(f"Reddit throttled the requests (HTTP 429){said}")
        retry = Retry(reason, after=retry_after(headers, now), throttled=True)
        return attempt, (retry,) * n_events
    if status >= 500 or status == 408:
        reason = scrub(f"Reddit answered HTTP {status}{said}")
        return attempt, (Retry(reason, after=retry_after(headers, now)),) * n_events
    if 300 <= status < 400:
        reason = f"Reddit answered a redirect (HTTP {status}): api_url is not the Ads API"
        return attempt, (Paused(reason, _FIX_URL, status),) * n_events
    reason = scrub(f"Reddit refused the request (HTTP {status}){said}")
    return attempt, (Rejected(reason, status),) * n_events


def _message(answer: Any, body: bytes) -> str:
    """Reddit's text: ``message``, ``error.message`` or ``error.explanation`` (with its
    ``reason``), or a plain-text body."""
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict):
            text = error.get("message") or error.get("explanation")
            reason = error.get("reason")
            parts = [str(p) for p in (reason, text) if isinstance(p, str) and p]
            if parts:
                return scrub(": ".join(parts))
        text = answer.get("message")
        if isinstance(text, str):
            return scrub(text)
        return ""
    if answer is None and body.strip():
        return body_text(body)
    return ""


def _invalid(answer: Any, conversion_ids: Sequence[str | None], said: str) -> Outcomes:
    n_events = len(conversion_ids)
    found = answer.get("invalid_events") if isinstance(answer, dict) else None
    own: dict[int, Rejected] = {}
    if isinstance(found, list):
        where: dict[str, list[int]] = {}
        for i, cid in enumerate(conversion_ids):
            if cid is not None:
                where.setdefault(cid, []).append(i)
        for item in found:
            if not isinstance(item, dict):
                continue
            index = _index_of(item.get("event"), where)
            if index is None:
                continue
            text = item.get("error_message")
            why = scrub(str(text)) if isinstance(text, str) and text else "invalid event"
            own[index] = Rejected(scrub(f"Reddit refused the event: {why}"), INVALID)
    if not own or n_events == 1:
        reason = scrub(f"Reddit refused the request (HTTP 400){said}")
        if n_events == 1 and own:
            return (own[0],)
        return (Rejected(reason, INVALID),) * n_events
    wait = Retry(
        f"not processed: Reddit refused the request for {len(own)} other event(s) of the"
        " batch; sent again without them",
        after=0.0,
    )
    return tuple(own.get(i, wait) for i in range(n_events))


def _index_of(echo: object, where: Mapping[str, list[int]]) -> int | None:
    """The batch index of an echoed invalid event: the one event sent with its
    ``conversion_id`` (several or none: unknown)."""
    metadata = echo.get("event_metadata") if isinstance(echo, dict) else None
    cid = metadata.get("conversion_id") if isinstance(metadata, dict) else None
    if not isinstance(cid, str):
        return None
    indexes = where.get(cid) or where.get(cid.strip())
    if indexes is None or len(indexes) != 1:
        return None
    return indexes[0]
