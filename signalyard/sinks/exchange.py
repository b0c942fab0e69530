"""One HTTP exchange with a platform, the same way in every ``sink.py``: what a request that
got no answer means (:func:`failure`), its secrets masked in every message (:func:`hide`), its
duration recorded (:func:`finish`), and the whole POST-and-classify (:func:`exchange`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass, replace
from urllib.parse import quote, quote_plus

import httpx
import orjson

from signalyard import outbound
from signalyard.clock import Clock
from signalyard.outcome import DESTINATION, Attempt, Outcome, Paused, Rejected, Retry, SendResult
from signalyard.sinks.answers import scrub

__all__ = [
    "MASK",
    "Classify",
    "Peer",
    "batch_check",
    "exchange",
    "failure",
    "finish",
    "hide",
    "hide_bytes",
    "query_forms",
    "unencodable",
]

MASK = "**********"
"""What stands for a secret in a message."""

Classify = Callable[[int, bytes, Mapping[str, str]], tuple[Attempt, tuple[Outcome, ...]]]
"""``(status, body with the secrets masked, headers) -> (attempt, outcomes)``."""


@dataclass(frozen=True, slots=True)
class Peer:
    """The platform a sink talks to, as its messages name it."""

    name: str
    """As in "no answer from TikTok"."""
    base_url: str
    """The option's value, named when it cannot be sent to."""
    timeout: float
    """Seconds per phase of a request."""
    secrets: tuple[str, ...]
    """Masked in every message (see :func:`hide`)."""
    url_option: str = "api_url"
    """The option holding ``base_url``, named in the fix when it is unusable."""


def hide(text: str, secrets: Sequence[str]) -> str:
    """``text`` with each secret of 4 characters or more masked."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


def hide_bytes(body: bytes, secrets: Sequence[str]) -> bytes:
    """:func:`hide` for a body (before a classifier cuts messages: no partial secret left)."""
    for secret in secrets:
        if len(secret) >= 4:
            body = body.replace(secret.encode(), MASK.encode())
    return body


def query_forms(secret: str) -> tuple[str, ...]:
    """A secret as it is and as a URL query carries it; none when it is too short to mask."""
    if len(secret) < 4:
        return ()
    return (secret, quote(secret, safe=""), quote_plus(secret))


def batch_check(events: Sized, max_batch: int, platform: str) -> SendResult | None:
    """``ValueError`` for a batch over ``max_batch`` (a caller's mistake); the result of an
    empty batch (nothing sent); None for a batch to send."""
    if len(events) > max_batch:
        raise ValueError(f"a {platform} batch holds at most {max_batch} events, not {len(events)}")
    if not len(events):
        return SendResult(Attempt(None, message="empty batch: nothing sent"), ())
    return None


def unencodable(data: Sequence[object]) -> SendResult:
    """A batch holding an event JSON cannot carry: that event refused alone, the others sent
    again; nothing sent."""
    outcomes: list[Outcome] = []
    for event in data:
        try:
            orjson.dumps(event)
        except orjson.JSONEncodeError as error:
            outcomes.append(Rejected(scrub(f"the event cannot be encoded as JSON: {error}")))
        else:
            outcomes.append(Retry("not sent: another event of the batch cannot be encoded"))
    reason = "an event of the batch cannot be encoded as JSON: nothing sent"
    return SendResult(Attempt(None, message=reason), tuple(outcomes))


def failure(error: httpx.RequestError | httpx.InvalidURL, peer: Peer) -> tuple[Attempt, Outcome]:
    """A request that got no answer: a timeout or a network error is retried; a base URL
    httpx cannot send to pauses the destination until the option is corrected."""
    name = type(error).__name__
    if isinstance(error, httpx.TimeoutException):
        reason = scrub(f"no answer from {peer.name} within {peer.timeout:g}s ({name})")
        return Attempt(None, message=reason), Retry(reason)
    if isinstance(error, httpx.UnsupportedProtocol | httpx.InvalidURL):
        reason = hide(f"cannot send to {peer.base_url!r}: {name}: {error}", peer.secrets)
        option = peer.url_option
        return Attempt(None, message=reason), Paused(
            reason,
            f"correct the destination's {option} with `signalyard destinations update"
            f" {DESTINATION} --option {option}=URL`, then resume it:"
            f" `signalyard destinations resume {DESTINATION}`",
        )
    # connect, read, write, protocol, proxy, decoding
    reason = scrub(hide(f"no answer from {peer.name}: {name}: {error}", peer.secrets))
    return Attempt(None, message=reason), Retry(reason)


def finish(
    clock: Clock,
    started: float,
    attempt: Attempt,
    outcomes: Sequence[Outcome],
    secrets: Sequence[str],
) -> SendResult:
    """The result of an exchange begun at ``started`` (``clock.monotonic()``): its duration
    added, the secrets masked once more (belt and braces)."""
    elapsed_ms = max(0.0, (clock.monotonic() - started) * 1000)
    attempt = replace(attempt, duration_ms=elapsed_ms)
    if attempt.message:
        attempt = replace(attempt, message=hide(attempt.message, secrets))
    hidden: list[Outcome] = []
    for outcome in outcomes:
        if isinstance(outcome, Retry | Rejected | Paused):
            outcome = replace(outcome, reason=hide(outcome.reason, secrets))
        hidden.append(outcome)
    return SendResult(attempt, tuple(hidden))


async def exchange(
    client: httpx.AsyncClient,
    clock: Clock,
    peer: Peer,
    method: str,
    url: str,
    *,
    n_events: int,
    classify: Classify,
    content: bytes | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> SendResult:
    """One request for ``n_events`` events, its answer classified; never raises for what the
    platform or the network does (a failure is every event's outcome)."""
    started = clock.monotonic()
    try:
        reply = await outbound.request(
            client,
            method,
            url,
            content=content,
            params=params,
            headers=headers,
            timeout=peer.timeout,
        )
    except (httpx.RequestError, httpx.InvalidURL) as error:
        attempt, outcome = failure(error, peer)
        return finish(clock, started, attempt, (outcome,) * n_events, peer.secrets)
    attempt, outcomes = classify(reply.status, hide_bytes(reply.body, peer.secrets), reply.headers)
    return finish(clock, started, attempt, outcomes, peer.secrets)
