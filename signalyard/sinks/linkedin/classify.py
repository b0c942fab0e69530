"""A LinkedIn Conversions API answer -> one :class:`Attempt` and ONE outcome PER EVENT. Pure.

LinkedIn's REST API answers with HTTP statuses and, on errors, a JSON body ``{status,
serviceErrorCode?, code?, message}``. A ``BATCH_CREATE`` that is taken answers HTTP 200 with
one entry per element, in order: ``{"elements": [{"status": 201}, ...]}``; an element
LinkedIn refused carries its own 4xx status and, as Rest.li batch answers do, an ``error``
object with its ``message``. First match wins:

==========================================  ================================================
answer                                      outcomes
==========================================  ================================================
no answer (network error, timeout)          Retry for every event
2xx with ``elements`` (one per event)       each event by its own entry: 2xx Delivered;
                                            429 Retry(throttled); 5xx Retry; 4xx Rejected
                                            with the element's message (code 400)
2xx with ``elements`` of another length     Retry for every event
201 without a body (a single create)        Delivered
other 2xx                                   Retry for every event
401                                         Paused, fix: set a new access token
403                                         Paused: no role on the ad account / scopes
426, or 400 ``VERSION_MISSING``             Paused: the API version is no longer served
429                                         Retry(throttled), ``Retry-After`` when given
5xx, 408                                    Retry, ``Retry-After`` when given
400/422 naming ``/elements/<i>``            event *i* Rejected (code 400); the others
                                            Retry at once (not taken; sent again without it)
400/422 about the conversion rule           Paused: the rule is not a Conversions API rule
                                            or not the token's
400/422, nothing named                      Rejected for every event (see below)
404                                         Paused: check ``api_url`` and the rule id
other statuses                              Paused: check ``api_url``
==========================================  ================================================

A 400 that names no element in a batch of several cannot be settled event by event: the
platform refused the request whole, and a per-event sink has no way to ask the worker to
bisect, so every event of the batch is dead-lettered with LinkedIn's message (replayable).

The :class:`Attempt` records the HTTP status, LinkedIn's ``serviceErrorCode`` (else the
status) as the code, the ``x-li-uuid`` header as the trace id, and LinkedIn's message with
e-mail and IP addresses masked, cut to 300 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from signalyard.outcome import DESTINATION, Attempt, Delivered, Outcome, Paused, Rejected, Retry
from signalyard.sinks.answers import (
    Outcomes,
    body_text,
    code_of,
    header,
    json_or_none,
    no_answer,
    retry_after,
    scrub,
)

__all__ = ["INVALID", "SET_TOKEN", "classify", "paused_by_status", "scrub"]

INVALID = 400
"""The code of an event LinkedIn refused as invalid (its HTTP status)."""

SET_TOKEN = (
    "create a new access token (LinkedIn Developer Portal → your app → Auth → OAuth 2.0"
    " tools → Create token, scopes rw_conversions and r_ads) and set it with"
    f" `signalyard destinations set-secret {DESTINATION} access_token`"
)
_RESUME = f"then resume it: `signalyard destinations resume {DESTINATION}`"
_FIX_RULE = (
    "check the rule (Campaign Manager → Analyze → Conversion tracking: a rule created for the"
    " Conversions API, in the ad account the token's member has a role on), correct it with"
    f" `signalyard destinations update {DESTINATION} --option conversion_rule_id=ID`, {_RESUME}"
)
_FIX_URL = (
    f"check the destination's api_url (`signalyard destinations show {DESTINATION}`), correct"
    f" it with `signalyard destinations update {DESTINATION} --option api_url=URL`, {_RESUME}"
)
_FIX_VERSION = (
    "upgrade Signalyard: its LinkedIn-Version is no longer served by LinkedIn; after the"
    f" upgrade, {_RESUME.removeprefix('then ')}"
)
_FIX_ROLE = (
    "give the token's member a role on the ad account (ACCOUNT_BILLING_ADMIN, ACCOUNT_MANAGER,"
    " CAMPAIGN_MANAGER or CREATIVE_MANAGER) and make sure the token has the scopes"
    f" rw_conversions and r_ads; if it does not, {SET_TOKEN}; {_RESUME}"
)
_ELEMENT = re.compile(r"/elements/(\d{1,4})\b|\belements\[(\d{1,4})\]")
_RULE_WORDS = ("conversion's method", "llapartnerconversion", "conversion rule")
_TOKEN_REASONS = {
    "EXPIRED_ACCESS_TOKEN": "the access token has expired (LinkedIn tokens last 60 days)",
    "REVOKED_ACCESS_TOKEN": "the access token was revoked",
    "INVALID_ACCESS_TOKEN": "LinkedIn refused the access token (invalid)",
    "EMPTY_ACCESS_TOKEN": "LinkedIn received no access token",
}


def classify(
    status: int | None,
    body: bytes,
    headers: Mapping[str, str],
    *,
    n_events: int,
    now: float,
) -> tuple[Attempt, Outcomes]:
    """Classify the answer to ``POST /rest/conversionEvents`` carrying ``n_events`` events."""
    if status is None:
        return no_answer("LinkedIn", n_events)
    answer = json_or_none(body)
    trace = header(headers, "x-li-uuid") or header(headers, "x-restli-id")
    if not isinstance(answer, dict):
        answer = {}
        text = body_text(body)
    else:
        text = scrub(str(answer.get("message") or ""))
    code = code_of(answer.get("serviceErrorCode"))
    attempt = Attempt(status, code=code or status, trace_id=trace, message=text or None)
    said = f": {text}" if text else ""
    if 200 <= status < 300:
        return attempt, _success(status, answer, body, n_events)
    if status == 429:
        retry = Retry(
            scrub(f"LinkedIn throttled the requests (HTTP 429){said}"),
            after=retry_after(headers, now),
            throttled=True,
        )
        return attempt, (retry,) * n_events
    if status >= 500 or status == 408:
        retry = Retry(
            scrub(f"LinkedIn answered HTTP {status}{said}"), after=retry_after(headers, now)
        )
        return attempt, (retry,) * n_events
    if status in (400, 422) and answer.get("code") != "VERSION_MISSING":
        return attempt, _invalid(text, n_events, status)
    return attempt, (paused_by_status(status, answer, said),) * n_events


def paused_by_status(status: int, answer: Mapping[str, Any], said: str) -> Outcome:
    """What a 401, 403, 404, 426 or other non-success answer means for the destination."""
    code = str(answer.get("code") or "")
    if status == 401:
        reason = _TOKEN_REASONS.get(code, "LinkedIn refused the access token")
        return Paused(scrub(f"{reason} (HTTP 401{_named(code)}){said}"), SET_TOKEN, status)
    if status == 403:
        return Paused(
            scrub(f"the token may not send conversions for this ad account (HTTP 403){said}"),
            _FIX_ROLE,
            status,
        )
    if status == 426 or code in ("VERSION_MISSING", "NONEXISTENT_VERSION"):
        return Paused(
            scrub(f"LinkedIn no longer serves this API version (HTTP {status}){said}"),
            _FIX_VERSION,
            status,
        )
    if status == 404:
        return Paused(
            scrub(f"LinkedIn found no such resource (HTTP 404){said}"),
            f"{_FIX_RULE}; or {_FIX_URL}",
            status,
        )
    return Paused(scrub(f"LinkedIn answered HTTP {status}{said}"), _FIX_URL, status)


def _success(status: int, answer: Mapping[str, Any], body: bytes, n_events: int) -> Outcomes:
    elements = answer.get("elements")
    if isinstance(elements, list):
        if len(elements) != n_events:
            reason = f"LinkedIn answered {len(elements)} element statuses for {n_events} events"
            return (Retry(reason),) * n_events
        return tuple(_element(item) for item in elements)
    if status == 201 and not body.strip():
        return (Delivered(),) * n_events
    return (Retry(f"LinkedIn answered HTTP {status} without element statuses"),) * n_events


def _element(item: object) -> Outcome:
    own = item if isinstance(item, Mapping) else {}
    status = code_of(own.get("status"))
    if status is not None and 200 <= status < 300:
        return Delivered()
    error = own.get("error")
    message = ""
    if isinstance(error, Mapping):
        message = scrub(str(error.get("message") or ""))
    said = f": {message}" if message else ""
    if status is None:
        return Retry(scrub(f"LinkedIn answered an element without a status{said}"))
    if status == 429:
        return Retry(scrub(f"LinkedIn throttled this event (status 429){said}"), throttled=True)
    if status >= 500 or status == 408:
        return Retry(scrub(f"LinkedIn failed on this event (status {status}){said}"))
    return Rejected(scrub(f"{message or 'refused by LinkedIn'} (status {status})"), INVALID)


def _invalid(message: str, n_events: int, status: int) -> Outcomes:
    found = _ELEMENT.search(message)
    index = int(found.group(1) or found.group(2)) if found else None
    reason = scrub(f"{message or 'invalid request'} (HTTP {status})")
    if index is not None and 0 <= index < n_events:
        if n_events == 1:
            return (Rejected(reason, INVALID),)
        bad = Rejected(reason, INVALID)
        wait = Retry(
            f"not taken: LinkedIn refused the request for event {index} of {n_events};"
            " sent again without it",
            after=0.0,
        )
        return tuple(bad if i == index else wait for i in range(n_events))
    if any(word in message.lower() for word in _RULE_WORDS):
        paused = Paused(
            scrub(f"LinkedIn refused the conversion rule: {message} (HTTP {status})"),
            _FIX_RULE,
            status,
        )
        return (paused,) * n_events
    return (Rejected(reason, INVALID),) * n_events


def _named(code: str) -> str:
    return f" {code}" if code else ""
