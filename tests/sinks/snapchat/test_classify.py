"""Snap's answers -> outcomes, one per event (the table in classify's docstring)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from signalyard.outcome import Attempt, Delivered, Outcome, Paused, Rejected, Retry
from signalyard.sinks.snapchat.classify import INVALID, classify

NOW = 1_800_000_000.0


def run(
    status: int | None, body: Any = None, headers: dict[str, str] | None = None, n: int = 3
) -> tuple[Attempt, tuple[Outcome, ...]]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body) if body is not None else b""
    return classify(status, raw, headers or {}, n_events=n, now=NOW)


def invalid(
    event: Any = None, msg: str = "data[1].event_time: is older than 37 days"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "INVALID",
        "reason": msg,
        "errors": {"codes": ["INVALID_EVENT"], "error_msgs": [msg]},
    }
    if event is not None:
        body["event"] = event
    return body


def test_no_answer_is_retried() -> None:
    attempt, outcomes = run(None)
    assert attempt.http_status is None and all(isinstance(o, Retry) for o in outcomes)


def test_valid_delivers_every_event() -> None:
    attempt, outcomes = run(200, {"status": "VALID", "reason": "Events have been processed"})
    assert outcomes == (Delivered(),) * 3 and attempt.code == 200


def test_an_invalid_event_named_is_rejected_alone_and_the_others_sent_again_at_once() -> None:
    attempt, outcomes = run(400, invalid(1, "data[1].user_data.em: bad for a@b.com"))
    bad = outcomes[1]
    assert isinstance(bad, Rejected) and bad.code == INVALID
    assert "[email]" in bad.reason and "a@b.com" not in bad.reason
    assert "(INVALID_EVENT)" in (attempt.message or "")
    for other in (outcomes[0], outcomes[2]):
        assert isinstance(other, Retry) and other.after == 0.0 and not other.throttled


@pytest.mark.parametrize("event", [None, 7, -1, "x", True])
def test_invalid_naming_no_event_in_range_rejects_the_batch_with_one_reason(event: Any) -> None:
    _, outcomes = run(400, invalid(event))
    assert all(isinstance(o, Rejected) for o in outcomes) and len(set(outcomes)) == 1


def test_one_event_named_is_rejected() -> None:
    _, outcomes = run(400, invalid(0), n=1)
    assert isinstance(outcomes[0], Rejected)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_pauses_with_the_set_secret_fix(status: int) -> None:
    body = {"status": "INVALID", "reason": "Unauthorized", "errors": {"codes": ["X"]}}
    _, outcomes = run(status, body)
    (paused,) = set(outcomes)
    assert isinstance(paused, Paused) and paused.code == status
    assert "signalyard destinations set-secret <destination> access_token" in paused.fix


def test_an_unknown_pixel_pauses_with_the_options_fix() -> None:
    (paused,) = set(run(404, b"Not Found")[1])
    assert isinstance(paused, Paused) and "pixel_id" in paused.fix


def test_throttling_waits_as_asked_without_counting() -> None:
    (retry,) = set(run(429, invalid(), {"Retry-After": "30"})[1])
    assert isinstance(retry, Retry) and retry.throttled and retry.after == 30


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_retried(status: int) -> None:
    (retry,) = set(run(status, b"<html>502 Bad Gateway</html>", {"retry-after": "5"})[1])
    assert isinstance(retry, Retry) and not retry.throttled and retry.after == 5


def test_validate_logs_settle_each_event() -> None:
    body = {
        "status": "INVALID",
        "test_event": True,
        "reason": "1 of 3",
        "event_logs": [
            {"event": 0, "status": "VALID", "warnings": []},
            {"event": 2, "status": "INVALID",
             "errors": {"codes": ["INVALID_EVENT"], "error_msgs": ["data[2].x: bad"]}},
        ],
    }  # fmt: skip
    _, outcomes = run(200, body)
    assert outcomes[0] == Delivered()
    assert isinstance(outcomes[1], Retry)  # no log for it
    assert isinstance(outcomes[2], Rejected) and "data[2].x: bad" in outcomes[2].reason


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [(200, {"reason": "?"}, Retry), (200, b"not json", Retry), (302, b"", Paused),
     (400, b"<html>Bad Request</html>", Paused), (200, invalid(None), Rejected)],
)  # fmt: skip
def test_other_answers(status: int, body: Any, kind: type) -> None:
    outcomes = run(status, body)[1]
    assert all(isinstance(o, kind) for o in outcomes)
