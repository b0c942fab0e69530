"""Pinterest's claims, the sink side: the requests built for the ad account, its campaigns and
their analytics, the answers read (bookmarks, exact micro amounts, missing fields, Pinterest's
error bodies with their fixes, never a token), ``missing()``, the new secret, and ``fetch``
over a mock transport (chunks of days and of campaign ids, bookmarks, transport errors)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from signalyard.secret import Secret
from signalyard.sinks.pinterest import SPEC, reporting
from signalyard.sinks.pinterest.config import SECRET_FIELDS, PinterestConfig
from signalyard.sinks.pinterest.reporting import (
    ATTRIBUTION,
    COLUMNS,
    COUNTED,
    REPORTING,
    CampaignPage,
    account_request,
    analytics_request,
    campaigns_request,
    day_chunks,
    fetch,
    missing,
    parse_account,
    parse_analytics,
    parse_campaigns,
)
from signalyard.sinks.reporting import MAX_PAGES, AccountReport, ClaimRow, ReportingError
from signalyard.sinks.tiktok.config import TikTokConfig

pytestmark = pytest.mark.anyio

ACCOUNT = "549755885175"
EVENTS_TOKEN = "pina-conversion-token-" + "e" * 30
REPORT_TOKEN = "pina-ads-read-token-" + "r" * 30
BASE = f"https://api.pinterest.com/v5/ad_accounts/{ACCOUNT}"
D = datetime.date


def config(**changes: Any) -> PinterestConfig:
    fields: dict[str, Any] = {
        "ad_account_id": ACCOUNT,
        "access_token": Secret(EVENTS_TOKEN),
        "reporting_access_token": Secret(REPORT_TOKEN),
    }
    fields.update(changes)
    return PinterestConfig(**fields)


def account(**fields: Any) -> bytes:
    body: dict[str, Any] = {
        "id": ACCOUNT,
        "name": "Shop",
        "owner": {"username": "shop"},
        "country": "FR",
        "currency": "EUR",
        "time_zone": "Europe/Paris",
    }
    body.update(fields)
    return orjson.dumps({k: v for k, v in body.items() if v is not None})


def campaigns(items: list[tuple[Any, Any]], bookmark: str | None = None) -> bytes:
    listed = [{"id": i, "name": n, "status": "ACTIVE"} for i, n in items]
    return orjson.dumps({"items": listed, "bookmark": bookmark})


def row(day: str, campaign_id: str, spend: Any, count: Any, value: Any) -> dict[str, Any]:
    return {
        "CAMPAIGN_ID": campaign_id,
        "DATE": day,
        "SPEND_IN_MICRO_DOLLAR": spend,
        "TOTAL_CHECKOUT": count,
        "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR": value,
    }


def no_token(error: ReportingError) -> None:
    text = error.reason + error.fix + str(error)
    assert EVENTS_TOKEN not in text and REPORT_TOKEN not in text


# --- spec, options and secret ------------------------------------------------------------


def test_the_spec_declares_reporting() -> None:
    assert SPEC.reporting is REPORTING
    assert REPORTING.counted == COUNTED and "TOTAL_CHECKOUT" in COUNTED
    assert REPORTING.example == {"ad_account_id": "1234567890"}
    assert REPORTING.scope(config()).startswith(f"{ACCOUNT}: TOTAL_CHECKOUT")
    assert REPORTING.scope(config()) == REPORTING.scope(config(reporting_access_token=None))


def test_the_secret_is_optional() -> None:
    (field,) = [f for f in SECRET_FIELDS if f.name == "reporting_access_token"]
    assert not field.required and "ads:read" in field.help


def test_the_secret_round_trips() -> None:
    given = config()
    assert given.to_secrets() == {
        "access_token": Secret(EVENTS_TOKEN),
        "reporting_access_token": Secret(REPORT_TOKEN),
    }
    back = PinterestConfig.from_mapping(given.to_mapping(), given.to_secrets())
    assert back == given and back.reporting_access_token == Secret(REPORT_TOKEN)
    assert REPORT_TOKEN not in repr(back) and REPORT_TOKEN not in str(back.to_mapping())


def test_without_it_a_destination_is_unchanged() -> None:
    plain = PinterestConfig.from_mapping(
        {"ad_account_id": ACCOUNT}, {"access_token": Secret(EVENTS_TOKEN)}
    )
    assert plain.reporting_access_token is None
    assert plain.to_secrets() == {"access_token": Secret(EVENTS_TOKEN)}
    assert plain.to_mapping() == {"ad_account_id": ACCOUNT}


def test_missing() -> None:
    assert missing(config()) is None
    assert missing(config(reporting_access_token=None)) is None
    with pytest.raises(TypeError):
        missing(TikTokConfig(pixel_code="CABC123DEF456GHI789J", access_token=Secret("x" * 20)))


# --- requests ------------------------------------------------------------------------------


def test_the_account_request() -> None:
    request = account_request(config())
    assert (request.method, request.url, request.params) == ("GET", BASE, {})
    assert request.headers == {
        "Authorization": f"Bearer {REPORT_TOKEN}",
        "Accept": "application/json",
    }
    assert REPORT_TOKEN not in repr(request)


def test_the_campaigns_request() -> None:
    first = campaigns_request(config(api_url="http://sandbox/sandbox/pinterest/"))
    assert first.url == f"http://sandbox/sandbox/pinterest/v5/ad_accounts/{ACCOUNT}/campaigns"
    assert first.params == {"entity_statuses": "ACTIVE,PAUSED,ARCHIVED", "page_size": "250"}
    later = campaigns_request(config(), "bm-2")
    assert later.params["bookmark"] == "bm-2"


def test_the_analytics_request() -> None:
    request = analytics_request(config(), ["11", "22"], D(2027, 1, 1), D(2027, 1, 15))
    assert request.url == f"{BASE}/campaigns/analytics"
    assert request.params == {
        "start_date": "2027-01-01",
        "end_date": "2027-01-15",
        "campaign_ids": "11,22",
        "columns": "SPEND_IN_MICRO_DOLLAR,TOTAL_CHECKOUT,TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR",
        "granularity": "DAY",
        "click_window_days": "30",
        "engagement_window_days": "30",
        "view_window_days": "1",
        "conversion_report_time": "TIME_OF_CONVERSION",
    }
    assert ATTRIBUTION["conversion_report_time"] == "TIME_OF_CONVERSION"
    assert request.headers["Authorization"] == f"Bearer {REPORT_TOKEN}"
    assert all(REPORT_TOKEN not in v for v in request.params.values())
    assert COLUMNS[0] == "SPEND_IN_MICRO_DOLLAR"


def test_at_most_250_campaign_ids_per_request() -> None:
    analytics_request(config(), [str(i) for i in range(250)], D(2027, 1, 1), D(2027, 1, 1))
    for ids in ([], [str(i) for i in range(251)]):
        with pytest.raises(ValueError):
            analytics_request(config(), ids, D(2027, 1, 1), D(2027, 1, 1))


def test_without_a_reporting_token_the_conversion_token_is_sent() -> None:
    request = account_request(config(reporting_access_token=None))
    assert request.headers["Authorization"] == f"Bearer {EVENTS_TOKEN}"


def test_day_chunks_hold_at_most_90_days() -> None:
    assert day_chunks(D(2027, 1, 1), D(2027, 1, 1)) == [(D(2027, 1, 1), D(2027, 1, 1))]
    assert day_chunks(D(2026, 1, 1), D(2026, 6, 1)) == [
        (D(2026, 1, 1), D(2026, 3, 31)),
        (D(2026, 4, 1), D(2026, 6, 1)),
    ]
    with pytest.raises(ValueError):
        day_chunks(D(2027, 1, 2), D(2027, 1, 1))
    with pytest.raises(ValueError):
        day_chunks(D(2020, 1, 1), D(2027, 1, 1))


# --- answers -------------------------------------------------------------------------------


def test_the_account_is_read() -> None:
    assert parse_account(config(), 200, account()) == ("EUR", "Europe/Paris")
    assert parse_account(config(), 200, account(currency="usd")) == ("USD", "Europe/Paris")
    assert parse_account(config(), 200, account(time_zone=None)) == ("EUR", "UTC")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (account(currency=None), "no currency"),
        (account(currency=978), "currency '978'"),
        (account(currency="EURO"), "currency 'EURO'"),
        (account(time_zone="Mars/Olympus"), "not an IANA name"),
        (account(id="42"), "another ad account's id"),
        (b"[]", "not an object"),
        (b"<html>", "not JSON"),
    ],
)
def test_a_bad_account(body: bytes, said: str) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_account(config(), 200, body)
    assert "unexpected body" in caught.value.reason and said in caught.value.reason
    assert "api_url" in caught.value.fix


def test_a_campaign_page_is_read() -> None:
    page = parse_campaigns(config(), 200, campaigns([("11", "Spring"), (22, " ")], "bm-1"))
    assert page == CampaignPage((("11", "Spring"), ("22", "22")), "bm-1")
    assert parse_campaigns(config(), 200, campaigns([])) == CampaignPage((), None)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"{}", "no items list"),
        (orjson.dumps({"items": [{"name": "x"}]}), "item 0 without an id"),
        (orjson.dumps({"items": [{"id": "1/2"}]}), "item 0 without an id"),
        (orjson.dumps({"items": [], "bookmark": 3}), "bookmark that is not text"),
    ],
)
def test_a_bad_campaign_page(body: bytes, said: str) -> None:
    with pytest.raises(ReportingError, match="unexpected body") as caught:
        parse_campaigns(config(), 200, body)
    assert said in caught.value.reason


NAMES = {"11": "Spring sale", "22": "Retargeting"}


def test_analytics_are_read_exactly() -> None:
    body = orjson.dumps(
        [
            row("2027-01-14", "11", 12_300_000, 2, 142_620_001),
            row("2027-01-15", "22", "5000000", "1", "20000000"),
            {"CAMPAIGN_ID": 33, "DATE": "2027-01-15", "SPEND_IN_MICRO_DOLLAR": 10},
            row("2027-01-15", "11", 0, 0, 0),  # nothing: left out
        ]
    )
    assert parse_analytics(config(), 200, body, NAMES) == [
        ClaimRow("2027-01-14", "Spring sale", Decimal(2), Decimal("142.620001"), Decimal("12.3")),
        ClaimRow("2027-01-15", "Retargeting", Decimal(1), Decimal(20), Decimal(5)),
        ClaimRow("2027-01-15", "33", Decimal(0), Decimal(0), Decimal("0.00001")),
    ]
    assert parse_analytics(config(), 200, b"[]", NAMES) == []


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        ({"x": 1}, "not a list of rows"),
        ([1], "row 0 is not an object"),
        ([{"DATE": "2027-01-15"}], "row 0 without CAMPAIGN_ID"),
        ([row("15/01/2027", "11", 0, 0, 0)], "DATE is not a day"),
        ([{"CAMPAIGN_ID": "11"}], "DATE is not a day"),
        ([row("2027-01-15", "11", -1, 0, 0)], "SPEND_IN_MICRO_DOLLAR is not a number"),
        ([row("2027-01-15", "11", 0, "many", 0)], "TOTAL_CHECKOUT is not a number"),
        ([row("2027-01-15", "11", 0, 0, 10**19)], "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR"),
        ([row("2027-01-15", "11", True, 0, 0)], "SPEND_IN_MICRO_DOLLAR is not a number"),
        ([row("2027-01-15", "11", 0, 10**13, 0)], "TOTAL_CHECKOUT is not a number"),
    ],
)
def test_bad_analytics(rows: Any, said: str) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_analytics(config(), 200, orjson.dumps(rows), NAMES)
    assert "campaign analytics answered an unexpected body" in caught.value.reason
    assert said in caught.value.reason


@pytest.mark.parametrize(
    ("status", "code", "fix_says"),
    [
        (401, 2, "missing, invalid or expired"),
        (403, 29, "lacks the ads:read scope"),
        (404, 404, "check the option ad_account_id"),
        (400, 1, "refused a parameter"),
        (429, 8, "throttled"),
        (503, 503, "internal error"),
        (418, 7, "fetch again later"),
    ],
)
def test_pinterest_error_bodies(status: int, code: int, fix_says: str) -> None:
    body = orjson.dumps({"code": code, "message": f"Refused for {REPORT_TOKEN}"})
    with pytest.raises(ReportingError) as caught:
        parse_analytics(config(), status, body, NAMES, (REPORT_TOKEN,))
    reason = caught.value.reason
    assert f"campaign analytics refused the request (HTTP {status}, code {code}" in reason
    assert "Refused for" in reason and fix_says in caught.value.fix
    no_token(caught.value)


def test_an_auth_error_says_which_token_was_sent() -> None:
    body = orjson.dumps({"code": 2, "message": "Authentication failed."})
    with pytest.raises(ReportingError) as caught:
        parse_account(config(reporting_access_token=None), 401, body, (EVENTS_TOKEN,))
    assert "access_token (a conversion access token" in caught.value.fix
    assert "set-secret" in caught.value.fix and "reporting_access_token" in caught.value.fix
    with pytest.raises(ReportingError) as caught:
        parse_account(config(), 401, body, (REPORT_TOKEN,))
    assert "the reporting_access_token set" in caught.value.fix


def test_an_answer_without_pinterests_json() -> None:
    page = f"502 Bad Gateway {REPORT_TOKEN}".encode()
    with pytest.raises(ReportingError) as caught:
        parse_campaigns(config(), 502, page, (REPORT_TOKEN,))
    assert "campaign list refused the request (HTTP 502: 502 Bad Gateway" in caught.value.reason
    assert "internal error" in caught.value.fix
    no_token(caught.value)
    with pytest.raises(ReportingError, match=r"HTTP 403\)"):
        parse_campaigns(config(), 403, b"")


# --- fetch ---------------------------------------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def recording(answer: Callable[[str, dict[str, str]], bytes]) -> tuple[Handler, list[Any]]:
    seen: list[Any] = []

    def handle(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append((request.url.path, params, request.headers.get("authorization")))
        return httpx.Response(200, content=answer(request.url.path, params))

    return handle, seen


PATH = f"/v5/ad_accounts/{ACCOUNT}"


async def test_fetch_follows_bookmarks_and_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reporting, "MAX_CAMPAIGN_IDS", 2)

    def answer(path: str, params: dict[str, str]) -> bytes:
        if path == PATH:
            return account()
        if path.endswith("/campaigns"):
            if "bookmark" not in params:
                return campaigns([("11", "Spring sale"), ("22", "Retargeting")], "bm-1")
            return campaigns([("33", "Archive")])
        ids = params["campaign_ids"].split(",")
        return orjson.dumps(
            [row(params["end_date"], i, 1_000_000, 1, 2_500_000) for i in ids if i != "22"]
        )

    handle, seen = recording(answer)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        got = await fetch(config(), client, D(2026, 10, 1), D(2027, 1, 4))
    analytics = f"{PATH}/campaigns/analytics"
    assert [
        (p, q.get("bookmark"), q.get("campaign_ids"), q.get("start_date")) for p, q, _ in seen
    ] == [
        (PATH, None, None, None),
        (f"{PATH}/campaigns", None, None, None),
        (f"{PATH}/campaigns", "bm-1", None, None),
        (analytics, None, "11,22", "2026-10-01"),
        (analytics, None, "33", "2026-10-01"),
        (analytics, None, "11,22", "2026-12-30"),
        (analytics, None, "33", "2026-12-30"),
    ]
    assert all(auth == f"Bearer {REPORT_TOKEN}" for _, _, auth in seen)
    one = (Decimal(1), Decimal("2.5"), Decimal(1))
    assert got == AccountReport(
        ACCOUNT,
        "EUR",
        "Europe/Paris",
        COUNTED,
        (
            ClaimRow("2026-12-29", "Archive", *one),
            ClaimRow("2026-12-29", "Spring sale", *one),
            ClaimRow("2027-01-04", "Archive", *one),
            ClaimRow("2027-01-04", "Spring sale", *one),
        ),
    )


async def test_fetch_without_campaigns_asks_no_analytics() -> None:
    def answer(path: str, params: dict[str, str]) -> bytes:
        return account() if path == PATH else campaigns([])

    handle, seen = recording(answer)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        got = await fetch(config(), client, D(2027, 1, 1), D(2027, 1, 1))
    assert got.rows == () and len(seen) == 2


async def test_fetch_stops_a_repeated_bookmark() -> None:
    def answer(path: str, params: dict[str, str]) -> bytes:
        return account() if path == PATH else campaigns([("11", "x")], "same")

    handle, seen = recording(answer)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError, match="bookmark again"):
            await fetch(config(), client, D(2027, 1, 1), D(2027, 1, 1))
    assert len(seen) == 3


async def test_fetch_stops_a_platform_that_keeps_paging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reporting, "MAX_PAGES", 3)

    def answer(path: str, params: dict[str, str]) -> bytes:
        if path == PATH:
            return account()
        return campaigns([("11", "x")], f"bm-{len(seen)}")

    handle, seen = recording(answer)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError, match="kept answering more pages"):
            await fetch(config(), client, D(2027, 1, 1), D(2027, 1, 1))
    assert len(seen) == 1 + 3
    assert MAX_PAGES == 1000


async def test_fetch_raises_pinterests_refusal() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        body = {"code": 2, "message": f"Authentication failed for {EVENTS_TOKEN}"}
        return httpx.Response(401, content=orjson.dumps(body))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError) as caught:
            await fetch(config(reporting_access_token=None), client, D(2027, 1, 1), D(2027, 1, 1))
    assert "ad account refused the request (HTTP 401, code 2" in caught.value.reason
    no_token(caught.value)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (httpx.ConnectError("refused"), "could not be reached (ConnectError)"),
        (httpx.ReadTimeout("slow"), "no answer from Pinterest's ad account within 10s"),
        (httpx.RemoteProtocolError("bad"), "could not be reached (RemoteProtocolError)"),
    ],
)
async def test_a_transport_error_is_a_reporting_error(error: Exception, said: str) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError) as caught:
            await fetch(config(), client, D(2027, 1, 1), D(2027, 1, 1))
    assert said in caught.value.reason and caught.value.fix
    no_token(caught.value)
