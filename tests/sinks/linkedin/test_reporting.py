"""LinkedIn's claims, the sink side: the requests built (Rest.li query, headers, no token in
a URL), the answers read (exact amounts, campaign names, pages, missing fields, LinkedIn's
errors with their fixes, never a token), ``missing()``, the options reporting reads, and
``fetch`` over a mock transport (pages of campaigns, a repeated token, transport errors)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from signalyard.secret import Secret
from signalyard.sinks.linkedin import SPEC
from signalyard.sinks.linkedin.config import API_VERSION, LinkedInConfig
from signalyard.sinks.linkedin.reporting import (
    COUNTED,
    FIELDS,
    REPORTING,
    account_request,
    analytics_request,
    campaigns_request,
    fetch,
    missing,
    parse_account,
    parse_analytics,
    parse_campaigns,
    refusal,
)
from signalyard.sinks.reporting import MAX_PAGES, AccountReport, ClaimRow, ReportingError

pytestmark = pytest.mark.anyio

TOKEN = "AQV-linkedin-reporting-token-" + "t" * 30
ACCOUNT = "512345678"
D = datetime.date


def config(**changes: Any) -> LinkedInConfig:
    fields: dict[str, Any] = {
        "conversion_rule_id": "104012",
        "ad_account_id": ACCOUNT,
        "access_token": Secret(TOKEN),
    }
    fields.update(changes)
    return LinkedInConfig(**fields)


def element(day: str, campaign: str, cost: Any, count: Any, value: Any) -> dict[str, Any]:
    y, m, d = (int(x) for x in day.split("-"))
    return {
        "dateRange": {
            "start": {"year": y, "month": m, "day": d},
            "end": {"year": y, "month": m, "day": d},
        },
        "pivotValues": [f"urn:li:sponsoredCampaign:{campaign}"],
        "costInLocalCurrency": cost,
        "externalWebsiteConversions": count,
        "conversionValueInLocalCurrency": value,
    }


def analytics(*elements: dict[str, Any]) -> bytes:
    return orjson.dumps({"elements": list(elements), "paging": {"count": 10, "start": 0}})


def campaigns(*pairs: tuple[int, str], token: str | None = None) -> bytes:
    metadata = {} if token is None else {"nextPageToken": token}
    elements = [{"id": i, "name": n, "status": "ACTIVE"} for i, n in pairs]
    return orjson.dumps({"elements": elements, "metadata": metadata})


def no_token(error: ReportingError) -> None:
    assert TOKEN not in error.reason and TOKEN not in error.fix
    assert TOKEN[:12] not in str(error)


# --- the spec and options ----------------------------------------------------------------------


def test_the_spec_declares_reporting() -> None:
    assert SPEC.reporting is REPORTING
    assert REPORTING.counted == COUNTED and "externalWebsiteConversions" in COUNTED
    assert REPORTING.example == {"ad_account_id": "1234567890"}


def test_missing_nothing_the_destination_has_the_account_and_token() -> None:
    assert missing(config()) is None
    assert missing(LinkedInConfig.example()) is None


def test_the_scope_is_the_ad_account() -> None:
    assert REPORTING.scope(config()) == f"urn:li:sponsoredAccount:{ACCOUNT}"
    assert REPORTING.scope(config(conversion_rule_id="9")) == REPORTING.scope(config())


def test_the_example_options_round_trip() -> None:
    example = LinkedInConfig.example()
    options = {**example.to_mapping(), **REPORTING.example}
    read = LinkedInConfig.from_mapping(options, example.to_secrets())
    assert read.ad_account_id == "1234567890"
    assert LinkedInConfig.from_mapping(read.to_mapping(), read.to_secrets()) == read


# --- requests ----------------------------------------------------------------------------------


def test_the_headers_carry_the_token_version_and_protocol() -> None:
    request = account_request(config())
    assert request.method == "GET"
    assert request.url == f"https://api.linkedin.com/rest/adAccounts/{ACCOUNT}"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["LinkedIn-Version"] == API_VERSION
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert TOKEN not in repr(request)


def test_the_analytics_request_is_restli_encoded_by_hand() -> None:
    request = analytics_request(
        config(api_url="http://sandbox/x/"), D(2026, 11, 30), D(2026, 12, 1)
    )
    assert request.url == (
        "http://sandbox/x/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY"
        "&dateRange=(start:(year:2026,month:11,day:30),end:(year:2026,month:12,day:1))"
        f"&accounts=List(urn%3Ali%3AsponsoredAccount%3A{ACCOUNT})&fields={FIELDS}"
    )
    assert TOKEN not in request.url
    # httpx keeps the Rest.li syntax as it is
    assert str(httpx.URL(request.url)) == request.url


def test_the_campaigns_request_pages_with_the_token_encoded() -> None:
    first = campaigns_request(config())
    assert first.url == (
        f"https://api.linkedin.com/rest/adAccounts/{ACCOUNT}/adCampaigns?q=search&pageSize=1000"
    )
    later = campaigns_request(config(), "a/b+c=")
    assert later.url.endswith("&pageToken=a%2Fb%2Bc%3D")


# --- answers -----------------------------------------------------------------------------------


def test_the_account_s_currency() -> None:
    body = orjson.dumps({"id": 512345678, "currency": "eur", "name": "Shop"})
    assert parse_account(200, body) == "EUR"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"not json", "not a JSON object"),
        (b"[]", "not a JSON object"),
        (orjson.dumps({"id": 1}), "currency 'None'"),
        (orjson.dumps({"currency": "EURO"}), "currency 'EURO'"),
    ],
)
def test_a_bad_account(body: bytes, said: str) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_account(200, body)
    assert said in caught.value.reason and "unexpected body" in caught.value.reason
    assert "api_url" in caught.value.fix


def test_campaign_names_and_the_next_page() -> None:
    names, token = parse_campaigns(200, campaigns((11, "Spring sale"), (12, " "), token="t2"))
    assert (names, token) == ({"11": "Spring sale"}, "t2")
    assert parse_campaigns(200, campaigns((11, "x")))[1] is None
    with pytest.raises(ReportingError, match="no elements list"):
        parse_campaigns(200, b"{}")
    with pytest.raises(ReportingError, match="nextPageToken"):
        parse_campaigns(200, orjson.dumps({"elements": [], "metadata": {"nextPageToken": 5}}))


def test_analytics_are_read_exactly_and_named() -> None:
    body = analytics(
        element("2026-12-01", "11", "10.10", 3, "127.5"),
        element("2026-12-01", "12", "0.20", 0, None),
        element("2026-12-02", "11", "0.1", 1, "0.2"),
        element("2026-12-02", "99", "0", 0, "0"),  # nothing in it
        element("2026-12-01", "13", "0.7", 2, "1.1"),  # another campaign of the same name
    )
    rows = parse_analytics(200, body, {"11": "Spring", "13": "Spring"})
    assert rows == (
        ClaimRow("2026-12-01", "12", Decimal(0), Decimal(0), Decimal("0.20")),
        ClaimRow("2026-12-01", "Spring", Decimal(5), Decimal("128.6"), Decimal("10.80")),
        ClaimRow("2026-12-02", "Spring", Decimal(1), Decimal("0.2"), Decimal("0.1")),
    )
    assert rows[1].spend == Decimal("10.80")  # exact, not 10.800000000000001


@pytest.mark.parametrize(
    ("item", "said"),
    [
        ({"pivotValues": ["urn:li:sponsoredCampaign:1"]}, "dateRange.start is not a day"),
        ({**element("2026-12-01", "1", "1", 1, "1"), "pivotValues": []}, "no campaign URN"),
        ({**element("2026-12-01", "1", "1", 1, "1"), "pivotValues": ["urn:li:x:1"]}, "URN"),
        (
            {**element("2026-12-01", "1", "1", 1, "1"), "dateRange": {"start": {"year": 2026}}},
            "not a day",
        ),
        (element("2026-13-01", "1", "1", 1, "1"), "not a day"),
        (element("2026-12-01", "1", "-1", 1, "1"), "costInLocalCurrency"),
        (element("2026-12-01", "1", "1", "many", "1"), "externalWebsiteConversions"),
        (element("2026-12-01", "1", "1", 1, "1e13"), "conversionValueInLocalCurrency"),
        (element("2026-12-01", "1", True, 1, "1"), "costInLocalCurrency"),
    ],
)
def test_an_unexpected_analytics_element(item: dict[str, Any], said: str) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_analytics(200, orjson.dumps({"elements": [item]}), {})
    assert said in caught.value.reason and "unexpected body" in caught.value.reason


def test_no_elements_is_unexpected() -> None:
    with pytest.raises(ReportingError, match="no elements list"):
        parse_analytics(200, b'{"paging": {}}', {})


def linkedin_error(
    status: int, message: str, code: str | None = None, service: int | None = None
) -> bytes:
    body: dict[str, Any] = {"status": status, "message": message}
    if code is not None:
        body["code"] = code
    if service is not None:
        body["serviceErrorCode"] = service
    return orjson.dumps(body)


@pytest.mark.parametrize(
    ("status", "body", "reason_says", "fix_says"),
    [
        (
            401,
            linkedin_error(
                401, "The token used in the request has expired", "EXPIRED_ACCESS_TOKEN", 65602
            ),
            "(HTTP 401, EXPIRED_ACCESS_TOKEN, 65602): The token used",
            "r_ads_reporting",
        ),
        (
            403,
            linkedin_error(
                403, "Not enough permissions to access: adAnalytics.GET.20260301", service=100
            ),
            "HTTP 403, 100",
            "role on the ad account",
        ),
        (404, linkedin_error(404, "Not found"), "(HTTP 404): Not found", "ad_account_id"),
        (
            426,
            linkedin_error(426, "Requested version 202401 is not active", "NONEXISTENT_VERSION"),
            "426",
            "upgrade",
        ),
        (429, linkedin_error(429, "Resource level throttle", "TOO_MANY_REQUESTS"), "429", "later"),
        (503, b"<html>Service Unavailable</html>", "(HTTP 503)", "later"),
        (400, linkedin_error(400, "Invalid param"), "HTTP 400", "ad_account_id"),
    ],
)
def test_linkedin_errors_say_the_reason_and_the_fix(
    status: int, body: bytes, reason_says: str, fix_says: str
) -> None:
    error = refusal("adAnalytics", status, body, (TOKEN,))
    assert error.reason.startswith("LinkedIn's adAnalytics refused the request")
    assert reason_says in error.reason
    assert fix_says in error.fix
    with pytest.raises(ReportingError):
        parse_analytics(status, body, {})


def test_a_token_echoed_by_linkedin_is_masked() -> None:
    body = linkedin_error(401, f"Invalid access token {TOKEN} for jane@example.com")
    error = refusal("adAccounts", 401, body, (TOKEN,))
    no_token(error)
    assert "[email]" in error.reason


# --- fetch -------------------------------------------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def transport(answers: dict[str, Callable[[httpx.Request], bytes]]) -> tuple[Handler, list[str]]:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in str(request.url)
        for path, answer in answers.items():
            if request.url.path.endswith(path):
                return httpx.Response(200, content=answer(request))
        raise AssertionError(request.url)

    return handle, seen


async def test_fetch_reads_the_account_the_campaigns_pages_and_the_analytics() -> None:
    def pages(request: httpx.Request) -> bytes:
        if "pageToken" not in str(request.url):
            return campaigns((11, "Spring"), token="p2")
        return campaigns((12, "Winter"))

    handle, seen = transport(
        {
            f"/adAccounts/{ACCOUNT}": lambda _: orjson.dumps({"currency": "EUR"}),
            "/adCampaigns": pages,
            "/adAnalytics": lambda _: analytics(
                element("2026-12-01", "11", "10.50", 3, "127.5"),
                element("2026-12-01", "12", "1", 0, "0"),
            ),
        }
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        report = await fetch(config(), client, D(2026, 12, 1), D(2026, 12, 1))
    assert report == AccountReport(
        ACCOUNT,
        "EUR",
        "UTC",
        COUNTED,
        (
            ClaimRow("2026-12-01", "Spring", Decimal(3), Decimal("127.5"), Decimal("10.50")),
            ClaimRow("2026-12-01", "Winter", Decimal(0), Decimal(0), Decimal(1)),
        ),
    )
    assert len(seen) == 4 and seen[2].endswith("&pageToken=p2")
    assert "dateRange=(start:(year:2026,month:12,day:1),end:(year:2026,month:12,day:1))" in seen[3]


async def test_fetch_stops_a_page_token_that_comes_back() -> None:
    handle, seen = transport(
        {
            f"/adAccounts/{ACCOUNT}": lambda _: orjson.dumps({"currency": "EUR"}),
            "/adCampaigns": lambda _: campaigns((11, "x"), token="same"),
        }
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError, match="paging would not end"):
            await fetch(config(), client, D(2026, 12, 1), D(2026, 12, 1))
    assert len(seen) == 3


async def test_fetch_stops_after_max_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("signalyard.sinks.linkedin.reporting.MAX_PAGES", 3)
    tokens = iter(range(100))
    handle, seen = transport(
        {
            f"/adAccounts/{ACCOUNT}": lambda _: orjson.dumps({"currency": "EUR"}),
            "/adCampaigns": lambda _: campaigns(token=f"t{next(tokens)}"),
        }
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError, match="more than 3 pages"):
            await fetch(config(), client, D(2026, 12, 1), D(2026, 12, 1))
    assert len(seen) == 4
    assert MAX_PAGES == 1000


async def test_fetch_raises_linkedin_s_refusal_without_the_token() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, content=linkedin_error(401, f"bad {TOKEN}", "INVALID_ACCESS_TOKEN")
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(ReportingError) as caught:
            await fetch(config(), client, D(2026, 12, 1), D(2026, 12, 1))
    assert "adAccounts refused the request (HTTP 401, INVALID_ACCESS_TOKEN)" in caught.value.reason
    no_token(caught.value)


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")],
)
async def test_a_transport_error_is_a_reporting_error(error: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as client:
        with pytest.raises(ReportingError) as caught:
            await fetch(config(), client, D(2026, 12, 1), D(2026, 12, 1))
    assert caught.value.reason == f"no answer from LinkedIn's adAccounts ({type(error).__name__})"
    assert "api_url" in caught.value.fix


async def test_a_range_backwards_or_too_long_is_refused_before_sending() -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("sent")

    async with httpx.AsyncClient(transport=httpx.MockTransport(never)) as client:
        with pytest.raises(ReportingError, match="before since"):
            await fetch(config(), client, D(2026, 12, 2), D(2026, 12, 1))
        with pytest.raises(ReportingError, match="at most 400"):
            await fetch(config(), client, D(2025, 1, 1), D(2026, 12, 1))


async def test_fetch_refuses_another_kinds_config() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(Exception, match="linkedin"):
            await fetch(object(), client, D(2026, 12, 1), D(2026, 12, 1))


def test_an_answer_of_linkedins_most_rows_may_be_cut_and_is_refused() -> None:
    from signalyard.sinks.linkedin.reporting import MAX_ELEMENTS

    item = {
        "dateRange": {"start": {"year": 2026, "month": 12, "day": 1}},
        "pivotValues": ["urn:li:sponsoredCampaign:11"],
        "costInLocalCurrency": "1",
    }
    body = orjson.dumps({"elements": [item] * MAX_ELEMENTS})
    with pytest.raises(ReportingError, match="may be cut short") as error:
        parse_analytics(200, body, {})
    assert "fewer days" in error.value.fix
