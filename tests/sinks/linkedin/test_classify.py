"""LinkedIn's answers -> outcomes, one per event: the table of
:mod:`signalyard.sinks.linkedin.classify`, row by row."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from signalyard.outcome import Delivered, Paused, Rejected, Retry
from signalyard.sinks.linkedin.classify import INVALID, classify

NOW = 1_800_000_000.0


def run(
    status: int | None, body: Any = None, n: int = 1, headers: dict[str, str] | None = None
) -> tuple[Any, Any]:
    raw = body if isinstance(body, bytes) else (b"" if body is None else orjson.dumps(body))
    return classify(status, raw, headers or {}, n_events=n, now=NOW)


def test_no_answer_is_retried() -> None:
    attempt, outcomes = run(None, n=2)
    assert attempt.http_status is None
    assert all(isinstance(o, Retry) for o in outcomes) and len(outcomes) == 2


def test_batch_answer_settles_each_event() -> None:
    body = {
        "elements": [
            {"status": 201},
            {"status": 400, "error": {"status": 400, "message": "too old: a@b.example"}},
            {"status": 429},
            {"status": 503},
            {},
        ]
    }
    attempt, (ok, bad, throttled, failed, unknown) = run(200, body, n=5)
    assert attempt.http_status == 200 and attempt.code == 200
    assert ok == Delivered()
    assert isinstance(bad, Rejected) and bad.code == INVALID
    assert "[email]" in bad.reason and "a@b.example" not in bad.reason
    assert isinstance(throttled, Retry) and throttled.throttled
    assert isinstance(failed, Retry) and not failed.throttled
    assert isinstance(unknown, Retry)


def test_batch_answer_of_another_length_is_retried() -> None:
    _, outcomes = run(200, {"elements": [{"status": 201}]}, n=2)
    assert all(isinstance(o, Retry) for o in outcomes)


def test_single_create_201_without_body_is_delivered() -> None:
    assert run(201)[1] == (Delivered(),)
    assert isinstance(run(200)[1][0], Retry)  # 200 without element statuses


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("EXPIRED_ACCESS_TOKEN", "expired"),
        ("REVOKED_ACCESS_TOKEN", "revoked"),
        ("INVALID_ACCESS_TOKEN", "invalid"),
        ("EMPTY_ACCESS_TOKEN", "no access token"),
    ],
)
def test_401_pauses_with_the_token_fix(code: str, words: str) -> None:
    body = {"status": 401, "serviceErrorCode": 65602, "code": code, "message": "m"}
    attempt, (outcome,) = run(401, body)
    assert attempt.code == 65602
    assert isinstance(outcome, Paused) and words in outcome.reason
    assert "`signalyard destinations set-secret li-prod access_token`" in outcome.fix_for("li-prod")


def test_403_426_404_and_others_pause_with_their_fix() -> None:
    (p403,) = run(403, {"status": 403, "message": "Not enough permissions"})[1]
    assert isinstance(p403, Paused) and "ACCOUNT_MANAGER" in p403.fix
    (p426,) = run(426, {"status": 426, "code": "NONEXISTENT_VERSION", "message": "x"})[1]
    assert isinstance(p426, Paused) and "upgrade Signalyard" in p426.fix
    (missing,) = run(400, {"status": 400, "code": "VERSION_MISSING", "message": "x"})[1]
    assert isinstance(missing, Paused) and "upgrade Signalyard" in missing.fix
    (p404,) = run(404, b"<html>not found</html>")[1]
    assert isinstance(p404, Paused) and "conversion_rule_id" in p404.fix
    (p302,) = run(302, b"")[1]
    assert isinstance(p302, Paused) and "api_url" in p302.fix


def test_429_is_a_throttled_retry_after_its_header() -> None:
    _, outcomes = run(
        429, {"status": 429, "message": "throttle"}, n=3, headers={"Retry-After": "60"}
    )
    assert all(isinstance(o, Retry) and o.throttled and o.after == 60 for o in outcomes)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_retried(status: int) -> None:
    _, (outcome,) = run(status, b"upstream error")
    assert isinstance(outcome, Retry) and not outcome.throttled


def test_400_naming_an_element_rejects_it_and_retries_the_others_at_once() -> None:
    body = {"status": 400, "message": "ERROR :: /elements/1/conversionHappenedAt :: bad\n"}
    _, (a, b, c) = run(400, body, n=3)
    assert isinstance(b, Rejected) and "/elements/1/" in b.reason and b.code == INVALID
    assert isinstance(a, Retry) and a.after == 0.0 and isinstance(c, Retry)
    _, (alone,) = run(422, {"status": 422, "message": "elements[0].user.userIds missing"})
    assert isinstance(alone, Rejected)


def test_400_about_the_rule_pauses() -> None:
    body = {"status": 400, "message": "Conversion's method should be CONVERSIONS_API"}
    _, outcomes = run(400, body, n=2)
    assert all(isinstance(o, Paused) and "conversion_rule_id" in o.fix for o in outcomes)


def test_400_naming_nothing_rejects_every_event() -> None:
    _, outcomes = run(400, {"status": 400, "message": "Unable to parse"}, n=2)
    assert all(isinstance(o, Rejected) and "Unable to parse" in o.reason for o in outcomes)


def test_trace_id_and_scrubbed_message() -> None:
    body = {"status": 500, "message": "failed for 203.0.113.9 " + "x" * 400}
    attempt, _ = run(500, body, headers={"x-li-uuid": "abc=="})
    assert attempt.trace_id == "abc==" and "[ip]" in (attempt.message or "")
    assert len(attempt.message or "") <= 300
