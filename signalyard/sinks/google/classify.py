"""A Data Manager API answer -> one :class:`Attempt` and ONE outcome for the whole batch. Pure.

``events:ingest`` is fail-fast: one invalid event refuses the whole request and nothing is
kept, so the sink repeats the one outcome for every event (``per_event = False``) and the
worker bisects a refused batch until the bad event is alone. Google's error model
(``{"error": {code, message, status, details: [ErrorInfo, BadRequest, RetryInfo,
RequestInfo]}}``), first match wins:

=====================================  ===================================================
answer                                 outcome
=====================================  ===================================================
no answer (network, timeout)           Retry
2xx                                    Delivered (``requestId`` recorded as the trace id)
400 with violations of ``events[i]``   Rejected: Google's reason and descriptions (the
(or no field, a body too large)        fields named, never a value)
400 naming only request fields         Paused: the destination's ids are wrong
(``destinations[0]...``)
401 ``UNAUTHENTICATED``                Paused (the sink refreshes its token and tries once
                                       more before giving this answer)
403 ``PERMISSION_DENIED``              Paused, with the fix (access, API enabled)
404                                    Paused: ``api_url`` is wrong
429 ``RESOURCE_EXHAUSTED``             Retry(throttled, after = ``Retry-After`` or
                                       ``RetryInfo``, else 60 s: the quota is 300/min)
5xx, 408, 409 ``ABORTED``              Retry (``Retry-After`` honoured)
other 4xx                              Rejected
=====================================  ===================================================

Recorded text is scrubbed as Meta's is (e-mail and IP addresses masked, 300 characters).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from signalyard.outcome import DESTINATION, Attempt, Delivered, Outcome, Paused, Rejected, Retry
from signalyard.sinks.answers import MAX_MESSAGE, body_text, json_or_none, retry_after, scrub

__all__ = [
    "DEFAULT_THROTTLE_SECONDS",
    "MAX_MESSAGE",
    "GoogleError",
    "classify",
    "parse_error",
    "scrub",
]


DEFAULT_THROTTLE_SECONDS = 60.0
"""Wait after a 429 without a hint: the quota is counted per minute (300 requests)."""
_MAX_VIOLATIONS_SHOWN = 3
_RESUME = f"`signalyard destinations resume {DESTINATION}`"
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)s")


@dataclass(frozen=True, slots=True)
class Violation:
    field: str
    description: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class GoogleError:
    code: int | None
    status: str
    message: str
    reason: str | None
    violations: tuple[Violation, ...]
    retry_delay: float | None
    request_id: str | None

    @property
    def names_events(self) -> bool:
        """Whether a violation names an event (``events[3]...``), or none names a field."""
        if not self.violations:
            return True
        return any(
            v.field.startswith("events[") or v.field in ("", "events") for v in self.violations
        )


def parse_error(body: bytes) -> GoogleError | None:
    """Google's error body, or None when ``body`` is not one."""
    answer = json_or_none(body)
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return None
    reason: str | None = None
    violations: list[Violation] = []
    delay: float | None = None
    request_id: str | None = None
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        kind = str(detail.get("@type", ""))
        if kind.endswith("google.rpc.ErrorInfo") and reason is None:
            reason = _text(detail.get("reason")) or None
        elif kind.endswith("google.rpc.BadRequest"):
            for v in detail.get("fieldViolations") or []:
                if isinstance(v, dict):
                    violations.append(
                        Violation(
                            _text(v.get("field")),
                            _text(v.get("description")),
                            _text(v.get("reason")) or None,
                        )
                    )
        elif kind.endswith("google.rpc.RetryInfo"):
            match = _DURATION.fullmatch(_text(detail.get("retryDelay")))
            delay = float(match.group(1)) if match else None
        elif kind.endswith("google.rpc.RequestInfo"):
            request_id = _text(detail.get("requestId")) or None
    code = error.get("code")
    return GoogleError(
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        status=_text(error.get("status")),
        message=_text(error.get("message")),
        reason=reason,
        violations=tuple(violations),
        retry_delay=delay,
        request_id=request_id,
    )


