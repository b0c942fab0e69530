"""Google's error model -> one outcome for the batch (a table), on answers shaped as the
sandbox and Google send them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from signalyard.outcome import Delivered, Paused, Rejected, Retry
from signalyard.sandbox.google import errors as sandbox_errors
from signalyard.sandbox.google.errors import FieldViolation
from signalyard.sinks.google.classify import DEFAULT_THROTTLE_SECONDS, classify

NOW = 1_800_000_000.0


def answer(error: sandbox_errors.GoogleError) -> tuple[int, bytes, dict[str, str]]:
    return error.http, orjson.dumps(error.body("req-1")), dict(error.headers)


def test_success_records_the_request_id() -> None:
    attempt, outcome = classify(200, b'{"requestId": "abc"}', {}, now=NOW)
    assert isinstance(outcome, Delivered)
    assert attempt.trace_id == "abc"


def test_an_invalid_event_is_rejected_with_google_s_reason() -> None:
    error = sandbox_errors.invalid_argument(
        [
            FieldViolation(
                "events[3].userData.userIdentifiers[0].emailAddress",
                "The HEX encoded value is malformed: send the SHA-256 hash.",
                "INVALID_HEX_ENCODING",
            )
        ]
    )
    attempt, outcome = classify(*answer(error), now=NOW)
    assert isinstance(outcome, Rejected)
    assert "INVALID_HEX_ENCODING" in outcome.reason
    assert "events[3].userData.userIdentifiers[0].emailAddress" in outcome.reason
    assert attempt.trace_id == "req-1" and attempt.http_status == 400


def test_a_wrong_destination_pauses() -> None:
    error = sandbox_errors.invalid_argument(
        [
            FieldViolation(
                "destinations[0].productDestinationId",
                "Conversion action ID is not valid.",
                "INVALID_CONVERSION_ACTION_ID",
            )
        ]
    )
    _, outcome = classify(*answer(error), now=NOW)
    assert isinstance(outcome, Paused)
    assert "conversion_action_id" in outcome.fix


def test_a_body_too_large_is_rejected_so_the_batch_is_split() -> None:
    _, outcome = classify(*answer(sandbox_errors.body_too_large(8 << 20)), now=NOW)
    assert isinstance(outcome, Rejected)


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        (sandbox_errors.invalid_credentials(expired=True), "set-secret <destination>"),
        (sandbox_errors.credentials_missing(), "set-secret <destination>"),
        (sandbox_errors.insufficient_scope(), "auth/datamanager"),
        (
            sandbox_errors.GoogleError(
                403, "PERMISSION_DENIED", "The caller does not have permission", reason="X"
            ),
            "access to the Google Ads account",
        ),
        (
            sandbox_errors.GoogleError(
                403,
                "PERMISSION_DENIED",
                "Data Manager API has not been used",
                reason="SERVICE_DISABLED",
            ),
            "enable the Data Manager API",
        ),
        (sandbox_errors.not_found("/v2/x"), "api_url"),
    ],
)
def test_credential_and_permission_problems_pause(
    error: sandbox_errors.GoogleError, fix: str
) -> None:
    _, outcome = classify(*answer(error), now=NOW)
    assert isinstance(outcome, Paused)
    assert fix in outcome.fix


@pytest.mark.parametrize(
    ("error", "after"),
    [
        (sandbox_errors.throttled(30), 30.0),
        (sandbox_errors.throttled(None), DEFAULT_THROTTLE_SECONDS),
        (sandbox_errors.quota_exceeded("my-project", 300, "minute"), DEFAULT_THROTTLE_SECONDS),
    ],
)
def test_throttling_waits(error: sandbox_errors.GoogleError, after: float) -> None:
    _, outcome = classify(*answer(error), now=NOW)
    assert isinstance(outcome, Retry) and outcome.throttled
    assert outcome.after == after


def test_retry_info_without_a_header() -> None:
    status, body, _ = answer(sandbox_errors.throttled(12))
    _, outcome = classify(status, body, {}, now=NOW)
    assert isinstance(outcome, Retry) and outcome.after == 12.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_retry(status: int) -> None:
    _, outcome = classify(*answer(sandbox_errors.server_error(status)), now=NOW)
    assert isinstance(outcome, Retry) and not outcome.throttled


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (None, b"", Retry),
        (502, b"<html>Bad Gateway</html>", Retry),
        (429, b"", Retry),
        (400, b"nope", Rejected),
        (403, b"", Paused),
    ],
)
def test_answers_that_are_not_google_s(status: int | None, body: bytes, kind: Any) -> None:
    _, outcome = classify(status, body, {}, now=NOW)
    assert isinstance(outcome, kind)


def test_messages_never_carry_personal_data() -> None:
    error = sandbox_errors.invalid_argument(
        [
            FieldViolation(
                "events[0].eventDeviceInfo.ipAddress",
                "bad 203.0.113.9 jane@x.com",
                "INVALID_FORMAT",
            )
        ]
    )
    attempt, outcome = classify(*answer(error), now=NOW)
    text = (attempt.message or "") + getattr(outcome, "reason", "")
    assert "203.0.113.9" not in text and "jane@x.com" not in text
