"""Snap's claims (``signalyard.sinks.snapchat.reporting``): the options and secret, the three
Marketing API requests, the answers read exactly (micros, days in the account's time zone,
pages), every refusal with its reason and fix and no token, and the sending loop against a
mock transport."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.exchange import MASK
from signalyard.sinks.reporting import MAX_PAGES, AccountReport, ClaimRow, ReportingError
from signalyard.sinks.snapchat import SECRET_FIELDS, SPEC, SnapchatConfig
from signalyard.sinks.snapchat import reporting as rep
from signalyard.sinks.snapchat.config import DEFAULT_ADS_API_URL
from signalyard.sinks.snapchat.reporting import (
    COUNTED,
    REPORTING,
    StatRow,
    account_request,
    campaigns_request,
    claim_rows,
    day_chunks,
    fetch,
    midnight,
    missing,
    parse_account,
    parse_campaigns,
    parse_stats,
    stats_request,
)
from signalyard.sinks.tiktok import TikTokConfig

pytestmark = pytest.mark.anyio

PIXEL = "5bf81ee1-15b1-4dc1-b636-d7dae49b950e"
ACCOUNT = "8adc3db7-8148-4fbf-999c-8d2266369d74"
CAPI = "snapConversionsToken0123456789"
MARKETING = "snapMarketingToken0123456789abcdef"
SECRETS = {"access_token": Secret(CAPI), "reporting_access_token": Secret(MARKETING)}
BASE = f"{DEFAULT_ADS_API_URL}/v1/adaccounts/{ACCOUNT}"


def config(secrets: dict[str, Secret] | None = None, **options: Any) -> SnapchatConfig:
    given = {"pixel_id": PIXEL, "ad_account_id": ACCOUNT, **options}
    return SnapchatConfig.from_mapping(
        {k: v for k, v in given.items() if v is not None}, SECRETS if secrets is None else secrets
    )


def ok(**body: Any) -> bytes:
    return orjson.dumps({"request_status": "SUCCESS", "request_id": "r1", **body})


def account_body(**changes: Any) -> bytes:
    account = {"id": ACCOUNT, "currency": "EUR", "timezone": "America/Los_Angeles", **changes}
    return ok(adaccounts=[{"sub_request_status": "SUCCESS", "adaccount": account}])


def campaigns_body(names: dict[str, str], next_link: str | None = None) -> bytes:
    body: dict[str, Any] = {
        "campaigns": [
            {"sub_request_status": "SUCCESS", "campaign": {"id": i, "name": n}}
            for i, n in names.items()
        ]
    }
    if next_link is not None:
        body["paging"] = {"next_link": next_link}
    return ok(**body)


def entry(start: str, **stats: Any) -> dict[str, Any]:
    return {"start_time": start, "end_time": start, "stats": stats}


def stats_body(campaigns: dict[str, list[dict[str, Any]]], next_link: str | None = None) -> bytes:
    stat = {
        "id": ACCOUNT,
        "type": "AD_ACCOUNT",
        "granularity": "DAY",
        "breakdown_stats": {
            "campaign": [
                {"id": cid, "type": "CAMPAIGN", "timeseries": series}
                for cid, series in campaigns.items()
            ]
        },
    }
    body: dict[str, Any] = {
        "timeseries_stats": [{"sub_request_status": "SUCCESS", "timeseries_stat": stat}]
    }
    if next_link is not None:
        body["paging"] = {"next_link": next_link}
    return ok(**body)


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps(
        {
            "request_status": "ERROR",
            "request_id": "r2",
            "debug_message": message,
            "display_message": "We're sorry",
            "error_code": code,
        }
    )


# --- options -------------------------------------------------------------------------------


def test_the_spec_declares_reporting_and_the_marketing_api_host() -> None:
    assert SPEC.reporting is REPORTING
    assert SPEC.url_options == ("api_url", "ads_api_url")
    assert REPORTING.counted == COUNTED and "conversion_purchases" in COUNTED
    assert REPORTING.example == {"ad_account_id": "1234567890"}


def test_the_marketing_token_is_an_optional_secret() -> None:
    (field,) = [f for f in SECRET_FIELDS if f.name == "reporting_access_token"]
    assert field.required is False and "snapchat-marketing-api" in field.help


def test_the_new_options_and_secret_round_trip() -> None:
    c = config(ads_api_url="http://127.0.0.1:9/sandbox/snapchat/")
    assert c.ad_account_id == ACCOUNT and c.ads_api_url == "http://127.0.0.1:9/sandbox/snapchat"
    assert c.to_mapping() == {
        "pixel_id": PIXEL,
        "ad_account_id": ACCOUNT,
        "ads_api_url": "http://127.0.0.1:9/sandbox/snapchat",
    }
    assert c.to_secrets() == SECRETS
    assert SnapchatConfig.from_mapping(c.to_mapping(), c.to_secrets()) == c
    assert MARKETING not in repr(c)


def test_without_them_a_destination_is_unchanged() -> None:
    c = config({"access_token": Secret(CAPI)}, ad_account_id=None)
    assert c.ad_account_id is None and c.reporting_access_token is None
    assert c.ads_api_url == DEFAULT_ADS_API_URL
    assert c.to_mapping() == {"pixel_id": PIXEL}
    assert c.to_secrets() == {"access_token": Secret(CAPI)}


def test_the_example_fetches_from_a_sandbox() -> None:
    example = SnapchatConfig.example()
    assert example.reporting_access_token is not None
    with_claims = SnapchatConfig.from_mapping(
        {**example.to_mapping(), **REPORTING.example}, example.to_secrets()
    )
    assert missing(with_claims) is None


@pytest.mark.parametrize("value", ["has space", "x" * 65, "a/b", True, 1.5, ""])
def test_a_bad_ad_account_id_is_named(value: object) -> None:
    with pytest.raises(ConfigError, match="ad_account_id"):
        config(ad_account_id=value)


def test_an_ad_account_id_given_as_a_number() -> None:
    assert config(ad_account_id=1234567890).ad_account_id == "1234567890"


def test_a_bad_ads_api_url_is_named() -> None:
    with pytest.raises(ConfigError, match="ads_api_url"):
        config(ads_api_url="ftp://x")


def test_missing() -> None:
    assert missing(config()) is None
    said = missing(config(ad_account_id=None))
    assert said is not None and "ad_account_id" in said
    said = missing(config({"access_token": Secret(CAPI)}))
    assert said is not None and "reporting_access_token" in said
    assert rep._scope(config()) == f"adaccount {ACCOUNT} conversion_purchases 28_DAY/1_DAY"


# --- requests ------------------------------------------------------------------------------


def test_the_account_request() -> None:
    r = account_request(config())
    assert (r.method, r.url, r.params) == ("GET", BASE, {})
    assert r.headers["Authorization"] == f"Bearer {MARKETING}"
    assert MARKETING not in repr(r) and CAPI not in str(r.headers)


def test_the_campaigns_request_pages_by_cursor() -> None:
    first = campaigns_request(config())
    assert (first.url, first.params) == (f"{BASE}/campaigns", {"limit": "1000"})
    later = campaigns_request(config(), "abc")
    assert later.params == {"limit": "1000", "cursor": "abc"}


def test_the_stats_request_asks_for_the_account_s_midnights() -> None:
    r = stats_request(
        config(), "America/Los_Angeles", datetime.date(2026, 3, 7), datetime.date(2026, 3, 8)
    )
    assert r.url == f"{BASE}/stats"
    assert r.params == {
        "granularity": "DAY",
        "breakdown": "campaign",
        "fields": "spend,conversion_purchases,conversion_purchases_value",
        "start_time": "2026-03-07T00:00:00-08:00",
        "end_time": "2026-03-09T00:00:00-07:00",  # daylight saving time began on the 8th
        "swipe_up_attribution_window": "28_DAY",
        "view_attribution_window": "1_DAY",
        "action_report_time": "conversion",
    }
    assert r.headers["Authorization"] == f"Bearer {MARKETING}"
    paged = stats_request(
        config(), "UTC", datetime.date(2026, 3, 7), datetime.date(2026, 3, 7), "c"
    )
    assert paged.params["cursor"] == "c" and paged.params["end_time"] == "2026-03-08T00:00:00+00:00"


def test_midnight() -> None:
    assert midnight(datetime.date(2026, 12, 1), "Europe/Paris") == "2026-12-01T00:00:00+01:00"


def test_no_request_without_an_account_or_a_token() -> None:
    with pytest.raises(ReportingError) as caught:
        account_request(config(ad_account_id=None))
    assert "ad_account_id" in caught.value.fix
    with pytest.raises(ReportingError) as caught:
        account_request(config({"access_token": Secret(CAPI)}))
    assert "set-secret" in caught.value.fix and "reporting_access_token" in caught.value.fix


def test_day_chunks_hold_at_most_31_days() -> None:
    day = datetime.date(2026, 1, 1)
    chunks = day_chunks(day, day + datetime.timedelta(days=64))
    assert chunks == [
        (day, datetime.date(2026, 1, 31)),
        (datetime.date(2026, 2, 1), datetime.date(2026, 3, 3)),
        (datetime.date(2026, 3, 4), datetime.date(2026, 3, 6)),
    ]
    assert day_chunks(day, day) == [(day, day)]
    with pytest.raises(ValueError):
        day_chunks(day, day - datetime.timedelta(days=1))


# --- answers -------------------------------------------------------------------------------


def test_the_account_is_read() -> None:
    assert parse_account(config(), 200, account_body()) == ("EUR", "America/Los_Angeles")
    assert parse_account(config(), 200, account_body(currency="usd")) == (
        "USD",
        "America/Los_Angeles",
    )


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (account_body(currency="EURO"), "currency"),
        (account_body(timezone="Mars/Olympus"), "timezone"),
        (account_body(timezone=None), "timezone"),
        (account_body(id="other"), "not in the answer"),
        (ok(adaccounts={}), "no adaccounts list"),
        (ok(adaccounts=[{"sub_request_status": "ERROR", "adaccount": {}}]), "ERROR"),
        (orjson.dumps({"adaccounts": []}), "no request_status"),
        (b"<html>", "not a JSON object"),
    ],
)
def test_a_bad_account_answer(body: bytes, said: str) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_account(config(), 200, body)
    assert "unexpected body" in caught.value.reason and said in caught.value.reason
    assert "ads_api_url" in caught.value.fix


def test_campaigns_are_read_with_the_next_cursor() -> None:
    link = f"https://adsapisc.appspot.com/v1/adaccounts/{ACCOUNT}/campaigns?cursor=CnEK%3D&limit=50"
    names, cursor = parse_campaigns(
        config(), 200, campaigns_body({"c1": " Spring ", "c2": ""}, link)
    )
    assert names == {"c1": "Spring", "c2": ""}
    assert cursor == "CnEK="
    assert parse_campaigns(config(), 200, campaigns_body({}))[1] is None


@pytest.mark.parametrize("link", [f"{BASE}/campaigns?limit=50", 7])
def test_a_next_link_without_a_cursor(link: object) -> None:
    body = ok(campaigns=[], paging={"next_link": link})
    with pytest.raises(ReportingError, match="next_link"):
        parse_campaigns(config(), 200, body)


def test_stats_are_read_exactly_in_the_account_s_days() -> None:
    body = stats_body(
        {
            "c1": [
                entry(
                    "2026-12-01T00:00:00.000-08:00",
                    spend=12_300_000,
                    conversion_purchases=2,
                    conversion_purchases_value=142_520_001,
                ),
                entry("2026-12-02T00:00:00.000-08:00", spend=0, conversion_purchases=0),
                entry("2026-12-03T08:00:00.000Z", spend="700000"),
            ],
            "c2": [entry("2026-12-01T00:00:00.000-0800", conversion_purchases=1)],
        }
    )
    rows, cursor = parse_stats(config(), 200, body, "America/Los_Angeles")
    assert cursor is None
    assert rows == [
        StatRow("2026-12-01", "c1", Decimal(2), Decimal("142.520001"), Decimal("12.3")),
        StatRow("2026-12-03", "c1", Decimal(0), Decimal(0), Decimal("0.7")),
        StatRow("2026-12-01", "c2", Decimal(1), Decimal(0), Decimal(0)),
    ]
    assert str(rows[0].value) == "142.520001"


def test_stats_without_a_breakdown_are_no_rows() -> None:
    stat = {"id": ACCOUNT, "timeseries": []}
    body = ok(timeseries_stats=[{"sub_request_status": "SUCCESS", "timeseries_stat": stat}])
    assert parse_stats(config(), 200, body, "UTC") == ([], None)


@pytest.mark.parametrize(
    ("campaigns", "said"),
    [
        ({"c1": [entry("2026-12-01", spend=1)]}, "start_time"),
        ({"c1": [entry("yesterday", spend=1)]}, "start_time"),
        ({"c1": [entry("2026-12-01T00:00:00Z", spend=-1)]}, "spend"),
        ({"c1": [entry("2026-12-01T00:00:00Z", spend="1e30")]}, "spend"),
        ({"c1": [entry("2026-12-01T00:00:00Z", conversion_purchases=True)]}, "conversion"),
        ({"c1": [{"start_time": "2026-12-01T00:00:00Z"}]}, "without stats"),
        ({"": [entry("2026-12-01T00:00:00Z")]}, "without an id"),
    ],
)
def test_a_bad_stats_row(campaigns: dict[str, list[dict[str, Any]]], said: str) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_stats(config(), 200, stats_body(campaigns), "UTC")
    assert "unexpected body" in caught.value.reason and said in caught.value.reason


def test_claim_rows_name_campaigns_and_keep_the_range() -> None:
    stats = [
        StatRow("2026-12-01", "c1", Decimal(1), Decimal("10.5"), Decimal(2)),
        StatRow("2026-12-01", "c2", Decimal(1), Decimal("0.5"), Decimal(1)),
        StatRow("2026-12-01", "c3", Decimal(2), Decimal(3), Decimal(0)),
        StatRow("2026-11-30", "c1", Decimal(9), Decimal(9), Decimal(9)),
    ]
    names = {"c1": "Sale", "c2": "Sale", "c3": ""}
    since = until = datetime.date(2026, 12, 1)
    assert claim_rows(stats, names, since, until) == (
        ClaimRow("2026-12-01", "Sale", Decimal(2), Decimal(11), Decimal(3)),
        ClaimRow("2026-12-01", "c3", Decimal(2), Decimal(3), Decimal(0)),
    )


@pytest.mark.parametrize(
    ("status", "code", "reason_says", "fix_says"),
    [
        (401, "E1001", "HTTP 401, E1001", "reporting_access_token"),
        (403, "E3002", "HTTP 403, E3002", "member of the account"),
        (404, "E3003", "HTTP 404", "check the option ad_account_id"),
        (400, "E2001", "HTTP 400", "range of days"),
        (429, "E1010", "HTTP 429", "throttled"),
        (503, "E5000", "HTTP 503", "fetch again later"),
        (418, "", "HTTP 418", "read Snap's message"),
    ],
)
def test_snap_refusals(status: int, code: str, reason_says: str, fix_says: str) -> None:
    body = error_body(code, "None of the requested actions can be authorized")
    with pytest.raises(ReportingError) as caught:
        parse_stats(config(), status, body, "UTC", (MARKETING,))
    assert reason_says in caught.value.reason and "can be authorized" in caught.value.reason
    assert "stats" in caught.value.reason
    assert fix_says in caught.value.fix


def test_an_error_with_success_status_but_http_error_is_a_refusal() -> None:
    with pytest.raises(ReportingError, match="HTTP 401"):
        parse_account(
            config(), 401, orjson.dumps({"request_status": "ERROR", "msg": "Unauthorized"})
        )


def test_a_token_echoed_by_snap_is_masked() -> None:
    body = error_body(MARKETING, f"token {MARKETING} and {CAPI} refused")
    with pytest.raises(ReportingError) as caught:
        parse_account(config(), 401, body, (MARKETING, CAPI))
    said = caught.value.reason + caught.value.fix
    assert MARKETING not in said and CAPI not in said
    assert f"token {MASK} and {MASK} refused" in caught.value.reason
    page = f"<html>bad token {MARKETING}</html>".encode()
    with pytest.raises(ReportingError) as caught:
        parse_account(config(), 502, page, (MARKETING,))
    assert MARKETING not in caught.value.reason and "HTTP 502" in caught.value.reason
    assert "fetch again later" in caught.value.fix


# --- sending -------------------------------------------------------------------------------


def _router(routes: dict[str, list[tuple[int, bytes]]], seen: list[httpx.Request]) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path.rsplit("/", 1)[-1]
        key = path if path in ("campaigns", "stats") else "account"
        status, body = routes[key].pop(0)
        return httpx.Response(status, content=body)

    return handle


async def test_fetch_follows_pages_and_chunks() -> None:
    seen: list[httpx.Request] = []
    routes = {
        "account": [(200, account_body(timezone="UTC"))],
        "campaigns": [
            (200, campaigns_body({"c1": "Spring"}, f"{BASE}/campaigns?cursor=p2")),
            (200, campaigns_body({"c2": "Winter"})),
        ],
        "stats": [
            (
                200,
                stats_body(
                    {"c1": [entry("2026-11-01T00:00:00Z", spend=1_000_000)]},
                    f"{BASE}/stats?cursor=s2",
                ),
            ),
            (200, stats_body({"c2": [entry("2026-11-02T00:00:00Z", conversion_purchases=1)]})),
            (
                200,
                stats_body(
                    {"c2": [entry("2026-12-05T00:00:00Z", conversion_purchases_value=2_500_000)]}
                ),
            ),
        ],
    }
    async with httpx.AsyncClient(transport=httpx.MockTransport(_router(routes, seen))) as client:
        report = await fetch(
            config(), client, datetime.date(2026, 11, 1), datetime.date(2026, 12, 5)
        )
    assert report == AccountReport(
        ACCOUNT,
        "EUR",
        "UTC",
        COUNTED,
        (
            ClaimRow("2026-11-01", "Spring", Decimal(0), Decimal(0), Decimal(1)),
            ClaimRow("2026-11-02", "Winter", Decimal(1), Decimal(0), Decimal(0)),
            ClaimRow("2026-12-05", "Winter", Decimal(0), Decimal("2.5"), Decimal(0)),
        ),
    )
    assert [r.url.path.rsplit("/", 1)[-1] for r in seen] == [
        ACCOUNT,
        "campaigns",
        "campaigns",
        "stats",
        "stats",
        "stats",
    ]
    assert seen[2].url.params["cursor"] == "p2" and seen[4].url.params["cursor"] == "s2"
    assert seen[3].url.params["start_time"] == "2026-11-01T00:00:00+00:00"
    assert seen[3].url.params["end_time"] == "2026-12-02T00:00:00+00:00"  # 31 days
    assert seen[5].url.params["start_time"] == "2026-12-02T00:00:00+00:00"
    for request in seen:
        assert request.headers["authorization"] == f"Bearer {MARKETING}"
        assert MARKETING not in str(request.url) and CAPI not in str(request.url)
        assert request.url.host == "adsapi.snapchat.com"


async def test_fetch_stops_a_cursor_that_comes_back() -> None:
    again = campaigns_body({"c1": "x"}, f"{BASE}/campaigns?cursor=same")
    routes = {"account": [(200, account_body())], "campaigns": [(200, again)] * 3}
    async with httpx.AsyncClient(transport=httpx.MockTransport(_router(routes, []))) as client:
        with pytest.raises(ReportingError, match="came back"):
            await fetch(config(), client, datetime.date(2026, 12, 1), datetime.date(2026, 12, 1))


async def test_fetch_stops_a_platform_that_keeps_paging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rep, "MAX_PAGES", 3)
    pages = [(200, campaigns_body({}, f"{BASE}/campaigns?cursor=p{i}")) for i in range(5)]
    routes = {"account": [(200, account_body())], "campaigns": pages}
    async with httpx.AsyncClient(transport=httpx.MockTransport(_router(routes, []))) as client:
        with pytest.raises(ReportingError, match="over 3"):
            await fetch(config(), client, datetime.date(2026, 12, 1), datetime.date(2026, 12, 1))
    assert MAX_PAGES == 1000


async def test_fetch_raises_snap_s_refusal() -> None:
    routes = {"account": [(403, error_body("E3002", "not authorized"))]}
    async with httpx.AsyncClient(transport=httpx.MockTransport(_router(routes, []))) as client:
        with pytest.raises(ReportingError) as caught:
            await fetch(config(), client, datetime.date(2026, 12, 1), datetime.date(2026, 12, 1))
    assert "HTTP 403" in caught.value.reason and "ad account" in caught.value.reason
    assert ACCOUNT in caught.value.fix


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (httpx.ConnectError("refused"), "could not be reached (ConnectError)"),
        (httpx.ReadTimeout("slow"), "within 10s"),
    ],
)
async def test_a_transport_error_is_a_reporting_error(error: Exception, said: str) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError) as caught:
            await fetch(config(), client, datetime.date(2026, 12, 1), datetime.date(2026, 12, 1))
    assert said in caught.value.reason and MARKETING not in caught.value.reason


async def test_fetch_refuses_a_range_backwards_and_another_kinds_config() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ValueError):
            await fetch(config(), client, datetime.date(2026, 12, 2), datetime.date(2026, 12, 1))
        with pytest.raises(TypeError):
            await fetch(
                TikTokConfig.example(),
                client,
                datetime.date(2026, 12, 1),
                datetime.date(2026, 12, 1),
            )


def test_a_day_is_the_account_s_whatever_offset_snap_writes() -> None:
    body = stats_body({"c1": [entry("2026-12-02T15:00:00.000Z", conversion_purchases=1)]})
    (row,), _ = parse_stats(config(), 200, body, "Asia/Tokyo")
    assert row.day == "2026-12-03"  # Tokyo's midnight, written in UTC


def test_a_day_whose_clocks_jump_at_midnight_starts_at_its_first_instant() -> None:
    import datetime as dt

    from signalyard.sinks.snapchat.reporting import midnight

    # Santiago skips 00:00 on 2026-09-06: the day starts at 01:00, UTC-3
    assert midnight(dt.date(2026, 9, 6), "America/Santiago") == "2026-09-06T01:00:00-03:00"
    assert midnight(dt.date(2026, 9, 5), "America/Santiago") == "2026-09-05T00:00:00-04:00"
    assert midnight(dt.date(2026, 12, 1), "America/Los_Angeles") == "2026-12-01T00:00:00-08:00"
