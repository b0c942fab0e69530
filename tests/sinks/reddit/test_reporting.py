"""Reddit's claims, the sink side: the Ads API v3 requests built (ad account, campaigns,
reports), the answers read (pages, exact amounts in micros and cents, missing fields,
Reddit's refusals with their fixes, never a token), ``missing()``, the new secret, and
``fetch`` over a mock transport (names, pages, repeated tokens, transport errors)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from signalyard.secret import Secret
from signalyard.sinks.reddit import SPEC, reporting
from signalyard.sinks.reddit.config import SECRET_FIELDS, RedditConfig
from signalyard.sinks.reddit.reporting import (
    BREAKDOWNS,
    COUNTED,
    FIELDS,
    PAGE_SIZE,
    REPORTING,
    Line,
    account_request,
    campaigns_request,
    fetch,
    missing,
    parse_account,
    parse_campaigns,
    parse_report,
    refusal,
    report_request,
)
from signalyard.sinks.reporting import MAX_PAGES, AccountReport, ClaimRow, ReportingError

pytestmark = pytest.mark.anyio

ACCOUNT = "a2_abc123xyz"
CONVERSION_TOKEN = "conversion-token-" + "c" * 30
REPORT_TOKEN = "ads-api-oauth-token-" + "r" * 30
D = datetime.date
BASE = f"https://ads-api.reddit.com/api/v3/ad_accounts/{ACCOUNT}"


def config(**changes: Any) -> RedditConfig:
    fields: dict[str, Any] = {
        "ad_account_id": ACCOUNT,
        "access_token": Secret(CONVERSION_TOKEN),
        "reporting_access_token": Secret(REPORT_TOKEN),
    }
    fields.update(changes)
    return RedditConfig(**fields)


def account(**fields: Any) -> bytes:
    data = {"id": ACCOUNT, "currency": "eur", "time_zone_id": "Europe/Paris"}
    data.update(fields)
    return orjson.dumps({"data": data})


def campaigns(items: list[Any], next_url: str | None = None) -> bytes:
    return orjson.dumps({"data": items, "pagination": {"next_url": next_url}})


def metric(day: str, campaign_id: Any, spend: Any, count: Any, value: Any) -> dict[str, Any]:
    return {
        "date": day,
        "campaign_id": campaign_id,
        "spend": spend,
        "conversion_purchase_clicks": count,
        "conversion_purchase_total_value": value,
    }


def report(rows: list[Any], next_url: str | None = None) -> bytes:
    return orjson.dumps({"data": {"metrics": rows}, "pagination": {"next_url": next_url}})


def no_token(error: ReportingError) -> None:
    text = f"{error.reason} {error.fix} {error!r}"
    assert CONVERSION_TOKEN not in text and REPORT_TOKEN not in text


# --- the spec and the secret ---------------------------------------------------------------


def test_the_spec_declares_reporting() -> None:
    assert SPEC.reporting is REPORTING
    assert REPORTING.counted == COUNTED
    assert "CONVERSION_PURCHASE_CLICKS" in COUNTED and "28 days" in COUNTED
    assert REPORTING.example == {"ad_account_id": "1234567890"}
    assert REPORTING.scope(config()) == f"{ACCOUNT} CONVERSION_PURCHASE_CLICKS"
    assert REPORTING.scope(config(reporting_access_token=None)) == REPORTING.scope(config())


def test_missing_is_none_as_the_account_is_required() -> None:
    assert missing(config()) is None
    assert missing(config(reporting_access_token=None)) is None
    with pytest.raises(TypeError):
        missing(object())


def test_the_secret_is_optional() -> None:
    token, reporting_token = SECRET_FIELDS
    assert (token.name, token.required) == ("access_token", True)
    assert (reporting_token.name, reporting_token.required) == ("reporting_access_token", False)
    assert "adsread" in reporting_token.help


def test_the_secret_round_trips() -> None:
    secrets = {
        "access_token": Secret(CONVERSION_TOKEN),
        "reporting_access_token": Secret(REPORT_TOKEN),
    }
    loaded = RedditConfig.from_mapping({"ad_account_id": ACCOUNT}, secrets)
    assert loaded == config()
    assert loaded.to_mapping() == {"ad_account_id": ACCOUNT}
    assert loaded.to_secrets() == secrets
    assert RedditConfig.from_mapping(loaded.to_mapping(), loaded.to_secrets()) == loaded
    for text in (repr(loaded), str(loaded), repr(loaded.to_mapping())):
        assert REPORT_TOKEN not in text and CONVERSION_TOKEN not in text


def test_without_it_a_destination_is_unchanged() -> None:
    loaded = RedditConfig.from_mapping(
        {"ad_account_id": ACCOUNT}, {"access_token": Secret(CONVERSION_TOKEN)}
    )
    assert loaded.reporting_access_token is None
    assert set(loaded.to_secrets()) == {"access_token"}


# --- requests ------------------------------------------------------------------------------


def test_the_account_request() -> None:
    request = account_request(config())
    assert (request.method, request.url, request.params, request.body) == ("GET", BASE, {}, None)
    assert request.headers["Authorization"] == f"Bearer {REPORT_TOKEN}"
    assert REPORT_TOKEN not in repr(request)


def test_the_conversion_token_is_the_fallback() -> None:
    request = account_request(config(reporting_access_token=None))
    assert request.headers["Authorization"] == f"Bearer {CONVERSION_TOKEN}"


def test_the_campaigns_request_pages() -> None:
    first = campaigns_request(config(api_url="http://127.0.0.1:8088/sandbox/reddit/"))
    assert first.method == "GET"
    assert (
        first.url == f"http://127.0.0.1:8088/sandbox/reddit/api/v3/ad_accounts/{ACCOUNT}/campaigns"
    )
    assert first.params == {"page.size": str(PAGE_SIZE)}
    later = campaigns_request(config(), "tok-2")
    assert later.params == {"page.size": str(PAGE_SIZE), "page.token": "tok-2"}


def test_the_report_request() -> None:
    request = report_request(config(), D(2027, 1, 14), D(2027, 1, 15), "Europe/Paris", "p2")
    assert (request.method, request.url) == ("POST", f"{BASE}/reports")
    assert request.params == {"page.size": str(PAGE_SIZE), "page.token": "p2"}
    assert request.body == {
        "data": {
            "starts_at": "2027-01-14T00:00:00Z",
            "ends_at": "2027-01-16T00:00:00Z",
            "time_zone_id": "Europe/Paris",
            "breakdowns": ["DATE", "CAMPAIGN_ID"],
            "fields": ["SPEND", "CONVERSION_PURCHASE_CLICKS", "CONVERSION_PURCHASE_TOTAL_VALUE"],
        }
    }
    assert list(BREAKDOWNS) == request.body["data"]["breakdowns"]
    assert list(FIELDS) == request.body["data"]["fields"]
    assert request.headers["Content-Type"] == "application/json"
    assert REPORT_TOKEN not in orjson.dumps(request.body).decode() + request.url


# --- answers -------------------------------------------------------------------------------


def test_the_account_is_read() -> None:
    assert parse_account(config(), 200, account()) == ("EUR", "Europe/Paris")


@pytest.mark.parametrize(
    "body",
    [
        account(currency=None),
        account(currency="EURO"),
        account(time_zone_id="Mars/Olympus"),
        account(time_zone_id=None),
        orjson.dumps({"data": []}),
        orjson.dumps({"nodata": 1}),
        b"<html>ok</html>",
    ],
)
def test_an_odd_account_is_unexpected(body: bytes) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_account(config(), 200, body)
    assert "unexpected body" in caught.value.reason
    assert "api_url" in caught.value.fix


def test_campaigns_are_read_with_the_next_token() -> None:
    body = campaigns(
        [{"id": "111", "name": " Spring sale "}, {"id": 222, "name": "Retargeting"}, {"id": "3"}],
        f"{BASE}/campaigns?page.size=1000&page.token=abc%3D",
    )
    names, token = parse_campaigns(config(), 200, body)
    assert names == {"111": "Spring sale", "222": "Retargeting"}
    assert token == "abc="
    assert parse_campaigns(config(), 200, campaigns([])) == ({}, None)
    assert parse_campaigns(config(), 200, orjson.dumps({"data": []})) == ({}, None)


@pytest.mark.parametrize(
    "body",
    [
        orjson.dumps({"data": {"id": "1"}}),
        campaigns(["x"]),
        campaigns([{"name": "no id"}]),
        campaigns([], f"{BASE}/campaigns?page.size=10"),
        orjson.dumps({"data": [], "pagination": "next"}),
        orjson.dumps({"data": [], "pagination": {"next_url": 7}}),
    ],
)
def test_odd_campaigns_are_unexpected(body: bytes) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_campaigns(config(), 200, body)
    assert "Reddit's campaigns answered an unexpected body" in caught.value.reason


def test_a_report_page_is_read_exactly() -> None:
    body = report(
        [
            metric("2027-01-14", "111", 12_300_000, 1, 4252),
            metric("2027-01-15T00:00:00Z", 222, "5000001", "2", "10001"),
            metric("2027-01-15", "333", 0, 0, 0),  # nothing: left out
            {"date": "2027-01-13", "campaign_id": "111", "spend": 700_000},  # no conversions
        ],
        f"{BASE}/reports?page.token=p2",
    )
    lines, token = parse_report(config(), 200, body)
    assert lines == [
        Line("2027-01-14", "111", Decimal(1), Decimal("42.52"), Decimal("12.3")),
        Line("2027-01-15", "222", Decimal(2), Decimal("100.01"), Decimal("5.000001")),
        Line("2027-01-13", "111", Decimal(0), Decimal(0), Decimal("0.7")),
    ]
    assert str(lines[0].value) == "42.52"
    assert token == "p2"


@pytest.mark.parametrize(
    ("row", "detail"),
    [
        (metric("2027-01-14", "111", -1, 1, 1), "spend"),
        (metric("2027-01-14", "111", 1, "x", 1), "conversion_purchase_clicks"),
        (metric("2027-01-14", "111", 1, 1, True), "conversion_purchase_total_value"),
        (metric("2027-01-14", "111", 10**19, 1, 1), "spend"),
        (metric("2027-01-14", "111", 1, 1, "1" * 41), "conversion_purchase_total_value"),
        (metric("14/01/2027", "111", 1, 1, 1), "date"),
        (metric("2027-02-30", "111", 1, 1, 1), "date"),
        (metric("2027-01-14", None, 1, 1, 1), "campaign_id"),
        ("row", "not an object"),
    ],
)
def test_an_odd_report_row_is_unexpected(row: Any, detail: str) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_report(config(), 200, report([row]))
    assert "Reddit's report answered an unexpected body" in caught.value.reason
    assert detail in caught.value.reason


def test_a_report_without_metrics_is_unexpected() -> None:
    for body in (orjson.dumps({"data": []}), orjson.dumps({"data": {}}), b"", b"[]"):
        with pytest.raises(ReportingError, match="unexpected body"):
            parse_report(config(), 200, body)


def secret_echo(token: str) -> bytes:
    return orjson.dumps(
        {"error": {"code": 401, "message": f"bad token {token} for alice@example.com"}}
    )


@pytest.mark.parametrize(
    ("status", "body", "said", "fix"),
    [
        (401, b"Authorization Required", "Authorization Required", "missing, invalid or expired"),
        (
            401,
            orjson.dumps(
                {"success": False, "error": {"reason": "UNAUTHORIZED", "explanation": "nope"}}
            ),
            "UNAUTHORIZED: nope",
            "reporting_access_token",
        ),
        (
            403,
            orjson.dumps({"error": {"code": 403, "message": "no access to a2_x"}}),
            "code 403: no access to a2_x",
            "may not read the ad account",
        ),
        (404, orjson.dumps({"error": {"code": 404, "message": "Not Found"}}), "Not Found", "a2_"),
        (400, orjson.dumps({"error": {"code": 400, "message": "bad"}}), "code 400", "range"),
        (429, orjson.dumps({"error": {"code": 429, "message": "Too Many"}}), "429", "throttled"),
        (503, b"", "HTTP 503", "internal error"),
        (418, orjson.dumps({"message": "teapot"}), "teapot", "fetch again later"),
    ],
)
def test_refusals_carry_reddit_s_words_and_a_fix(
    status: int, body: bytes, said: str, fix: str
) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_account(config(), status, body, (REPORT_TOKEN,))
    assert f"HTTP {status}" in caught.value.reason
    assert said in caught.value.reason
    assert fix in caught.value.fix
    no_token(caught.value)


def test_a_token_fix_names_what_was_sent() -> None:
    sent = refusal(config(), "report", 401, b"")
    assert "the reporting_access_token set" in sent.fix
    fallback = refusal(config(reporting_access_token=None), "report", 401, b"")
    assert "conversion access token" in fallback.fix
    assert "set-secret" in fallback.fix and "reporting_access_token" in fallback.fix


def test_a_token_echoed_by_reddit_is_masked() -> None:
    secrets = (CONVERSION_TOKEN, REPORT_TOKEN)
    for token in secrets:
        error = refusal(config(), "report", 401, secret_echo(token), secrets)
        no_token(error)
        assert "alice@example.com" not in error.reason
        assert "bad token" in error.reason


# --- fetch over a mock transport -----------------------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


def client_of(handler: Handler, seen: list[httpx.Request]) -> httpx.AsyncClient:
    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(record))


def answers(request: httpx.Request) -> httpx.Response:
    path, token = request.url.path, request.url.params.get("page.token")
    if path.endswith("/campaigns"):
        if token is None:
            return httpx.Response(
                200,
                content=campaigns(
                    [{"id": "111", "name": "Spring sale"}], f"{BASE}/c?page.token=c2"
                ),
            )
        return httpx.Response(200, content=campaigns([{"id": "222", "name": "Retargeting"}]))
    if path.endswith("/reports"):
        if token is None:
            rows = [metric("2027-01-15", "222", 5_000_000, 1, 2000)]
            return httpx.Response(200, content=report(rows, f"{BASE}/reports?page.token=r2"))
        rows = [
            metric("2027-01-14", "111", 12_300_000, 1, 4252),
            metric("2027-01-15", "999", 0, 1, 700),
        ]
        return httpx.Response(200, content=report(rows))
    return httpx.Response(200, content=account())


async def test_fetch_names_campaigns_and_follows_pages() -> None:
    seen: list[httpx.Request] = []
    async with client_of(answers, seen) as client:
        got = await fetch(config(), client, D(2027, 1, 14), D(2027, 1, 15))
    assert got == AccountReport(
        ACCOUNT,
        "EUR",
        "Europe/Paris",
        COUNTED,
        (
            ClaimRow("2027-01-14", "Spring sale", Decimal(1), Decimal("42.52"), Decimal("12.3")),
            ClaimRow("2027-01-15", "999", Decimal(1), Decimal(7), Decimal(0)),
            ClaimRow("2027-01-15", "Retargeting", Decimal(1), Decimal(20), Decimal(5)),
        ),
    )
    assert [(r.method, r.url.path, r.url.params.get("page.token")) for r in seen] == [
        ("GET", f"/api/v3/ad_accounts/{ACCOUNT}", None),
        ("GET", f"/api/v3/ad_accounts/{ACCOUNT}/campaigns", None),
        ("GET", f"/api/v3/ad_accounts/{ACCOUNT}/campaigns", "c2"),
        ("POST", f"/api/v3/ad_accounts/{ACCOUNT}/reports", None),
        ("POST", f"/api/v3/ad_accounts/{ACCOUNT}/reports", "r2"),
    ]
    for request in seen:
        assert request.url.host == "ads-api.reddit.com"  # never the next_url's own host
        assert request.headers["authorization"] == f"Bearer {REPORT_TOKEN}"
        assert REPORT_TOKEN not in str(request.url)
    sent = orjson.loads(seen[3].content)
    assert sent["data"]["time_zone_id"] == "Europe/Paris"


async def test_fetch_stops_when_a_token_comes_back() -> None:
    def loop(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/reports"):
            return httpx.Response(200, content=report([], f"{BASE}/reports?page.token=same"))
        if request.url.path.endswith("/campaigns"):
            return httpx.Response(200, content=campaigns([]))
        return httpx.Response(200, content=account())

    seen: list[httpx.Request] = []
    async with client_of(loop, seen) as client:
        with pytest.raises(ReportingError, match="came back"):
            await fetch(config(), client, D(2027, 1, 14), D(2027, 1, 15))
    assert len(seen) == 4


async def test_fetch_stops_after_max_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reporting, "MAX_PAGES", 3)
    count = iter(range(10**6))

    def endless(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/campaigns"):
            return httpx.Response(200, content=campaigns([], f"{BASE}/c?page.token={next(count)}"))
        return httpx.Response(200, content=account())

    seen: list[httpx.Request] = []
    async with client_of(endless, seen) as client:
        with pytest.raises(ReportingError, match="over 3"):
            await fetch(config(), client, D(2027, 1, 14), D(2027, 1, 15))
    assert len(seen) == 4
    assert MAX_PAGES == 1000


async def test_fetch_refused_by_reddit() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, content=secret_echo(REPORT_TOKEN))

    async with client_of(refuse, []) as client:
        with pytest.raises(ReportingError) as caught:
            await fetch(config(), client, D(2027, 1, 14), D(2027, 1, 15))
    assert "Reddit's ad account refused the request (HTTP 401" in caught.value.reason
    no_token(caught.value)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (httpx.ConnectError("down " + REPORT_TOKEN), "could not be reached (ConnectError)"),
        (httpx.ReadTimeout("slow " + REPORT_TOKEN), "no answer from Reddit's ad account"),
    ],
)
async def test_fetch_when_reddit_cannot_be_reached(error: Exception, said: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    async with client_of(fail, []) as client:
        with pytest.raises(ReportingError) as caught:
            await fetch(config(), client, D(2027, 1, 14), D(2027, 1, 15))
    assert said in caught.value.reason
    no_token(caught.value)


async def test_fetch_refuses_a_backwards_range() -> None:
    async with client_of(answers, []) as client:
        with pytest.raises(ValueError, match="before"):
            await fetch(config(), client, D(2027, 1, 15), D(2027, 1, 14))
