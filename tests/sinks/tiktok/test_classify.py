"""TikTok's answers -> one outcome per event (a table of bodies as TikTok and its proxy give
them; the same bodies from the sandbox are classified in test_sink.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from signalyard.outcome import Attempt, Delivered, Outcome, Paused, Rejected, Retry
from signalyard.sinks.tiktok.classify import classify, scrub

NOW = 1_800_000_000.0
RID = "2026120500171891FA1E8FB37D612053A0"


def answer(
    code: int,
    message: str,
    data: Any = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> tuple[Attempt, tuple[Outcome, ...]]:
    body = orjson.dumps({"code": code, "message": message, "request_id": RID, "data": data or {}})
    return classify(status, body, headers or {}, n_events=3, now=NOW)


def test_ok_delivers_every_event() -> None:
    attempt, outcomes = answer(0, "OK")
    assert outcomes == (Delivered(),) * 3
    assert (attempt.http_status, attempt.code, attempt.trace_id) == (200, 0, RID)


def test_partial_rejects_the_failed_events_only() -> None:
    data = {
        "failed_events": [
            {"index": 1, "event_id": "b", "code": 40002, "message": "Batch.1.event_time: x"},
            {"index": 9, "event_id": "z", "code": 40002, "message": "out of range"},
            "junk",
        ]
    }
    attempt, outcomes = answer(20001, "Partial success: 1 of 3 events failed.", data)
    assert outcomes[0] == outcomes[2] == Delivered()
    assert isinstance(outcomes[1], Rejected) and outcomes[1].code == 40002
    assert outcomes[1].reason.startswith("Batch.1.event_time: x")
    assert attempt.code == 20001


def test_partial_without_failed_events_retries_all() -> None:
    _, outcomes = answer(20001, "Partial success")
    assert all(isinstance(o, Retry) and not o.throttled for o in outcomes)


def test_invalid_naming_an_event_rejects_it_and_resends_the_others_at_once() -> None:
    _, outcomes = answer(40002, "Batch.2.properties.contents.0.content_id: Not a valid string")
    assert isinstance(outcomes[2], Rejected) and outcomes[2].code == 40002
    assert "content_id: Not a valid string" in outcomes[2].reason
    for other in outcomes[:2]:
        assert isinstance(other, Retry) and other.after == 0.0 and not other.throttled


def test_invalid_about_the_request_s_own_fields_pauses() -> None:
    _, outcomes = answer(40002, "event_source_id: Missing data for required field")
    assert all(isinstance(o, Paused) and o.code == 40002 for o in outcomes)


def test_invalid_naming_nothing_rejects_the_batch() -> None:
    _, outcomes = answer(40002, "data: Length must be between 1 and 1000")
    assert all(isinstance(o, Rejected) for o in outcomes)


@pytest.mark.parametrize("code", [40001, 40104, 40105])
def test_token_and_permission_errors_pause_with_the_fix(code: int) -> None:
    _, outcomes = answer(code, "No permission to operate pixel code: C1.")
    (paused,) = set(outcomes)
    assert isinstance(paused, Paused) and paused.code == code
    assert "signalyard destinations set-secret <destination> access_token" in paused.fix
    assert paused.fix_for("my tiktok").count("'my tiktok'") >= 1


def test_throttle_holds_as_told() -> None:
    _, outcomes = answer(40100, "Too many requests.", headers={"Retry-After": "30"})
    assert all(
        o == Retry(o.reason, after=30.0, throttled=True) for o in outcomes if isinstance(o, Retry)
    )
    assert all(isinstance(o, Retry) for o in outcomes)
    _, outcomes = answer(40100, "Too many requests.")
    assert all(isinstance(o, Retry) and o.throttled and o.after is None for o in outcomes)


@pytest.mark.parametrize("code", [50000, 51001, 40900])
def test_internal_and_unknown_codes_retry(code: int) -> None:
    _, outcomes = answer(code, "something")
    assert all(isinstance(o, Retry) and not o.throttled for o in outcomes)
    assert all(isinstance(o, Retry) and "something" in o.reason for o in outcomes)


@pytest.mark.parametrize(
    ("status", "kind", "throttled"),
    [(502, Retry, False), (503, Retry, False), (408, Retry, False), (429, Retry, True),
     (401, Paused, False), (404, Paused, False), (413, Paused, False)],
)  # fmt: skip
def test_answers_without_tiktok_s_json_go_by_status(
    status: int, kind: type, throttled: bool
) -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head></html>"
    attempt, outcomes = classify(status, page, {"X-Tt-Logid": "LOG1"}, n_events=2, now=NOW)
    assert all(isinstance(o, kind) for o in outcomes) and len(outcomes) == 2
    if kind is Retry:
        assert all(isinstance(o, Retry) and o.throttled is throttled for o in outcomes)
    assert attempt.trace_id == "LOG1" and "Bad Gateway" in (attempt.message or "")


def test_no_answer_retries() -> None:
    attempt, outcomes = classify(None, b"", {}, n_events=2, now=NOW)
    assert attempt.http_status is None and all(isinstance(o, Retry) for o in outcomes)


def test_success_status_without_a_code_retries() -> None:
    _, outcomes = classify(200, b'{"ok": true}', {}, n_events=1, now=NOW)
    assert isinstance(outcomes[0], Retry)


def test_messages_never_carry_personal_data() -> None:
    text = scrub("Batch.0.user.email: jane@example.com from 203.0.113.7 is bad " + "x" * 400)
    assert "jane@example.com" not in text and "203.0.113.7" not in text
    assert len(text) <= 300


def test_partial_failures_not_about_the_event_are_retried() -> None:
    data = {
        "failed_events": [
            {"index": 0, "code": 40100, "message": "Too many requests."},
            {"index": 2, "code": 50000, "message": "Internal service error"},
        ]
    }
    _, outcomes = answer(20001, "Partial success: 2 of 3 events failed.", data)
    assert isinstance(outcomes[0], Retry) and outcomes[0].throttled
    assert outcomes[1] == Delivered()
    assert isinstance(outcomes[2], Retry) and not outcomes[2].throttled
