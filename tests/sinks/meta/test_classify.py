"""Every row of the retry table (reference §1.7/§1.8), with Graph-shaped answers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from signalyard.outcome import Attempt, Delivered, Outcome, Paused, Rejected, Retry
from signalyard.sinks.meta.classify import MAX_MESSAGE, classify, classify_healthcheck, scrub

NOW = 1_800_000_000.0
TRACE = "AXyZ1234abcdEFGH"


def graph_error(
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    type: str = "OAuthException",
    is_transient: bool | None = False,
    title: str | None = None,
    user_msg: str | None = None,
) -> bytes:
    error: dict[str, Any] = {"message": message, "type": type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    if title is not None:
        error["error_user_title"] = title
    if user_msg is not None:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = TRACE
    return orjson.dumps({"error": error})


def run(
    status: int | None, body: bytes, headers: dict[str, str] | None = None, n_events: int = 3
) -> tuple[Attempt, Outcome]:
    return classify(status, body, headers or {}, n_events=n_events, now=NOW)


def test_delivered() -> None:
    body = b'{"events_received":3,"messages":[],"fbtrace_id":"ATHEd8F7xyz"}'
    attempt, outcome = run(200, body)
    assert outcome == Delivered()
    assert attempt == Attempt(200, trace_id="ATHEd8F7xyz")


def test_delivered_keeps_meta_messages() -> None:
    body = b'{"events_received":1,"messages":["a warning"],"fbtrace_id":"T"}'
    attempt, outcome = run(200, body, n_events=1)
    assert outcome == Delivered()
    assert attempt.message == "a warning"


def test_fewer_events_received_is_a_retry() -> None:
    attempt, outcome = run(200, b'{"events_received":2,"messages":[],"fbtrace_id":"T"}')
    assert outcome == Retry("Meta received 2 of 3 events")
    assert attempt.http_status == 200


@pytest.mark.parametrize("body", [b"", b"<html>ok</html>", b'{"success":true}', b"[1]"])
def test_2xx_without_events_received_is_a_retry(body: bytes) -> None:
    _, outcome = run(200, body)
    assert isinstance(outcome, Retry) and not outcome.throttled


THROTTLED = [
    (400, graph_error(4, "(#4) Application request limit reached", is_transient=True)),
    (
        400,
        graph_error(
            17,
            "(#17) User request limit reached",
            subcode=2446079,
            is_transient=True,
            title="Too Many Calls",
        ),
    ),
    (400, graph_error(32, "(#32) Page request limit reached")),
    (
        400,
        graph_error(613, "(#613) Calls to this api have exceeded the rate limit.", subcode=1487742),
    ),
    (400, graph_error(80000, "There have been too many calls from this ad-account.")),
    (400, graph_error(80004, "There have been too many calls to this ad-account.")),
    (400, graph_error(80014, "There have been too many calls.")),
]


@pytest.mark.parametrize(("status", "body"), THROTTLED)
def test_throttling_codes(status: int, body: bytes) -> None:
    attempt, outcome = run(status, body)
    assert isinstance(outcome, Retry)
    assert outcome.throttled and outcome.after is None
    assert attempt.code == orjson.loads(body)["error"]["code"]
    assert attempt.trace_id == TRACE


BUC = {
    "x-business-use-case-usage": orjson.dumps(
        {
            "123456789012345": [
                {"type": "ads_management", "call_count": 100, "total_cputime": 25,
                 "total_time": 25, "estimated_time_to_regain_access": 12,
                 "ads_api_access_tier": "standard_access"},
                {"type": "custom_audience", "call_count": 3, "total_cputime": 1,
                 "total_time": 1, "estimated_time_to_regain_access": 0},
            ],
            "987": [{"type": "ads_insights", "call_count": 100,
                     "estimated_time_to_regain_access": 30}],
        }
    ).decode()
}  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "after"),
    [
        (BUC, 30 * 60.0),
        ({"X-Business-Use-Case-Usage": BUC["x-business-use-case-usage"]}, 30 * 60.0),
        ({"x-business-use-case-usage": "not json"}, None),
        ({"x-business-use-case-usage": '{"1":[{"estimated_time_to_regain_access":0}]}'}, None),
        ({"x-app-usage": '{"call_count":100,"total_cputime":20,"total_time":30}'}, None),
        ({"x-app-usage": '{"call_count":100,"estimated_time_to_regain_access":5}'}, 300.0),
        (
            {"x-ad-account-usage": '{"acc_id_util_pct":100,"reset_time_duration":90,'
             '"ads_api_access_tier":"standard_access"}'},
            90.0,
        ),
        ({"retry-after": "45"}, 45.0),
        ({"retry-after": "Fri, 15 Jan 2027 08:01:40 GMT"}, 100.0),
        ({"retry-after": "soon"}, None),
        ({**BUC, "retry-after": "7200"}, 7200.0),
    ],
)  # fmt: skip
def test_throttling_waits_as_told(headers: dict[str, str], after: float | None) -> None:
    now = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
    body = graph_error(80004, "There have been too many calls to this ad-account.", subcode=2446079)
    _, outcome = classify(400, body, headers, n_events=1, now=now)
    assert isinstance(outcome, Retry)
    assert (outcome.after, outcome.throttled) == (after, True)


TRANSIENT = [
    (500, graph_error(1, "An unknown error occurred", type="OAuthException", is_transient=True)),
    (400, graph_error(1, "An unknown error occurred", is_transient=None)),
    (503, graph_error(2, "An unexpected error has occurred. Please retry your request later.",
                      is_transient=True)),
    (400, graph_error(341, "(#341) Application limit reached")),
    (400, graph_error(100, "Invalid parameter", subcode=2804019, is_transient=True)),
    (500, graph_error(9007, "Some new error", type="FacebookApiException")),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body"), TRANSIENT)
def test_transient_errors(status: int, body: bytes) -> None:
    attempt, outcome = run(status, body)
    assert isinstance(outcome, Retry)
    assert not outcome.throttled and outcome.after is None
    assert attempt.http_status == status and attempt.trace_id == TRACE


EXPIRED = (
    "Error validating access token: Session has expired on Thursday, 14-Jan-27 00:00:00 PST. "
    "The current time is Friday, 15-Jan-27 00:00:00 PST."
)
PAUSED = [
    (400, graph_error(190, EXPIRED, subcode=463), 190, 463, "the access token expired"),
    (401, graph_error(190, "Invalid OAuth access token - Cannot parse access token"), 190, None,
     "refused the access token"),
    (400, graph_error(190, "Error validating access token: The session is invalid because the "
                      "user logged out.", subcode=467), 190, 467, "invalid"),
    (400, graph_error(190, "Error validating access token: The session has been invalidated "
                      "because the user changed their password.", subcode=460), 190, 460,
     "password"),
    (400, graph_error(190, "Error validating application.", subcode=458), 190, 458, "installed"),
    (400, graph_error(190, "Checkpointed", subcode=459), 190, 459, "checkpoint"),
    (400, graph_error(190, "Unconfirmed", subcode=464), 190, 464, "confirmed"),
    (400, graph_error(190, "Invalid session", subcode=492), 190, 492, "session"),
    (400, graph_error(102, "Session key invalid or no longer valid"), 102, None, "session"),
    (400, graph_error(104, "An access token is required to request this resource."), 104, None,
     "no access token"),
    (403, graph_error(10, "(#10) Application does not have permission for this action"), 10, None,
     "permission"),
    (403, graph_error(200, "(#200) Permissions error"), 200, None, "permission"),
    (403, graph_error(270, "(#270) This Ads API request is not allowed for apps with development "
                      "access level"), 270, None, "permission"),
    (400, graph_error(3, "(#3) Application does not have the capability to make this API call."),
     3, None, "Conversions API"),
    (400, graph_error(100, "Unsupported post request. Object with ID '123456789012345' does not "
                      "exist, cannot be loaded due to missing permissions, or does not support "
                      "this operation. Please read the Graph API documentation at "
                      "https://developers.facebook.com/docs/graph-api", subcode=33,
                      type="GraphMethodException"), 100, 33, "dataset (pixel)"),
    (400, graph_error(368, "The action attempted has been deemed abusive or is otherwise "
                      "disallowed"), 368, None, "blocked"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "code", "subcode", "says"), PAUSED)
def test_auth_and_permission_errors_pause(
    status: int, body: bytes, code: int, subcode: int | None, says: str
) -> None:
    attempt, outcome = run(status, body)
    assert isinstance(outcome, Paused)
    assert (outcome.code, outcome.subcode) == (code, subcode)
    assert says in outcome.reason
    assert outcome.fix
    assert (attempt.http_status, attempt.code, attempt.subcode) == (status, code, subcode)
    assert attempt.trace_id == TRACE
    assert attempt.message and len(attempt.message) <= MAX_MESSAGE


def test_expired_token_says_how_to_fix_it() -> None:
    _, outcome = run(400, graph_error(190, EXPIRED, subcode=463))
    assert isinstance(outcome, Paused)
    assert outcome.reason.startswith("the access token expired")
    assert outcome.fix == (
        "create a new one in Events Manager or Business Manager and set it with "
        "`signalyard destinations set-token <destination>`"
    )
    assert outcome.fix_for("meta prod").endswith("`signalyard destinations set-token 'meta prod'`")


REJECTED = [
    (400, graph_error(100, "Invalid parameter", subcode=2804003, title="Event Timestamp Too Old",
                      user_msg="The timestamp for this event is too far in the past. Events "
                      "need to be sent from your server within 7 days of when they occurred."),
     2804003, "Event Timestamp Too Old"),
    (400, graph_error(100, "Invalid parameter", subcode=2804050,
                      title="Ikke nok kundeoplysningsparametre",
                      user_msg="Tilføj flere parametre for kundeoplysninger."), 2804050,
     "Ikke nok"),
    (400, graph_error(100, "Invalid parameter", subcode=2804019), 2804019, "Invalid parameter"),
    (400, graph_error(100, "(#100) param data must be an array."), None, "param data"),
    (400, graph_error(506, "(#506) Duplicate status message"), None, "506"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "subcode", "says"), REJECTED)
def test_invalid_events_are_rejected(
    status: int, body: bytes, subcode: int | None, says: str
) -> None:
    attempt, outcome = run(status, body)
    assert isinstance(outcome, Rejected)
    assert outcome.subcode == subcode and attempt.subcode == subcode
    assert says in outcome.reason
    assert len(outcome.reason) <= MAX_MESSAGE
    assert attempt.trace_id == TRACE


@pytest.mark.parametrize(
    ("status", "kind", "throttled"),
    [
        (500, Retry, False),
        (502, Retry, False),
        (503, Retry, False),
        (504, Retry, False),
        (408, Retry, False),
        (429, Retry, True),
        (400, Rejected, False),
        (413, Rejected, False),
        (422, Rejected, False),
        (409, Rejected, False),
        (401, Paused, False),
        (403, Paused, False),
        (404, Paused, False),
        (301, Paused, False),
        (199, Retry, False),
    ],
)
@pytest.mark.parametrize("body", [b"", b"<html><body>Bad Gateway</body></html>", b"{}"])
def test_answers_without_a_graph_error_follow_the_status(
    status: int, kind: type, throttled: bool, body: bytes
) -> None:
    attempt, outcome = run(status, body, {"X-FB-Trace-ID": "HDRTRACE"})
    assert isinstance(outcome, kind)
    assert getattr(outcome, "throttled", False) is throttled
    assert attempt.http_status == status and attempt.code is None
    assert attempt.trace_id == "HDRTRACE"


def test_5xx_honours_retry_after() -> None:
    _, outcome = run(503, b"", {"Retry-After": "20"})
    assert isinstance(outcome, Retry) and outcome.after == 20.0


def test_error_string_body() -> None:
    attempt, outcome = run(400, b'{"error":"bad request"}')
    assert isinstance(outcome, Rejected) and "bad request" in outcome.reason
    assert attempt.message == "bad request"


def test_no_answer_is_a_retry() -> None:
    attempt, outcome = run(None, b"")
    assert isinstance(outcome, Retry) and not outcome.throttled
    assert attempt.http_status is None


def test_trace_id_from_the_body_wins_over_the_header() -> None:
    attempt, _ = run(400, graph_error(100, "Invalid parameter"), {"x-fb-trace-id": "HDR"})
    assert attempt.trace_id == TRACE


def test_messages_are_scrubbed_and_cut() -> None:
    body = graph_error(
        100,
        "Invalid parameter",
        subcode=2804019,
        title="Bad value",
        user_msg="john.smith@example.com from 203.0.113.7 and 2001:db8:0:0::7 " + "x" * 500,
    )
    attempt, outcome = run(400, body)
    assert isinstance(outcome, Rejected)
    for text in (attempt.message or "", outcome.reason):
        assert "john.smith" not in text and "203.0.113.7" not in text and "2001:db8" not in text
        assert len(text) <= MAX_MESSAGE
    assert "[email]" in outcome.reason and "[ip]" in outcome.reason


def test_scrub_keeps_ordinary_text() -> None:
    text = "(#100) Invalid parameter at 12:30:45, version v26.0, id 123456789012345"
    assert scrub(text) == text


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, b'{"id":"123456789012345"}', Delivered),
        (200, b"{}", Retry),
        (400, graph_error(190, EXPIRED, subcode=463), Paused),
        (400, graph_error(100, "Unsupported get request.", subcode=33), Paused),
        (400, graph_error(17, "(#17) User request limit reached", subcode=2446079), Retry),
        (502, b"", Retry),
        (None, b"", Retry),
    ],
)
def test_healthcheck(status: int | None, body: bytes, kind: type) -> None:
    _, outcome = classify_healthcheck(status, body, {}, now=NOW)
    assert isinstance(outcome, kind)
