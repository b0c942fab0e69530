"""A Graph API answer -> one :class:`Attempt` and ONE outcome for the whole batch. Pure.

Meta takes or refuses a batch as a whole, so the sink repeats the one outcome for every event.
The rules follow the retry table of ``shared/reference/meta-capi.md`` §1.7, first match wins:

============================================  ==============================================
answer                                        outcome
============================================  ==============================================
no answer (``status`` None: network, timeout)  Retry
error code 4, 17, 32, 613, 80000-80014         Retry(throttled, after = usage-header hint)
``is_transient: true``; code 1, 2, 341         Retry
code 102, 104, 190, 10, 200-299, 3; 100/33     Paused(reason, fix)
code 368                                       Paused
code 100 (any other subcode: 2804xxx...)       Rejected(Meta's message and user title/msg)
other code, or no error object: by status      5xx, 408, other → Retry; 429 → Retry(throttled);
                                               401/403/404/3xx → Paused; 400/413/422/4xx →
                                               Rejected
2xx with ``events_received`` >= n_events       Delivered (fewer → Retry)
2xx without ``events_received``                Retry
============================================  ==============================================

Messages never carry personal data on purpose, but Meta's can echo a value, so recorded text
has e-mail and IP addresses masked and is cut to 300 characters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from signalyard.outcome import (
    DESTINATION,
    Attempt,
    Delivered,
    Outcome,
    Paused,
    Rejected,
    Retry,
)
from signalyard.sinks.answers import (
    MAX_MESSAGE,
    body_text,
    code_of,
    header,
    json_or_none,
    retry_after,
    scrub,
)

__all__ = ["MAX_MESSAGE", "classify", "classify_healthcheck", "scrub"]


THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2, 341})
AUTH_CODES = frozenset({3, 10, 102, 104, 190, *range(200, 300)})

_NEW_TOKEN = (
    "create a new one in Events Manager or Business Manager and set it with "
    f"`signalyard destinations set-token {DESTINATION}`"
)
_RESUME = f"`signalyard destinations resume {DESTINATION}`"
_TOKEN_190: dict[int | None, str] = {
    458: "the app that issued the access token is no longer installed for its user",
    459: "the access token's user is checkpointed: they must log in to facebook.com first",
    460: "the access token was invalidated because its user changed their password",
    463: "the access token expired",
    464: "the access token's user has not confirmed their Facebook account",
    467: "the access token is invalid (revoked, or its user logged out)",
    492: "the access token's session is invalid (its user lost their role)",
}
_GRANT_ACCESS = (
    "in Business Manager, give the token's system user (or app) access to the dataset "
    f"(pixel) with the ads_management permission, then resume the destination: {_RESUME}"
)


@dataclass(frozen=True, slots=True)
class _GraphError:
    code: int | None
    subcode: int | None
    text: str
    is_transient: bool
    trace_id: str | None


def classify(
    status: int | None,
    body: bytes,
    headers: Mapping[str, str],
    *,
    n_events: int,
    now: float,
) -> tuple[Attempt, Outcome]:
    """Classify the answer to ``POST /{version}/{pixel_id}/events`` carrying ``n_events``."""

    def success(answer: Any, attempt: Attempt) -> tuple[Attempt, Outcome]:
        received = answer.get("events_received") if isinstance(answer, dict) else None
        if not isinstance(received, int) or isinstance(received, bool):
            return attempt, Retry(f"Meta answered HTTP {status} without events_received")
        messages = answer.get("messages")
        if isinstance(messages, list) and messages:
            text = scrub("; ".join(str(m) for m in messages))
            attempt = Attempt(attempt.http_status, trace_id=attempt.trace_id, message=text)
        if received < n_events:
            return attempt, Retry(f"Meta received {received} of {n_events} events")
        return attempt, Delivered()

    return _classify(status, body, headers, now, success)


def classify_healthcheck(
    status: int | None, body: bytes, headers: Mapping[str, str], *, now: float
) -> tuple[Attempt, Outcome]:
    """Classify the answer to ``GET /{version}/{pixel_id}?fields=id``: an ``id`` is healthy."""

    def success(answer: Any, attempt: Attempt) -> tuple[Attempt, Outcome]:
        if isinstance(answer, dict) and answer.get("id") is not None:
            return attempt, Delivered()
        return attempt, Retry(f"Meta answered HTTP {status} without the dataset id")

    return _classify(status, body, headers, now, success)


_Success = Callable[[Any, Attempt], tuple[Attempt, Outcome]]


def _classify(
    status: int | None,
    body: bytes,
    headers: Mapping[str, str],
    now: float,
    success: _Success,
) -> tuple[Attempt, Outcome]:
    if status is None:
        reason = "no answer from Meta (network error or timeout)"
        return Attempt(None, message=reason), Retry(reason)
    answer = json_or_none(body)
    error = answer.get("error") if isinstance(answer, dict) else None
    header_trace = header(headers, "x-fb-trace-id")
    if isinstance(error, dict | str):
        graph = _graph_error(error)
        attempt = Attempt(
            status,
            code=graph.code,
            subcode=graph.subcode,
            trace_id=graph.trace_id or _top_trace(answer) or header_trace,
            message=graph.text or None,
        )
        return attempt, _from_error(status, graph, headers, now)
    attempt = Attempt(status, trace_id=_top_trace(answer) or header_trace)
    if 200 <= status < 300:
        return success(answer, attempt)
    if answer is None and body.strip():
        # Not Graph's JSON: a proxy, a load balancer or a wrong graph_url answered.
        text = body_text(body)
        attempt = Attempt(status, trace_id=attempt.trace_id, message=text or None)
    return attempt, _from_status(status, "", headers, now)


def _from_error(status: int, error: _GraphError, headers: Mapping[str, str], now: float) -> Outcome:
    code, subcode = error.code, error.subcode
    said = f" (Meta: {error.text})" if error.text else ""
    ref = _ref(code, subcode)
    if code in THROTTLE_CODES:
        return Retry(
            f"Meta throttled the requests ({ref}){said}",
            after=_throttle_hint(headers, now),
            throttled=True,
        )
    if error.is_transient or code in TRANSIENT_CODES:
        return Retry(f"Meta reported a temporary error ({ref}){said}")
    if code in AUTH_CODES or (code == 100 and subcode == 33):
        reason, fix = _auth_problem(code, subcode)
        return Paused(_cut(f"{reason} ({ref}){said}"), fix, code, subcode)
    if code == 368:
        return Paused(
            _cut(f"Meta temporarily blocked the app or user for policy violations ({ref}){said}"),
            "check Account Quality in Business Manager, then resume the destination once "
            f"the block is lifted: {_RESUME}",
            code,
            subcode,
        )
    if code == 100 and "appsecret_proof" in error.text:
        # The request's credentials, not its events: every event would be refused alike.
        return Paused(
            _cut(f"Meta refused the request's appsecret_proof ({ref}){said}"),
            "the app requires an app secret proof: set the app's secret with `signalyard"
            f" destinations set-secret {DESTINATION} app_secret` (App Dashboard > Settings >"
            ' Basic > App Secret), or turn off "Require App Secret" for the app',
            code,
            subcode,
        )
    if code == 100:
        return Rejected(_cut(f"{error.text or 'invalid parameter'} ({ref})"), code, subcode)
    return _from_status(status, f" ({ref}){said}", headers, now, code, subcode)


def _from_status(
    status: int,
    detail: str,
    headers: Mapping[str, str],
    now: float,
    code: int | None = None,
    subcode: int | None = None,
) -> Outcome:
    reason = _cut(f"Meta answered HTTP {status}{detail}")
    if status == 429:
        return Retry(reason, after=_throttle_hint(headers, now), throttled=True)
    if status >= 500 or status == 408:
        return Retry(reason, after=retry_after(headers, now))
    if status in (401, 403):
        return Paused(reason, f"check the access token: {_NEW_TOKEN}", code, subcode)
    if 300 <= status < 400 or status == 404:
        return Paused(
            reason,
            "check the destination's graph_url, api_version and pixel_id (`signalyard"
            f" destinations show {DESTINATION}`), correct them with `signalyard destinations"
            f" update {DESTINATION} --option KEY=VALUE`, then resume it: {_RESUME}",
            code,
            subcode,
        )
    if 400 <= status < 500:
        return Rejected(reason, code, subcode)
    return Retry(reason)


def _auth_problem(code: int | None, subcode: int | None) -> tuple[str, str]:
    if code == 190:
        return _TOKEN_190.get(subcode, "Meta refused the access token"), _NEW_TOKEN
    if code == 102:
        return "the access token's session is invalid or expired", _NEW_TOKEN
    if code == 104:
        return "Meta received no access token", f"set one: {_NEW_TOKEN}"
    if code == 3:
        return (
            "the app that issued the access token may not call the Conversions API",
            "give the app Marketing API access (ads_management) in the App Dashboard, or "
            f"use a token from Events Manager; {_NEW_TOKEN}",
        )
    if code == 100:
        return (
            "the dataset (pixel) does not exist or the access token cannot reach it",
            f"check pixel_id; {_GRANT_ACCESS}",
        )
    return "the access token lacks a permission on the dataset (pixel)", _GRANT_ACCESS


def _graph_error(error: dict[str, Any] | str) -> _GraphError:
    if isinstance(error, str):
        return _GraphError(None, None, scrub(error), False, None)
    title, user_msg = error.get("error_user_title"), error.get("error_user_msg")
    text = _distinct_text(str(error.get("message") or ""), str(title or ""), str(user_msg or ""))
    trace = error.get("fbtrace_id")
    return _GraphError(
        code=code_of(error.get("code")),
        subcode=code_of(error.get("error_subcode")),
        text=scrub(text),
        is_transient=error.get("is_transient") is True,
        trace_id=str(trace) if trace else None,
    )


def _distinct_text(message: str, title: str, user_msg: str) -> str:
    """``message - title: user message``, each said once: Graph's user message often repeats
    the message (whole, or its last clause), and the title is often in one of them."""
    folded = user_msg.casefold()
    if user_msg and message.casefold() in folded:
        message = ""  # the user message says it all
    elif user_msg:
        head, sep, tail = message.rpartition(": ")
        if sep and tail.casefold() in folded:
            message = head  # its detail is repeated in the user message
    if user_msg and user_msg.casefold() in message.casefold():
        user_msg = ""
    if title and (title.casefold() in message.casefold() or title.casefold() in folded):
        title = ""
    user = ": ".join(p for p in (title, user_msg) if p)
    return " - ".join(p for p in (message, user) if p)


def _throttle_hint(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait, the longest any usage header or ``Retry-After`` asks for; else None."""
    hints: list[float] = []
    buc = _json_header(headers, "x-business-use-case-usage")
    if isinstance(buc, dict):
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else [entries]:
                if isinstance(entry, dict):
                    hints.append(_minutes(entry.get("estimated_time_to_regain_access")))
    app = _json_header(headers, "x-app-usage")
    if isinstance(app, dict):
        hints.append(_minutes(app.get("estimated_time_to_regain_access")))
    account = _json_header(headers, "x-ad-account-usage")
    if isinstance(account, dict):
        hints.append(_seconds(account.get("reset_time_duration")))
    hints.append(retry_after(headers, now) or 0.0)
    longest = max(hints)
    return longest if longest > 0 else None


def _minutes(value: object) -> float:
    return _seconds(value) * 60


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0.0
    try:
        number = float(value)
    except ValueError:
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


def _json_header(headers: Mapping[str, str], name: str) -> Any:
    value = header(headers, name)
    return json_or_none(value.encode()) if value else None


def _top_trace(answer: Any) -> str | None:
    trace = answer.get("fbtrace_id") if isinstance(answer, dict) else None
    return str(trace) if trace else None


def _ref(code: int | None, subcode: int | None) -> str:
    if code is None:
        return "no error code"
    return f"code {code}" + (f", subcode {subcode}" if subcode is not None else "")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
