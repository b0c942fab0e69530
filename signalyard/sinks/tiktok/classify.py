"""A TikTok Events API answer -> one :class:`Attempt` and ONE outcome PER EVENT. Pure.

TikTok answers **HTTP 200** with ``{"code", "message", "request_id", "data"}`` whatever the
outcome (reference §3); the code decides, first match wins:

==========================================  ================================================
answer                                      outcomes
==========================================  ================================================
no answer (network error, timeout)          Retry for every event
code 0                                      Delivered for every event
code 20001 (partial success)                the events of ``data.failed_events`` (by
                                            ``index``) Rejected with their own message and
                                            code (40002; a 40100 or 5xxxx one: Retry); the
                                            others Delivered. Without a
                                            usable ``failed_events``: Retry for every event
                                            (TikTok deduplicates the delivered ones by
                                            ``event_id`` within 48 hours)
code 40002 naming ``Batch.<i>.<field>``     event *i* Rejected (40002, TikTok's message); the
                                            others Retry at once (they were not taken, and
                                            are sent again without the bad one)
code 40002 naming ``event_source(_id)``     Paused: the destination's options are wrong
code 40002, nothing named                   Rejected for every event (see below)
code 40001, 40104, 40105                    Paused, fix: set a new access token
code 40100                                  Retry(throttled), ``Retry-After`` when given
code 5xxxx                                  Retry
any other code                              Retry, with TikTok's message
no TikTok JSON: by HTTP status              5xx, 408 → Retry (``Retry-After``); 429 →
                                            Retry(throttled); 401/403 → Paused (token);
                                            other 3xx/4xx → Paused (check ``api_url``)
2xx JSON without ``code``                   Retry
==========================================  ================================================

A 40002 that names no event in a batch of several cannot be settled event by event: the
platform refused the request whole, and a per-event sink has no way to ask the worker to
bisect, so every event of the batch is dead-lettered with TikTok's message (replayable). The
sandbox names the event in every 40002 about one, so this is for request-level rules only.

The :class:`Attempt` records the HTTP status, TikTok's code, the ``request_id`` (header
``X-Tt-Logid`` when the body has none) as the trace id, and TikTok's message with e-mail and
IP addresses masked, cut to 300 characters.
"""

from __future__ import annotations

import re
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

__all__ = [
    "INVALID",
    "MAX_MESSAGE",
    "NO_PERMISSION",
    "OK",
    "PARTIAL",
    "THROTTLED",
    "TOKEN_INVALID",
    "TOKEN_MISSING",
    "classify",
    "scrub",
]

OK = 0
PARTIAL = 20001
NO_PERMISSION = 40001
INVALID = 40002
THROTTLED = 40100
TOKEN_MISSING = 40104
TOKEN_INVALID = 40105

_SET_TOKEN = (
    "generate a new access token (TikTok Events Manager → the pixel → Settings → Generate"
    f" access token) and set it with `signalyard destinations set-secret {DESTINATION}"
    " access_token`"
)
_FIX_OPTIONS = (
    f"check the destination's options (`signalyard destinations show {DESTINATION}`), correct"
    f" them with `signalyard destinations update {DESTINATION} --option KEY=VALUE`, then"
    f" resume it: `signalyard destinations resume {DESTINATION}`"
)
_EVENT_PATH = re.compile(r"\b(?:Batch|data)\.(\d{1,4})\b")
_REQUEST_FIELDS = ("event_source_id", "event_source", "partner_name", "test_event_code")