def classify(
    status: int | None, body: bytes, headers: Mapping[str, str], *, now: float
) -> tuple[Attempt, Outcome]:
    """Classify the answer to ``POST /v1/events:ingest``."""
    if status is None:
        reason = "no answer from Google (network error or timeout)"
        return Attempt(None, message=reason), Retry(reason)
    error = parse_error(body)
    if 200 <= status < 300:
        answer = json_or_none(body)
        request_id = answer.get("requestId") if isinstance(answer, dict) else None
        trace = str(request_id)[:200] if request_id else None
        return Attempt(status, trace_id=trace), Delivered()
    if error is None:
        text = body_text(body)
        attempt = Attempt(status, message=text or None)
        return attempt, _from_status(status, f"Google answered HTTP {status}", headers, now, None)
    said = _describe(error)
    attempt = Attempt(status, trace_id=error.request_id, message=said or None)
    reason = scrub(f"Google answered HTTP {status} {error.status}".rstrip() + f": {said}")
    return attempt, _from_status(status, reason, headers, now, error)


def _from_status(
    status: int,
    reason: str,
    headers: Mapping[str, str],
    now: float,
    error: GoogleError | None,
) -> Outcome:
    if status == 429:
        after = retry_after(headers, now)
        if after is None and error is not None:
            after = error.retry_delay
        return Retry(reason, after=after or DEFAULT_THROTTLE_SECONDS, throttled=True)
    if status >= 500 or status in (408, 409):
        after = retry_after(headers, now)
        if after is None and error is not None:
            after = error.retry_delay
        return Retry(reason, after=after)
    if status == 401:
        return Paused(
            reason,
            "Google refused the access token the credential gave: check the credential"
            f" (`signalyard destinations show {DESTINATION}`) and replace it with"
            f" `signalyard destinations set-secret {DESTINATION} refresh_token` (or"
            " service_account_key)",
            code=status,
        )
    if status == 403:
        return Paused(reason, _permission_fix(error), code=status)
    if status == 404 or 300 <= status < 400:
        return Paused(
            reason,
            "check the destination's api_url (`signalyard destinations show"
            f" {DESTINATION}`), correct it with `signalyard destinations update {DESTINATION}"
            f" --option api_url=URL`, then resume it: {_RESUME}",
            code=status,
        )
    if status == 400 and error is not None and not error.names_events:
        return Paused(
            reason,
            "Google refused the destination itself: check operating_account_id,"
            " login_account_id and conversion_action_id (`signalyard destinations show"
            f" {DESTINATION}`), correct them with `signalyard destinations update"
            f" {DESTINATION} --option KEY=VALUE`, then resume it: {_RESUME}",
            code=status,
        )
    if 400 <= status < 500:
        return Rejected(reason, code=status)
    return Retry(reason)


def _permission_fix(error: GoogleError | None) -> str:
    reason = error.reason if error is not None else None
    if reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
        return (
            "the credential was not authorized for the Data Manager scope: authorize again"
            " with the scope https://www.googleapis.com/auth/datamanager and set the new"
            f" refresh token with `signalyard destinations set-secret {DESTINATION}"
            " refresh_token`"
        )
    if reason in ("SERVICE_DISABLED", "API_DISABLED"):
        return (
            "enable the Data Manager API in the credential's Google Cloud project (console →"
            f" APIs & Services → Library → Data Manager API), then resume: {_RESUME}"
        )
    return (
        "give the credential's Google user or service account access to the Google Ads"
        " account (Admin → Access and security; through login_account_id when it reaches it"
        " via a manager account), check the Data Manager API is enabled in its Google Cloud"
        f" project, then resume the destination: {_RESUME}"
    )


def _describe(error: GoogleError) -> str:
    """``REASON: message; field: description (REASON); ...``, without values."""
    head = error.message
    if error.reason:
        head = f"{error.reason}: {head}" if head else error.reason
    parts = [head] if head else []
    for v in error.violations[:_MAX_VIOLATIONS_SHOWN]:
        text = f"{v.field}: {v.description}" if v.field else v.description
        if v.reason and v.reason != error.reason:
            text += f" ({v.reason})"
        if text and text not in parts:
            parts.append(text)
    more = len(error.violations) - _MAX_VIOLATIONS_SHOWN
    if more > 0:
        parts.append(f"and {more} more violation(s)")
    return scrub("; ".join(parts))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
