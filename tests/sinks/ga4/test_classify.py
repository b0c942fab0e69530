"""GA4's answers -> outcomes: the table of signalyard.sinks.ga4.classify."""

from __future__ import annotations

import orjson
import pytest

from signalyard.outcome import Delivered, Paused, Rejected, Retry
from signalyard.sinks.ga4 import SPEC
from signalyard.sinks.ga4.classify import INVALID, classify_collect, classify_debug

NOW = 1_800_000_000.0


def debug_body(*messages: tuple[str, str, str]) -> bytes:
    return orjson.dumps(
        {
            "validationMessages": [
                {"fieldPath": p, "description": d, "validationCode": c} for p, d, c in messages
            ]
        }
    )


def test_collect_2xx_is_delivered_whatever_the_body() -> None:
    for status, body in ((204, b""), (200, b"ok"), (202, b"{}")):
        attempt, outcome = classify_collect(status, body, {}, now=NOW)
        assert outcome == Delivered() and attempt.http_status == status


@pytest.mark.parametrize(
    ("status", "headers", "kind", "after", "throttled"),
    [
        (None, {}, Retry, None, False),
        (500, {}, Retry, None, False),
        (503, {"Retry-After": "12"}, Retry, 12.0, False),
        (408, {}, Retry, None, False),
        (429, {"retry-after": "30"}, Retry, 30.0, True),
        (429, {}, Retry, None, True),
    ],
)
def test_collect_retries(
    status: int | None, headers: dict[str, str], kind: type, after: float | None, throttled: bool
) -> None:
    _, outcome = classify_collect(status, b"<html>", headers, now=NOW)
    assert isinstance(outcome, Retry)
    assert outcome.after == after and outcome.throttled is throttled


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_credential_pauses_with_the_set_secret_fix(status: int) -> None:
    _, outcome = classify_collect(status, b"<html>Forbidden</html>", {}, now=NOW)
    assert isinstance(outcome, Paused) and outcome.code == status
    assert "signalyard destinations set-secret <destination> api_secret" in outcome.fix
    assert "proxy" in outcome.reason
    assert "set-secret shop-ga4 api_secret" in outcome.fix_for("shop-ga4")


@pytest.mark.parametrize("status", [404, 301, 405])
def test_a_wrong_url_pauses(status: int) -> None:
    _, outcome = classify_collect(status, b"", {}, now=NOW)
    assert isinstance(outcome, Paused) and "api_url" in outcome.fix


@pytest.mark.parametrize("status", [400, 413])
def test_a_refused_body_is_rejected(status: int) -> None:
    _, outcome = classify_collect(status, b"", {}, now=NOW)
    assert isinstance(outcome, Rejected) and outcome.code == status


def test_debug_without_messages_is_delivered() -> None:
    attempt, outcome = classify_debug(200, debug_body(), {}, now=NOW)
    assert outcome == Delivered() and attempt.message is None


def test_debug_messages_reject_with_ga4_s_codes_and_words() -> None:
    body = debug_body(
        (
            "events",
            "Event at index: [0] has invalid name [_bad]. Names must start with an alphabetic"
            " character.",
            "NAME_INVALID",
        ),
        ("client_id", "mail jane@example.com from 203.0.113.7", "VALUE_INVALID"),
    )
    attempt, outcome = classify_debug(200, body, {}, now=NOW)
    assert isinstance(outcome, Rejected) and outcome.code == INVALID == SPEC.invalid_code
    assert "NAME_INVALID, VALUE_INVALID" in outcome.reason
    assert "Event at index: [0] has invalid name [_bad]" in outcome.reason
    assert "jane@example.com" not in outcome.reason and "203.0.113.7" not in outcome.reason
    assert "[email]" in (attempt.message or "") and len(outcome.reason) <= 300


def test_debug_messages_about_the_measurement_id_pause() -> None:
    body = debug_body(("measurement_id", "measurement_id is required.", "VALUE_REQUIRED"))
    _, outcome = classify_debug(200, body, {}, now=NOW)
    assert isinstance(outcome, Paused) and "measurement_id=G-" in outcome.fix


def test_debug_shows_three_messages_and_counts_the_rest() -> None:
    body = debug_body(*[(f"events[{i}]", f"problem {i}", "VALUE_INVALID") for i in range(5)])
    _, outcome = classify_debug(200, body, {}, now=NOW)
    assert isinstance(outcome, Rejected) and "and 2 more" in outcome.reason
    assert "problem 3" not in outcome.reason


@pytest.mark.parametrize("body", [b"", b"<html>", b'{"other": 1}', b"[]"])
def test_debug_2xx_without_its_json_retries(body: bytes) -> None:
    _, outcome = classify_debug(200, body, {}, now=NOW)
    assert isinstance(outcome, Retry)


def test_debug_statuses_as_collect() -> None:
    assert isinstance(classify_debug(None, b"", {}, now=NOW)[1], Retry)
    assert isinstance(classify_debug(502, b"", {}, now=NOW)[1], Retry)
    assert classify_debug(429, b"", {}, now=NOW)[1] == Retry("GA4 answered HTTP 429", None, True)
    assert isinstance(classify_debug(403, b"", {}, now=NOW)[1], Paused)
