"""Google Ads' claims (``sinks/google/reporting.py``): the searchStream requests, the parsing
of its answers, the errors, ``missing`` and the new options; ``fetch`` against a fake API
(the sandbox's end-to-end test is in ``tests/sandbox/google/test_reporting.py``)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks import checked_config
from signalyard.sinks.google import SPEC, GoogleConfig
from signalyard.sinks.google.config import ADS_API_VERSION, ADWORDS_SCOPE
from signalyard.sinks.google.reporting import (
    ACCOUNT_QUERY,
    COUNTED,
    REPORTING,
    account_of,
    batches,
    claims_of,
    claims_query,
    error_of,
    fetch,
    merge,
    missing,
    request,
    spend_of,
    spend_query,
)
from signalyard.sinks.reporting import MAX_PAGES, AccountReport, ClaimRow, ReportingError

from .conftest import CLIENT_SECRET, REFRESH_TOKEN, user_secrets

pytestmark = pytest.mark.anyio

IDS = {"operating_account_id": "123-456-7890", "conversion_action_id": "987654321"}
DEV_TOKEN = "ABCdef123-developer_tok"
ACCESS = "ya29.test-access-token-0123456789"
D1, D2 = datetime.date(2026, 12, 1), datetime.date(2026, 12, 2)
URL = f"https://googleads.googleapis.com/{ADS_API_VERSION}/customers/1234567890/googleAds:searchStream"


def config(**options: object) -> GoogleConfig:
    secrets = {**user_secrets(), "developer_token": Secret(DEV_TOKEN)}
    return GoogleConfig.from_mapping({**IDS, **options}, secrets)


def ads_body(*batches_: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        [{"results": rows, "fieldMask": "x", "requestId": "r"} for rows in batches_]
    )


def failure(http: int, status: str, code: dict[str, str], message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": http,
            "message": "Request contains an invalid argument.",
            "status": status,
            "details": [
                {
                    "@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
                    "errors": [{"errorCode": code, "message": message}],
                    "requestId": "req-1",
                }
            ],
        }
    }


# --- options and the spec -----------------------------------------------------------------


def test_spec_declares_reporting() -> None:
    assert SPEC.reporting is REPORTING
    assert REPORTING.counted == COUNTED and "all_conversions" in COUNTED
    assert "ads_api_url" in SPEC.url_options
    field = next(f for f in SPEC.secret_fields if f.name == "developer_token")
    assert not field.required and "API Center" in field.help


def test_new_options_round_trip() -> None:
    c = config(
        ads_api_url="https://ads.example/", ads_api_version="V25", login_account_id="111-222-3333"
    )
    assert c.ads_api_url == "https://ads.example" and c.ads_api_version == "v25"
    assert c.developer_token == Secret(DEV_TOKEN)
    assert (
        c.search_stream_url == "https://ads.example/v25/customers/1234567890/googleAds:searchStream"
    )
    assert c.to_mapping() == {
        "operating_account_id": "1234567890",
        "conversion_action_id": "987654321",
        "login_account_id": "1112223333",
        "ads_api_url": "https://ads.example",
        "ads_api_version": "v25",
    }
    assert set(c.to_secrets()) == {"client_id", "client_secret", "refresh_token", "developer_token"}
    assert GoogleConfig.from_mapping(c.to_mapping(), c.to_secrets()) == c
    assert DEV_TOKEN not in repr(c)


def test_defaults_leave_stored_options_unchanged() -> None:
    c = GoogleConfig.from_mapping(IDS, user_secrets())
    assert c.ads_api_url == "https://googleads.googleapis.com"
    assert c.ads_api_version == ADS_API_VERSION
    assert c.developer_token is None
    assert c.search_stream_url == URL
    assert c.to_mapping() == {
        "operating_account_id": "1234567890",
        "conversion_action_id": "987654321",
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ads_api_version": "26"}, "ads_api_version must be"),
        ({"ads_api_version": "v26.1"}, "ads_api_version must be"),
        ({"ads_api_url": "ftp://x"}, "ads_api_url must be an http"),
    ],
)
def test_option_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(**options)


def test_a_developer_token_that_cannot_be_one_is_refused_unshown() -> None:
    with pytest.raises(ConfigError, match="developer_token") as caught:
        GoogleConfig.from_mapping(IDS, {**user_secrets(), "developer_token": Secret(" tok-en\n")})
    assert "tok-en" not in str(caught.value)


def test_sandbox_resolves_the_ads_api_url() -> None:
    c = checked_config(
        "google",
        {**IDS, "ads_api_url": "sandbox"},
        user_secrets(),
        sandbox_url="http://127.0.0.1:8088",
    )
    assert isinstance(c, GoogleConfig)
    assert c.search_stream_url == (
        f"http://127.0.0.1:8088/sandbox/google/{ADS_API_VERSION}/customers/1234567890"
        "/googleAds:searchStream"
    )


def test_missing() -> None:
    assert missing(config()) is None
    why = missing(GoogleConfig.from_mapping(IDS, user_secrets()))
    assert why is not None and "developer_token" in why and "API Center" in why


# --- requests -------------------------------------------------------------------------------


def test_queries() -> None:
    assert ACCOUNT_QUERY == "SELECT customer.currency_code, customer.time_zone FROM customer"
    assert spend_query(D1, D2) == (
        "SELECT segments.date, campaign.id, campaign.name, metrics.cost_micros FROM campaign"
        " WHERE segments.date BETWEEN '2026-12-01' AND '2026-12-02'"
    )
    assert claims_query("1234567890", "987654321", D1, D2) == (
        "SELECT segments.date, campaign.id, campaign.name, metrics.all_conversions,"
        " metrics.all_conversions_value FROM campaign WHERE segments.conversion_action ="
        " 'customers/1234567890/conversionActions/987654321' AND segments.date BETWEEN"
        " '2026-12-01' AND '2026-12-02'"
    )


def test_request_without_a_manager() -> None:
    ask = request(config(), ACCESS, ACCOUNT_QUERY)
    assert (ask.method, ask.url) == ("POST", URL)
    assert ask.body == {"query": ACCOUNT_QUERY}
    assert ask.headers == {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {ACCESS}",
        "developer-token": DEV_TOKEN,
    }
    assert ACCESS not in repr(ask) and DEV_TOKEN not in repr(ask)


def test_request_through_a_manager() -> None:
    ask = request(config(login_account_id="111-222-3333"), ACCESS, ACCOUNT_QUERY)
    assert ask.headers["login-customer-id"] == "1112223333"
    same = request(config(login_account_id="1234567890"), ACCESS, ACCOUNT_QUERY)
    assert "login-customer-id" not in same.headers


# --- answers ------------------------------------------------------------------------------


def test_batches_are_the_pages_of_one_answer() -> None:
    body = ads_body([{"a": 1}, {"a": 2}], [], [{"a": 3}])
    assert batches(200, body) == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert batches(200, b"[]") == []
    assert batches(200, orjson.dumps([{"fieldMask": "x", "requestId": "r"}])) == []


@pytest.mark.parametrize(
    "body",
    [b"<html>", b'{"results": []}', b"[1]", b'[{"results": {"a": 1}}]', b'[{"results": [1]}]'],
)
def test_an_unexpected_body(body: bytes) -> None:
    with pytest.raises(ReportingError, match="answered an unexpected body") as caught:
        batches(200, body)
    assert caught.value.fix


def test_too_many_batches() -> None:
    body = orjson.dumps([{"results": []}] * (MAX_PAGES + 1))
    with pytest.raises(ReportingError, match=f"more than {MAX_PAGES}"):
        batches(200, body)


def test_account() -> None:
    rows = [
        {
            "customer": {
                "resourceName": "customers/1",
                "currencyCode": "EUR",
                "timeZone": "Europe/Paris",
            }
        }
    ]
    assert account_of(rows) == ("EUR", "Europe/Paris")
    with pytest.raises(ReportingError, match="unexpected body"):
        account_of([])
    with pytest.raises(ReportingError, match=r"customer\.timeZone"):
        account_of([{"customer": {"currencyCode": "EUR"}}])


def campaign_row(day: str, cid: str, name: str | None, **metrics: Any) -> dict[str, Any]:
    campaign: dict[str, Any] = {"resourceName": f"customers/1/campaigns/{cid}", "id": cid}
    if name is not None:
        campaign["name"] = name
    return {"segments": {"date": day}, "campaign": campaign, "metrics": metrics}


def test_spend_in_micros_exactly() -> None:
    rows = [
        campaign_row("2026-12-01", "11", "Spring", costMicros="12500000"),
        campaign_row("2026-12-01", "22", "Big", costMicros="123456789012345678"),
        campaign_row("2026-12-02", "11", "Spring"),  # Google leaves zero metrics out
    ]
    assert spend_of(rows) == {
        ("2026-12-01", "11"): ("Spring", Decimal("12.5")),
        ("2026-12-01", "22"): ("Big", Decimal("123456789012.345678")),
        ("2026-12-02", "11"): ("Spring", Decimal(0)),
    }


@pytest.mark.parametrize(
    "row",
    [
        campaign_row("2026-12-01", "11", "S", costMicros="12x"),
        campaign_row("2026-12-01", "11", "S", costMicros=True),
        campaign_row("2026-12-01", "11", "S", costMicros="NaN"),
        campaign_row("2026-12-01", "11", "S", costMicros="1e40"),
        campaign_row("2026-12-01", "11", "S", costMicros="-1"),
        campaign_row("20261201", "11", "S", costMicros="1"),
        {"campaign": {"id": "11"}, "metrics": {"costMicros": "1"}},
        {"segments": {"date": "2026-12-01"}, "metrics": {"costMicros": "1"}},
    ],
)
def test_a_bad_spend_row(row: dict[str, Any]) -> None:
    with pytest.raises(ReportingError, match="unexpected body"):
        spend_of([row])


def test_claims_exactly() -> None:
    rows = [
        campaign_row("2026-12-01", "11", "Spring", allConversions=2.5, allConversionsValue=19.99),
        campaign_row("2026-12-01", "22", "Big", allConversions=1, allConversionsValue=0.1),
        campaign_row("2026-12-01", "22", "Big", allConversions=1, allConversionsValue=0.2),
    ]
    assert claims_of(rows) == {
        ("2026-12-01", "11"): ("Spring", Decimal("2.5"), Decimal("19.99")),
        ("2026-12-01", "22"): ("Big", Decimal("2"), Decimal("0.3")),  # not 0.30000000000000004
    }


def test_merge_by_day_and_campaign() -> None:
    spend = {
        ("2026-12-01", "11"): ("Spring", Decimal("12.5")),
        ("2026-12-01", "33"): ("Spring", Decimal("1")),  # another campaign, same name
        ("2026-12-02", "22"): ("", Decimal("3")),  # no name: its id
        ("2026-12-02", "44"): ("Idle", Decimal(0)),  # nothing: left out
    }
    claims = {
        ("2026-12-01", "11"): ("Spring", Decimal("2"), Decimal("40")),
        ("2026-12-02", "55"): ("Late", Decimal("1"), Decimal("5.5")),
    }
    assert merge(spend, claims) == (
        ClaimRow("2026-12-01", "Spring", Decimal("2"), Decimal("40"), Decimal("13.5")),
        ClaimRow("2026-12-02", "22", Decimal(0), Decimal(0), Decimal("3")),
        ClaimRow("2026-12-02", "Late", Decimal("1"), Decimal("5.5"), Decimal(0)),
    )


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("http", "body", "in_reason", "in_fix"),
    [
        (
            403,
            failure(
                403,
                "PERMISSION_DENIED",
                {"authorizationError": "USER_PERMISSION_DENIED"},
                "No access.",
            ),
            "authorizationError USER_PERMISSION_DENIED",
            "login_account_id",
        ),
        (
            403,
            failure(
                403,
                "PERMISSION_DENIED",
                {"authorizationError": "DEVELOPER_TOKEN_NOT_APPROVED"},
                "The developer token is only approved for use with test accounts.",
            ),
            "DEVELOPER_TOKEN_NOT_APPROVED",
            "Basic access",
        ),
        (
            400,
            failure(
                400, "INVALID_ARGUMENT", {"requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"}, "x"
            ),
            "DEVELOPER_TOKEN_PARAMETER_MISSING",
            "set-secret <destination> developer_token",
        ),
        (
            401,
            failure(
                401, "UNAUTHENTICATED", {"authenticationError": "DEVELOPER_TOKEN_INVALID"}, "x"
            ),
            "UNAUTHENTICATED",
            "developer_token",
        ),
        (
            400,
            failure(
                400, "INVALID_ARGUMENT", {"queryError": "UNRECOGNIZED_FIELD"}, "Unrecognized field."
            ),
            "queryError UNRECOGNIZED_FIELD",
            "ads_api_version",
        ),
        (
            429,
            failure(429, "RESOURCE_EXHAUSTED", {"quotaError": "RESOURCE_EXHAUSTED"}, "Too many."),
            "RESOURCE_EXHAUSTED",
            "later",
        ),
        (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "Request had insufficient authentication scopes.",
                    "status": "PERMISSION_DENIED",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                        }
                    ],
                }
            },
            "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            ADWORDS_SCOPE,
        ),
        (
            401,
            {
                "error": {
                    "code": 401,
                    "message": "Request had invalid authentication credentials.",
                    "status": "UNAUTHENTICATED",
                }
            },
            "HTTP 401 (UNAUTHENTICATED): Request had invalid",
            "refresh_token",
        ),
        (
            503,
            {"error": {"code": 503, "message": "Unavailable.", "status": "UNAVAILABLE"}},
            "HTTP 503",
            "later",
        ),
        (
            404,
            {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}},
            "HTTP 404",
            "ads_api_url",
        ),
    ],
)
def test_errors_are_classified(
    http: int, body: dict[str, Any], in_reason: str, in_fix: str
) -> None:
    for shape in (body, [body]):  # alone, or as the one element of a stream's array
        error = error_of(http, orjson.dumps(shape), "1234567890")
        assert in_reason in error.reason, error.reason
        assert in_fix in error.fix, error.fix
        assert error.reason.startswith(f"the Google Ads API answered HTTP {http}")
    with pytest.raises(ReportingError) as caught:
        batches(http, orjson.dumps([body]))
    assert in_reason in caught.value.reason


def test_an_error_body_that_is_not_googles() -> None:
    error = error_of(502, b"<html>bad gateway</html>")
    assert error.reason == "the Google Ads API answered HTTP 502 with an unexpected body"
    assert "later" in error.fix


# --- fetch against a fake API -----------------------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


def fake_api(answers: dict[str, httpx.Response], seen: list[httpx.Request]) -> Handler:
    """The token endpoint, and searchStream answering by the query's resource and metrics."""

    def handle(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if req.url.path == "/token":
            return httpx.Response(200, json={"access_token": ACCESS, "expires_in": 3599})
        query = orjson.loads(req.content)["query"]
        kind = (
            "account"
            if "FROM customer" in query
            else "spend"
            if "cost_micros" in query
            else "claims"
        )
        return answers[kind]

    return handle


ACCOUNT_ROWS = [{"customer": {"currencyCode": "EUR", "timeZone": "Europe/Paris"}}]
GOOD = {
    "account": httpx.Response(200, content=ads_body(ACCOUNT_ROWS)),
    "spend": httpx.Response(
        200,
        content=ads_body(
            [campaign_row("2026-12-01", "11", "Spring", costMicros="12500000")],
            [campaign_row("2026-12-02", "11", "Spring", costMicros="1000000")],
        ),
    ),
    "claims": httpx.Response(
        200,
        content=ads_body(
            [campaign_row("2026-12-01", "11", "Spring", allConversions=2, allConversionsValue=80.1)]
        ),
    ),
}


async def run(
    answers: dict[str, httpx.Response], seen: list[httpx.Request], **options: object
) -> AccountReport:
    transport = httpx.MockTransport(fake_api(answers, seen))
    async with httpx.AsyncClient(transport=transport) as client:
        return await fetch(config(**options), client, D1, D2)


async def test_fetch() -> None:
    seen: list[httpx.Request] = []
    report = await run(GOOD, seen)
    assert report == AccountReport(
        account_id="1234567890",
        currency="EUR",
        time_zone="Europe/Paris",
        counted=COUNTED,
        rows=(
            ClaimRow("2026-12-01", "Spring", Decimal("2"), Decimal("80.1"), Decimal("12.5")),
            ClaimRow("2026-12-02", "Spring", Decimal(0), Decimal(0), Decimal("1")),
        ),
    )
    token, *searches = seen
    form = dict(parse_qsl(token.content.decode()))
    assert form["grant_type"] == "refresh_token" and form["scope"] == ADWORDS_SCOPE
    assert [str(r.url) for r in searches] == [URL] * 3
    assert all(r.headers["developer-token"] == DEV_TOKEN for r in searches)
    assert all(r.headers["authorization"] == f"Bearer {ACCESS}" for r in searches)
    queries = [orjson.loads(r.content)["query"] for r in searches]
    assert queries == [
        ACCOUNT_QUERY,
        spend_query(D1, D2),
        claims_query("1234567890", "987654321", D1, D2),
    ]


async def test_fetch_errors_show_no_secret() -> None:
    echo = failure(
        403,
        "PERMISSION_DENIED",
        {"authorizationError": "USER_PERMISSION_DENIED"},
        f"token {ACCESS} developer {DEV_TOKEN} refresh {REFRESH_TOKEN} secret {CLIENT_SECRET}",
    )
    answers = {**GOOD, "spend": httpx.Response(403, content=orjson.dumps([echo]))}
    with pytest.raises(ReportingError) as caught:
        await run(answers, [])
    text = caught.value.reason + caught.value.fix
    assert "USER_PERMISSION_DENIED" in text
    for secret in (ACCESS, DEV_TOKEN, REFRESH_TOKEN, CLIENT_SECRET):
        assert secret not in text


async def test_fetch_without_a_developer_token() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake_api(GOOD, []))) as client:
        with pytest.raises(ReportingError, match="developer_token") as caught:
            await fetch(GoogleConfig.from_mapping(IDS, user_secrets()), client, D1, D2)
    assert "set-secret" in caught.value.fix


async def test_fetch_a_backwards_range() -> None:
    seen: list[httpx.Request] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake_api(GOOD, seen))) as client:
        with pytest.raises(ReportingError, match="before"):
            await fetch(config(), client, D2, D1)
    assert seen == []


async def test_fetch_when_the_token_is_refused() -> None:
    def handle(req: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": "invalid_scope", "error_description": "Bad scope"}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError, match="HTTP 400") as caught:
            await fetch(config(), client, D1, D2)
    assert ADWORDS_SCOPE in caught.value.fix


async def test_fetch_without_an_answer() -> None:
    def handle(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/token":
            return httpx.Response(200, json={"access_token": ACCESS, "expires_in": 3599})
        raise httpx.ConnectError("refused", request=req)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError, match="no answer from the Google Ads API") as caught:
            await fetch(config(), client, D1, D2)
    assert "ConnectError" in caught.value.reason and ACCESS not in caught.value.reason


async def test_fetch_an_unexpected_body() -> None:
    answers = {**GOOD, "claims": httpx.Response(200, content=b'{"results": []}')}
    with pytest.raises(ReportingError, match="unexpected body"):
        await run(answers, [])
