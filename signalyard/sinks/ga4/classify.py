"""A Measurement Protocol answer -> one :class:`Attempt` and one outcome for the request. Pure.

GA4 has no error model on ``/mp/collect``: it answers 2xx (204, no body) to every request it
receives, even a malformed one, and drops what breaks its rules without a word (Google's
Measurement Protocol reference; validating-events). What the sink can hear:

``/mp/collect`` (:func:`classify_collect`), first match wins:

==================================  =======================================================
answer                              outcome
==================================  =======================================================
no answer (network, timeout)        Retry
2xx                                 Delivered (GA4 took the request; what it keeps is not
                                    said)
429                                 Retry(throttled), ``Retry-After`` honoured
5xx, 408                            Retry, ``Retry-After`` honoured
401, 403                            Paused: GA4 itself never refuses a secret (a revoked
                                    API secret still gets 2xx), so this is a proxy or
                                    gateway in front of it (or the sandbox's
                                    ``expired_credential``); fix: a new secret, or the proxy
404, other 3xx/4xx (not 413)        Paused: ``api_url`` is not a Measurement Protocol host
413, 400                            Rejected: the body was refused
==================================  =======================================================

``/debug/mp/collect``, the validation server (:func:`classify_debug`): HTTP 200 with
``{"validationMessages": [{fieldPath, description, validationCode}]}``. An empty list:
Delivered (valid). Messages about ``measurement_id``: Paused (the destination's option is
wrong). Other messages: Rejected (code :data:`INVALID`) with GA4's codes and descriptions
(e-mail and IP addresses masked, 300 characters). 2xx without that JSON: Retry. Other
statuses as for ``/mp/collect``.
"""

from __future__ import annotations

from collections.abc import Mapping

from signalyard.outcome import DESTINATION, Attempt, Delivered, Outcome, Paused, Rejected, Retry
from signalyard.sinks.answers import MAX_MESSAGE, body_text, json_or_none, retry_after, scrub

__all__ = ["INVALID", "MAX_MESSAGE", "SET_SECRET", "classify_collect", "classify_debug", "scrub"]

INVALID = 400
"""GA4 gives no error code. Signalyard records its refusal of an invalid event (a GA4 rule it
checks, or the validation server's messages) with code 400, as Google's APIs answer an invalid
argument: sent again unchanged it would be refused again (``SinkSpec.invalid_code``)."""

SET_SECRET = (
    "create a Measurement Protocol API secret (Google Analytics → Admin → Data streams → the"
    " web stream → Measurement Protocol API secrets → Create) and set it with"
    f" `signalyard destinations set-secret {DESTINATION} api_secret`"
)
_FIX_URL = (
    f"check the destination's api_url (`signalyard destinations show {DESTINATION}`): it must"
    " be https://www.google-analytics.com, https://region1.google-analytics.com or"
    f" 'sandbox'; correct it with `signalyard destinations update {DESTINATION} --option"
    f" api_url=URL`, then resume it: `signalyard destinations resume {DESTINATION}`"
)
_FIX_MEASUREMENT_ID = (
    f"correct the measurement id with `signalyard destinations update {DESTINATION} --option"
    " measurement_id=G-...` (Admin → Data streams → the web stream), then resume it:"
    f" `signalyard destinations resume {DESTINATION}`"
)
_MAX_SHOWN = 3


def classify_collect(
    status: int | None, body: bytes, headers: Mapping[str, str], *, now: float
) -> tuple[Attempt, Outcome]:
    """Classify the answer of ``POST /mp/collect``."""
    if status is None:
        reason = "no answer from GA4 (network error or timeout)"
        return Attempt(None, message=reason), Retry(reason)
    text = _text(body)
    attempt = Attempt(status, message=text)
    if 200 <= status < 300:
        return attempt, Delivered()
    return attempt, _from_status(status, headers, now, text)


def classify_debug(
    status: int | None, body: bytes, headers: Mapping[str, str], *, now: float
) -> tuple[Attempt, Outcome]:
    """Classify the answer of ``POST /debug/mp/collect`` (GA4's validation server)."""
    if status is None:
        reason = "no answer from GA4's validation server (network error or timeout)"
        return Attempt(None, message=reason), Retry(reason)
    answer = json_or_none(body)
    messages = answer.get("validationMessages") if isinstance(answer, dict) else None
    if not 200 <= status < 300:
        text = _text(body)
        return Attempt(status, message=text), _from_status(status, headers, now, text)
    if not isinstance(messages, list):
        reason = f"GA4's validation server answered HTTP {status} without validationMessages"
        return Attempt(status, message=reason), Retry(reason)
    if not messages:
        return Attempt(status), Delivered()
    said = _said(messages)
    codes = sorted({str(m.get("validationCode")) for m in messages if isinstance(m, dict)})
    attempt = Attempt(status, message=said)
    paths = {str(m.get("fieldPath") or "") for m in messages if isinstance(m, dict)}
    if paths and all(p.startswith(("measurement_id", "api_secret")) for p in paths):
        reason = scrub(f"GA4 refused the destination's measurement id: {said}")
        return attempt, Paused(reason, _FIX_MEASUREMENT_ID)
    reason = scrub(
        f"GA4's validation server found the event invalid ({', '.join(codes)}): {said};"
        " /mp/collect would drop it silently"
    )
    return attempt, Rejected(reason, INVALID)


def _said(messages: list[object]) -> str:
    parts = []
    for m in messages[:_MAX_SHOWN]:
        if isinstance(m, dict):
            path = m.get("fieldPath") or "request"
            parts.append(f"{path}: {m.get('description') or m.get('validationCode')}")
    if len(messages) > _MAX_SHOWN:
        parts.append(f"and {len(messages) - _MAX_SHOWN} more")
    return scrub("; ".join(parts))


def _from_status(status: int, headers: Mapping[str, str], now: float, text: str | None) -> Outcome:
    reason = f"GA4 answered HTTP {status}" + (f": {text}" if text else "")
    reason = scrub(reason)
    if status == 429:
        return Retry(reason, after=retry_after(headers, now), throttled=True)
    if status >= 500 or status == 408:
        return Retry(reason, after=retry_after(headers, now))
    if status in (401, 403):
        return Paused(
            scrub(
                f"{reason}. GA4 itself answers 2xx even to a revoked API secret: a proxy or"
                " gateway in front of it refused the credentials"
            ),
            f"{SET_SECRET}; if a proxy sits in front of GA4, check its access too",
            status,
        )
    if status in (400, 413):
        return Rejected(reason, status)
    return Paused(reason, _FIX_URL, status)


def _text(body: bytes) -> str | None:
    if not body.strip():
        return None
    return body_text(body) or None
