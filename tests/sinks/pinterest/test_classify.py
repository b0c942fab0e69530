"""Pinterest's answers -> one outcome per event, as the table in classify.py says."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from signalyard.outcome import Delivered, Paused, Rejected, Retry
from signalyard.sinks.pinterest.classify import classify

NOW = 1_800_000_000.0


def run(status: int | None, body: Any, n: int = 2, **headers: str) -> Any:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return classify(status, raw, headers, n_events=n, now=NOW)


def answer(*statuses: str) -> dict[str, Any]:
    return {
        "num_events_received": len(statuses),
        "num_events_processed": statuses.count("processed"),
        "events": [
            {
                "status": s,
                "error_message": None if s == "processed" else "event_id: is required",
                "warning_message": None,
            }
            for s in statuses
        ],
    }


def test_every_event_processed() -> None:
    attempt, outcomes = run(200, answer("processed", "processed"), **{"x-request-id": "r1"})
    assert outcomes == (Delivered(), Delivered())
    assert attempt.http_status == 200 and attempt.trace_id == "r1" and attempt.message is None


def test_a_failed_event_is_rejected_alone_with_its_message() -> None:
    attempt, outcomes = run(200, answer("processed", "failed"))
    assert outcomes[0] == Delivered()
    assert outcomes[1] == Rejected("event_id: is required", 400)
    assert attempt.message == "1 of 2 events failed"


def test_per_event_answers_are_read_under_any_status() -> None:
    _, outcomes = run(422, answer("failed", "failed"))
    assert all(isinstance(o, Rejected) and o.code == 400 for o in outcomes)


def test_an_unknown_event_status_is_retried() -> None:
    body = answer("processed", "processed")
    body["events"][1] = {"status": "pending"}
    _, outcomes = run(200, body)
    assert outcomes[0] == Delivered() and isinstance(outcomes[1], Retry)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"num_events_received": 2, "num_events_processed": 2}, Delivered),
        ({"num_events_received": 2, "num_events_processed": 1}, Retry),
        ({"num_events_processed": 2, "events": [{"status": "processed"}]}, Delivered),
        (b"", Retry),
        (b"<html>ok</html>", Retry),
    ],
)
def test_2xx_without_a_usable_per_event_answer(body: Any, expected: type) -> None:
    _, outcomes = run(200, body)
    assert all(isinstance(o, expected) for o in outcomes) and len(outcomes) == 2


def test_no_answer_is_retried() -> None:
    attempt, outcomes = run(None, b"")
    assert attempt.http_status is None and all(isinstance(o, Retry) for o in outcomes)


def test_401_pauses_with_the_set_secret_fix() -> None:
    attempt, outcomes = run(401, {"code": 2, "message": "Authentication failed."})
    (paused,) = set(outcomes)
    assert isinstance(paused, Paused) and paused.code == 401 and paused.subcode == 2
    assert "set-secret shop-pins access_token" in paused.fix_for("shop-pins")
    assert attempt.code == 2 and attempt.message == "Authentication failed."


def test_403_pauses_naming_the_ad_account() -> None:
    _, outcomes = run(403, {"code": 29, "message": "Not permitted"})
    (paused,) = set(outcomes)
    assert isinstance(paused, Paused) and "ad_account_id" in paused.fix


@pytest.mark.parametrize("status", [404, 405, 302])
def test_other_client_errors_pause_to_check_the_url(status: int) -> None:
    _, outcomes = run(status, {"code": 404, "message": "Resource not found"})
    (paused,) = set(outcomes)
    assert isinstance(paused, Paused) and "api_url" in paused.fix


@pytest.mark.parametrize("status", [400, 413, 422])
def test_an_invalid_request_rejects_every_event_with_one_reason(status: int) -> None:
    _, outcomes = run(status, {"code": 1, "message": "Invalid request: data is required"}, n=3)
    (rejected,) = set(outcomes)
    assert isinstance(rejected, Rejected) and rejected.code == 400 and rejected.subcode == 1
    assert "data is required" in rejected.reason


def test_429_is_a_throttled_retry_with_retry_after() -> None:
    _, outcomes = run(429, {"code": 8, "message": "rate limit"}, **{"Retry-After": "30"})
    assert all(isinstance(o, Retry) and o.throttled and o.after == 30 for o in outcomes)


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_retried(status: int) -> None:
    _, outcomes = run(status, b"Service Unavailable", **{"retry-after": "5"})
    assert all(isinstance(o, Retry) and not o.throttled and o.after == 5 for o in outcomes)


def test_personal_data_in_a_message_is_masked() -> None:
    body = {"code": 1, "message": "bad em jane@example.com from 203.0.113.7"}
    attempt, outcomes = run(400, body, n=1)
    assert "jane@example.com" not in str(attempt) + str(outcomes)
    assert "203.0.113.7" not in str(attempt) + str(outcomes)