def classify(
    status: int | None,
    body: bytes,
    headers: Mapping[str, str],
    *,
    n_events: int,
    now: float,
) -> tuple[Attempt, Outcomes]:
    """Classify the answer to ``POST .../event/track/`` carrying ``n_events`` events."""
    if status is None:
        return no_answer("TikTok", n_events)
    answer = json_or_none(body)
    header_id = header(headers, "x-tt-logid")
    code = code_of(answer.get("code")) if isinstance(answer, dict) else None
    if not isinstance(answer, dict) or code is None:
        text = None
        if body.strip() and not isinstance(answer, dict):
            text = body_text(body) or None
        attempt = Attempt(status, trace_id=header_id, message=text)
        if 200 <= status < 300:
            reason = f"TikTok answered HTTP {status} without a code"
            return attempt, (Retry(reason),) * n_events
        return attempt, (_from_status(status, headers, now),) * n_events
    message = scrub(str(answer.get("message") or ""))
    request_id = answer.get("request_id")
    attempt = Attempt(
        status,
        code=code,
        trace_id=str(request_id) if request_id else header_id,
        message=message or None,
    )
    said = f": {message}" if message else ""
    if code == OK and 200 <= status < 300:
        return attempt, (Delivered(),) * n_events
    if code == PARTIAL:
        return attempt, _partial(answer.get("data"), n_events, said)
    if code == INVALID:
        return attempt, _invalid(message, n_events)
    if code in (NO_PERMISSION, TOKEN_MISSING, TOKEN_INVALID):
        return attempt, (_auth(code, said),) * n_events
    if code == THROTTLED:
        retry = Retry(
            scrub(f"TikTok throttled the requests (code {code}){said}"),
            after=retry_after(headers, now),
            throttled=True,
        )
        return attempt, (retry,) * n_events
    if code >= 50000 or status >= 500:
        retry = Retry(
            scrub(f"TikTok reported an internal error (code {code}){said}"),
            after=retry_after(headers, now),
        )
        return attempt, (retry,) * n_events
    return attempt, (Retry(scrub(f"TikTok answered code {code}{said}")),) * n_events


def _partial(data: object, n_events: int, said: str) -> Outcomes:
    failed = data.get("failed_events") if isinstance(data, dict) else None
    own: dict[int, Outcome] = {}
    if isinstance(failed, list):
        for item in failed:
            if not isinstance(item, dict):
                continue
            index = code_of(item.get("index"))
            if index is None or not 0 <= index < n_events:
                continue
            code = code_of(item.get("code")) or INVALID
            said_here = scrub(str(item.get("message") or "")) or "refused by TikTok"
            text = scrub(f"{said_here} (code {code})")
            if code == THROTTLED or not 40000 <= code < 50000:
                # not about the event itself (throttled, an internal error): try it again
                own[index] = Retry(text, throttled=code == THROTTLED)
            else:
                own[index] = Rejected(text, code)
    if not own:
        reason = scrub(f"TikTok answered a partial success without naming the failed events{said}")
        return (Retry(reason),) * n_events
    return tuple(own.get(i, Delivered()) for i in range(n_events))


def _invalid(message: str, n_events: int) -> Outcomes:
    found = _EVENT_PATH.search(message)
    index = int(found.group(1)) if found else None
    reason = scrub(f"{message or 'invalid request'} (code {INVALID})")
    if index is not None and 0 <= index < n_events:
        if n_events == 1:
            return (Rejected(reason, INVALID),)
        bad = Rejected(reason, INVALID)
        wait = Retry(
            f"not taken: TikTok refused the request for event {index} of {n_events};"
            " sent again without it",
            after=0.0,
        )
        return tuple(bad if i == index else wait for i in range(n_events))
    if message.startswith(_REQUEST_FIELDS):
        return (
            Paused(
                scrub(f"TikTok refused the destination's settings: {message} (code {INVALID})"),
                _FIX_OPTIONS,
                INVALID,
            ),
        ) * n_events
    return (Rejected(reason, INVALID),) * n_events


def _auth(code: int, said: str) -> Paused:
    if code == NO_PERMISSION:
        reason = "the access token has no permission on the pixel (expired or revoked?)"
        fix = (
            f"{_SET_TOKEN}; check too that pixel_code is the pixel the token was generated"
            f" for (`signalyard destinations show {DESTINATION}`)"
        )
    elif code == TOKEN_MISSING:
        reason, fix = "TikTok received no access token", _SET_TOKEN
    else:
        reason, fix = "TikTok refused the access token (incorrect or revoked)", _SET_TOKEN
    return Paused(scrub(f"{reason} (code {code}){said}"), fix, code)


def _from_status(status: int, headers: Mapping[str, str], now: float) -> Outcome:
    reason = f"TikTok answered HTTP {status} without its JSON body"
    if status == 429:
        return Retry(reason, after=retry_after(headers, now), throttled=True)
    if status >= 500 or status == 408:
        return Retry(reason, after=retry_after(headers, now))
    if status in (401, 403):
        return Paused(reason, f"check the access token: {_SET_TOKEN}")
    return Paused(
        reason,
        f"check the destination's api_url (`signalyard destinations show {DESTINATION}`),"
        f" correct it with `signalyard destinations update {DESTINATION} --option"
        f" api_url=URL`, then resume it: `signalyard destinations resume {DESTINATION}`",
    )
