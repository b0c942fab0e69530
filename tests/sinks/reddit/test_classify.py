"""Reddit's answers -> outcomes, one per event (the table in the classify module)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from signalyard.outcome import Delivered, Paused, Rejected, Retry
from signalyard.sinks.reddit.classify import classify

NOW = 1_800_000_000.0
IDS = ["c-0", "c-1", "c-2"]


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None, ids=IDS):  # type: ignore[no-untyped-def]
    raw = body if isinstance(body, bytes) else orjson.dumps(body) if body is not None else b""
    return classify(status, raw, headers or {}, conversion_ids=ids, now=NOW)


def invalid(*pairs: tuple[str | None, str]) -> dict[str, Any]:
    return {
        "message": f"There were {len(pairs)} invalid conversion events. None were processed.",
        "invalid_events": [
            {
                "error_message": message,
                "event": {"event_metadata": {"conversion_id": cid}, "user": {"email": "x"}},
            }
            for cid, message in pairs
        ],
    }


def test_success() -> None:
    attempt, outcomes = answer(
        200, {"message": "Successfully processed 3 conversion events."}, {"x-request-id": "r1"}
    )
    assert outcomes == (Delivered(),) * 3
    assert attempt.http_status == 200 and attempt.trace_id == "r1" and attempt.code is None


def test_no_answer_is_retried() -> None:
    attempt, outcomes = classify(None, b"", {}, conversion_ids=IDS, now=NOW)
    assert attempt.http_status is None and all(isinstance(o, Retry) for o in outcomes)


def test_invalid_events_are_rejected_by_their_conversion_id_the_others_retried_at_once() -> None:
    _, outcomes = answer(400, invalid(("c-1", "event_at timestamp must be less than 168h0m0s old")))
    bad = outcomes[1]
    assert isinstance(bad, Rejected) and bad.code == 400 and "168h0m0s" in bad.reason
    for i in (0, 2):
        retry = outcomes[i]
        assert isinstance(retry, Retry) and retry.after == 0.0 and not retry.throttled


def test_an_invalid_event_naming_no_event_of_the_batch_rejects_all_alike() -> None:
    for body in (invalid(("other", "bad")), invalid((None, "bad")), {"error": {"code": 400}}):
        _, outcomes = answer(400, body)
        assert len(set(outcomes)) == 1 and isinstance(outcomes[0], Rejected)  # bisected


def test_a_conversion_id_sent_twice_is_not_guessed() -> None:
    _, outcomes = answer(400, invalid(("c-0", "bad")), ids=["c-0", "c-0", "c-2"])
    assert len(set(outcomes)) == 1 and isinstance(outcomes[0], Rejected)


def test_a_single_invalid_event_gets_its_own_message() -> None:
    _, (outcome,) = answer(400, invalid(("c-0", "invalid tracking_type 'x'")), ids=["c-0"])
    assert isinstance(outcome, Rejected) and "invalid tracking_type" in outcome.reason


def test_a_request_reddit_cannot_read() -> None:
    body = {"error": {"code": 400, "message": 'JSON error "unknown field" on field "x"'}}
    attempt, outcomes = answer(400, body)
    assert attempt.message == 'JSON error "unknown field" on field "x"'
    assert len(set(outcomes)) == 1 and isinstance(outcomes[0], Rejected)


@pytest.mark.parametrize(
    "body",
    [
        b"Authorization Required",
        {"success": False, "error": {"reason": "UNAUTHORIZED", "explanation": "not you"}},
    ],
)
def test_401_pauses_with_the_fix(body: Any) -> None:
    attempt, outcomes = answer(401, body)
    paused = outcomes[0]
    assert isinstance(paused, Paused) and outcomes == (paused,) * 3
    assert "set-secret <destination> access_token" in paused.fix
    assert attempt.message and (
        "Authorization Required" in attempt.message or "not you" in attempt.message
    )


def test_403_pauses_unless_it_is_a_json_type_error() -> None:
    _, (paused, *_) = answer(403, {"success": False, "error": {"reason": "UNAUTHORIZED"}})
    assert isinstance(paused, Paused) and "ad_account_id" in paused.fix
    explanation = "JSON error unexpected type number on field events event_metadata value"
    body = {"success": False, "error": {"reason": "UNAUTHORIZED", "explanation": explanation}}
    _, outcomes = answer(403, body)
    assert len(set(outcomes)) == 1 and isinstance(outcomes[0], Rejected)


def test_404_and_redirects_pause() -> None:
    _, (not_found, *_) = answer(404, b"Not Found")
    assert isinstance(not_found, Paused) and "ad_account_id" in not_found.fix
    _, (moved, *_) = answer(301, b"")
    assert isinstance(moved, Paused) and "api_url" in moved.fix


def test_throttling_and_server_errors_are_retried() -> None:
    _, (throttled, *_) = answer(429, {"error": {"code": 429}}, {"Retry-After": "30"})
    assert throttled == Retry(throttled.reason, after=30.0, throttled=True)  # type: ignore[union-attr]
    for status in (500, 502, 503, 408):
        _, (retry, *_) = answer(status, b"<html>oops</html>")
        assert isinstance(retry, Retry) and not retry.throttled


def test_other_4xx_reject() -> None:
    _, outcomes = answer(413, {"error": {"code": 413, "message": "Payload Too Large"}})
    assert len(set(outcomes)) == 1 and isinstance(outcomes[0], Rejected)


def test_messages_are_scrubbed_and_echoes_never_kept() -> None:
    body = invalid(("c-1", "bad email jane@example.com from 203.0.113.7"))
    attempt, outcomes = answer(400, body)
    text = repr(attempt) + repr(outcomes)
    assert "jane@example.com" not in text and "203.0.113.7" not in text
    assert '"email"' not in text
