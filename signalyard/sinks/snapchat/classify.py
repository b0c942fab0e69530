"""A Snapchat Conversions API answer -> one :class:`Attempt` and ONE outcome PER EVENT. Pure.

Snap answers ``POST /v3/{asset_id}/events`` with one ``EventResponse`` (Snap's OpenAPI, for
HTTP 200 and every other status): ``{"status": "VALID"|"INVALID", "reason", "errors":
{"codes": [...], "error_msgs": [...]}, "event": <index>}``, ``event`` only in an error answer,
naming the failing event. ``POST .../events/validate`` (the test facility) answers a
``ValidateResponse``, with one log per event: ``{"status", "test_event", "reason",
"event_logs": [{"event", "status", "errors", "warnings"}]}``. First match wins:

=========================================  =================================================
answer                                     outcomes
=========================================  =================================================
no answer (network error, timeout)         Retry for every event
HTTP 401 / 403                             Paused, fix: set a new access token
HTTP 404                                   Paused, fix: check ``pixel_id`` / ``api_url``
HTTP 429                                   Retry(throttled), ``Retry-After`` when given
HTTP 5xx, 408                              Retry (``Retry-After`` when given)
2xx ``event_logs`` (validate)              each event by its own log: ``VALID`` Delivered,
                                           ``INVALID`` Rejected with its messages; an event
                                           without a log: Retry
2xx ``status: VALID``                      Delivered for every event
``INVALID`` naming event *i* (in range)    event *i* Rejected (Snap's codes and messages);
                                           the others Retry at once (nothing of the request
                                           was taken; they are sent again without it)
``INVALID`` naming no event, HTTP 4xx      Rejected for every event, one reason (the worker
                                           bisects such a batch to find the bad event)
any other 3xx/4xx                          Paused: check ``api_url``
2xx without a status                       Retry
=========================================  =================================================

HTTP status codes and rate limits are not in Snap's pages (reference: unconfirmed): 401/403
for a refused token and 429 for throttling are the conventions this table assumes.

The :class:`Attempt` records the HTTP status, the status code as ``code``, Snap's first
error code and ``reason`` as the message (e-mail and IP addresses masked, cut to 300
characters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signalyard.outcome import DESTINATION, Attempt, Delivered, Outcome, Paused, Rejected, Retry
from signalyard.sinks.answers import Outcomes, json_or_none, no_answer, retry_after, scrub

__all__ = ["INVALID", "classify", "scrub"]

INVALID = 400
"""The code an event refused as invalid is dead-lettered with (the HTTP status Snap's
``INVALID`` answers come with): sent again unchanged it would be refused again."""

SET_TOKEN = (
    "generate a new Conversions API token (Snapchat Business Manager → Business Details →"
    " Conversions API Tokens) and set it with `signalyard destinations set-secret"
    f" {DESTINATION} access_token`"
)
_FIX_URL = (
    f"check the destination's pixel_id and api_url (`signalyard destinations show {DESTINATION}`),"
    f" correct them with `signalyard destinations update {DESTINATION} --option KEY=VALUE`,"
    f" then resume it: `signalyard destinations resume {DESTINATION}`"
)


def classify(
    status: int | None,
    body: bytes,
    headers: Mapping[str, str],
    *,
    n_events: int,
    now: float,
) -> tuple[Attempt, Outcomes]:
    """Classify the answer to ``POST .../events`` (or ``.../events/validate``) carrying
    ``n_events`` events."""
    if status is None:
        return no_answer("Snap", n_events)
    answer = json_or_none(body)
    answer = answer if isinstance(answer, dict) else None
    said = _said(answer, body)
    attempt = Attempt(status, code=status, message=said or None)
    what = f": {said}" if said else ""
    if status in (401, 403):
        reason = scrub(f"Snap refused the access token (HTTP {status}){what}")
        return attempt, (Paused(reason, SET_TOKEN, status),) * n_events
    if status == 404:
        reason = scrub(f"Snap does not know this endpoint or pixel (HTTP 404){what}")
        return attempt, (Paused(reason, _FIX_URL, status),) * n_events
    if status == 429:
        retry = Retry(
            scrub(f"Snap throttled the requests (HTTP 429){what}"),
            after=retry_after(headers, now),
            throttled=True,
        )
        return attempt, (retry,) * n_events
    if status >= 500 or status == 408:
        retry = Retry(scrub(f"Snap answered HTTP {status}{what}"), after=retry_after(headers, now))
        return attempt, (retry,) * n_events
    state = answer.get("status") if answer is not None else None
    if 200 <= status < 300 and answer is not None and isinstance(answer.get("event_logs"), list):
        return attempt, _logs(answer["event_logs"], n_events)
    if 200 <= status < 300 and state == "VALID":
        return attempt, (Delivered(),) * n_events
    if state == "INVALID" and answer is not None and (200 <= status < 300 or status in (400, 422)):
        return attempt, _invalid(answer, n_events, said)
    if 200 <= status < 300:
        return attempt, (Retry(f"Snap answered HTTP {status} without a status"),) * n_events
    reason = scrub(f"Snap answered HTTP {status}{what}")
    return attempt, (Paused(reason, _FIX_URL, status),) * n_events


def _said(answer: dict[str, Any] | None, body: bytes) -> str:
    """Snap's reason and first error message, or the start of a non-JSON body."""
    if answer is None:
        return scrub(body[:300].decode("utf-8", "replace")) if body.strip() else ""
    parts = [str(answer.get("reason") or "")]
    codes, messages = _errors(answer.get("errors"))
    if messages and messages[0] not in parts[0]:
        parts.append(messages[0])
    if codes:
        parts.append(f"({codes[0]})")
    return scrub(" ".join(p for p in parts if p))


def _errors(errors: object) -> tuple[list[str], list[str]]:
    if not isinstance(errors, dict):
        return [], []
    codes = errors.get("codes")
    messages = errors.get("error_msgs")
    return (
        [str(c) for c in codes] if isinstance(codes, list) else [],
        [str(m) for m in messages] if isinstance(messages, list) else [],
    )


def _index(value: object, n_events: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value < n_events else None


def _invalid(answer: dict[str, Any], n_events: int, said: str) -> Outcomes:
    reason = scrub(f"Snap refused the event: {said or 'INVALID'}")
    index = _index(answer.get("event"), n_events)
    if index is None or n_events == 1:
        return (Rejected(reason, INVALID),) * n_events
    wait = Retry(
        f"not taken: Snap refused the request for event {index} of {n_events};"
        " sent again without it",
        after=0.0,
    )
    bad = Rejected(reason, INVALID)
    return tuple(bad if i == index else wait for i in range(n_events))


def _logs(logs: list[Any], n_events: int) -> Outcomes:
    own: dict[int, Outcome] = {}
    for log in logs:
        if not isinstance(log, dict):
            continue
        index = _index(log.get("event"), n_events)
        if index is None:
            continue
        if log.get("status") == "VALID":
            own[index] = Delivered()
            continue
        codes, messages = _errors(log.get("errors"))
        text = "; ".join(messages) or "INVALID"
        if codes:
            text += f" ({', '.join(codes)})"
        own[index] = Rejected(scrub(f"Snap's validation refused the event: {text}"), INVALID)
    missing = Retry("Snap's validation answer has no log for this event")
    return tuple(own.get(i, missing) for i in range(n_events))
