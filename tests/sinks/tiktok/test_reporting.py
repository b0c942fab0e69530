"""TikTok's claims, the sink side: the requests built for advertiser/info and
report/integrated/get, the answers read (pages, exact amounts, missing fields, TikTok's error
codes with their fixes, never a token), ``missing()``, the new option and secret, and
``fetch`` over a mock transport (chunks of days, pages, transport errors)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.reporting import MAX_PAGES, AccountReport, ClaimRow, ReportingError
from signalyard.sinks.tiktok import SPEC, reporting
from signalyard.sinks.tiktok.config import SECRET_FIELDS, TikTokConfig
from signalyard.sinks.tiktok.reporting import (
    ACCOUNT_FIELDS,
    COUNTED,
    DIMENSIONS,
    METRICS,
    REPORTING,
    account_request,
    day_chunks,
    fetch,
    missing,
    parse_account,
    parse_page,
    report_request,
)

pytestmark = pytest.mark.anyio

PIXEL = "CABC123DEF456GHI789J"
ADVERTISER = "7012345678901234567"
EVENTS_TOKEN = "events-api-token-" + "e" * 30
REPORT_TOKEN = "marketing-api-token-" + "r" * 30
D = datetime.date


def config(**changes: Any) -> TikTokConfig:
    fields: dict[str, Any] = {
        "pixel_code": PIXEL,
        "access_token": Secret(EVENTS_TOKEN),
        "advertiser_id": ADVERTISER,
        "reporting_access_token": Secret(REPORT_TOKEN),
    }
    fields.update(changes)
    return TikTokConfig(**fields)


def answer(code: int = 0, message: str = "OK", data: Any = None) -> bytes:
    body = {"code": code, "message": message, "request_id": "2027011508000012AB", "data": data}
    return orjson.dumps(body)


def row(day: str, campaign_id: str, name: str, spend: Any, count: Any, value: Any) -> Any:
    return {
        "dimensions": {"campaign_id": campaign_id, "stat_time_day": f"{day} 00:00:00"},
        "metrics": {
            "campaign_name": name,
            "spend": spend,
            "complete_payment": count,
            "total_complete_payment_rate": value,
        },
    }


def page(rows: list[Any], page: int = 1, total_page: int = 1, size: int = 1000) -> bytes:
    info = {"page": page, "page_size": size, "total_number": len(rows), "total_page": total_page}
    return answer(data={"list": rows, "page_info": info})


def account(**fields: Any) -> bytes:
    item = {
        "advertiser_id": ADVERTISER,
        "currency": "EUR",
        "timezone": "Etc/GMT-1",
        "display_timezone": "Europe/Paris",
    }
    item.update(fields)
    return answer(data={"list": [item]})


def no_token(error: ReportingError) -> None:
    text = f"{error.reason} {error.fix} {error!r}"
    assert EVENTS_TOKEN not in text and REPORT_TOKEN not in text


# --- the spec, the option and the secret ---------------------------------------------------


def test_the_spec_declares_reporting() -> None:
    assert SPEC.reporting is REPORTING
    assert REPORTING.counted == COUNTED
    assert "complete_payment" in COUNTED and "total_complete_payment_rate" in COUNTED


def test_the_secret_is_optional() -> None:
    (token, reporting_token) = SECRET_FIELDS
    assert (token.name, token.required) == ("access_token", True)
    assert (reporting_token.name, reporting_token.required) == ("reporting_access_token", False)
    assert "Reporting" in reporting_token.help


def test_the_new_option_and_secret_round_trip() -> None:
    secrets = {"access_token": Secret(EVENTS_TOKEN), "reporting_access_token": Secret(REPORT_TOKEN)}
    loaded = TikTokConfig.from_mapping(
        {"pixel_code": PIXEL, "advertiser_id": f" {ADVERTISER} "}, secrets
    )
    assert loaded == config()
    assert loaded.to_mapping() == {"pixel_code": PIXEL, "advertiser_id": ADVERTISER}
    assert loaded.to_secrets() == secrets
    assert TikTokConfig.from_mapping(loaded.to_mapping(), loaded.to_secrets()) == loaded
    for text in (repr(loaded), str(loaded), repr(loaded.to_mapping())):
        assert REPORT_TOKEN not in text and EVENTS_TOKEN not in text


def test_without_them_a_destination_is_unchanged() -> None:
    loaded = TikTokConfig.from_mapping({"pixel_code": PIXEL}, {"access_token": Secret("t" * 20)})
    assert loaded.advertiser_id is None and loaded.reporting_access_token is None
    assert loaded.to_mapping() == {"pixel_code": PIXEL}
    assert set(loaded.to_secrets()) == {"access_token"}
    empty = {"access_token": Secret("t" * 20), "reporting_access_token": Secret("")}
    assert TikTokConfig.from_mapping({"pixel_code": PIXEL}, empty).reporting_access_token is None


def test_an_advertiser_id_given_as_a_number() -> None:
    loaded = TikTokConfig.from_mapping(
        {"pixel_code": PIXEL, "advertiser_id": 7012345678901234567},
        {"access_token": Secret("t" * 20)},
    )
    assert loaded.advertiser_id == ADVERTISER


@pytest.mark.parametrize("value", ["", "act_123", "12 34", True, 1.5, ["1"]])
def test_a_bad_advertiser_id_is_named(value: object) -> None:
    with pytest.raises(ConfigError, match="advertiser_id"):
        TikTokConfig.from_mapping(
            {"pixel_code": PIXEL, "advertiser_id": value}, {"access_token": Secret("t" * 20)}
        )


def test_missing() -> None:
    assert missing(config()) is None
    said = missing(config(advertiser_id=None))
    assert said is not None and said.startswith("the option advertiser_id")
    with pytest.raises(TypeError):
        missing(object())


# --- requests ------------------------------------------------------------------------------


def test_the_account_request() -> None:
    request = account_request(config(api_url="http://127.0.0.1:8088/sandbox/tiktok"))
    assert request.method == "GET"
    assert request.url == "http://127.0.0.1:8088/sandbox/tiktok/open_api/v1.3/advertiser/info/"
    assert request.params == {
        "advertiser_ids": f'["{ADVERTISER}"]',
        "fields": '["currency","timezone","display_timezone"]',
    }
    assert ACCOUNT_FIELDS == ("currency", "timezone", "display_timezone")
    assert request.headers["Access-Token"] == REPORT_TOKEN
    assert REPORT_TOKEN not in repr(request)


def test_the_report_request() -> None:
    request = report_request(config(), D(2026, 12, 1), D(2026, 12, 30), page=3)
    assert request.method == "GET"
    assert request.url == "https://business-api.tiktok.com/open_api/v1.3/report/integrated/get/"
    assert request.params == {
        "advertiser_id": ADVERTISER,
        "report_type": "BASIC",
        "data_level": "AUCTION_CAMPAIGN",
        "dimensions": '["campaign_id","stat_time_day"]',
        "metrics": '["campaign_name","spend","complete_payment","total_complete_payment_rate"]',
        "start_date": "2026-12-01",
        "end_date": "2026-12-30",
        "page": "3",
        "page_size": "1000",
    }
    assert orjson.loads(request.params["dimensions"]) == list(DIMENSIONS)
    assert orjson.loads(request.params["metrics"]) == list(METRICS)
    assert request.headers == {"Access-Token": REPORT_TOKEN, "Accept": "application/json"}


def test_without_a_reporting_token_the_events_token_is_sent() -> None:
    request = report_request(config(reporting_access_token=None), D(2026, 12, 1), D(2026, 12, 1))
    assert request.headers["Access-Token"] == EVENTS_TOKEN


def test_no_request_without_an_advertiser() -> None:
    with pytest.raises(ReportingError) as caught:
        account_request(config(advertiser_id=None))
    assert "advertiser_id" in caught.value.fix


def test_day_chunks_hold_at_most_30_days() -> None:
    assert day_chunks(D(2026, 12, 1), D(2026, 12, 1)) == [(D(2026, 12, 1), D(2026, 12, 1))]
    assert day_chunks(D(2026, 12, 1), D(2026, 12, 30)) == [(D(2026, 12, 1), D(2026, 12, 30))]
    assert day_chunks(D(2026, 12, 1), D(2026, 12, 31)) == [
        (D(2026, 12, 1), D(2026, 12, 30)),
        (D(2026, 12, 31), D(2026, 12, 31)),
    ]
    chunks = day_chunks(D(2026, 11, 1), D(2027, 1, 4))
    assert chunks == [
        (D(2026, 11, 1), D(2026, 11, 30)),
        (D(2026, 12, 1), D(2026, 12, 30)),
        (D(2026, 12, 31), D(2027, 1, 4)),
    ]
    with pytest.raises(ValueError):
        day_chunks(D(2026, 12, 2), D(2026, 12, 1))
    with pytest.raises(ValueError):
        day_chunks(D(2025, 1, 1), D(2026, 12, 1))


# --- answers -------------------------------------------------------------------------------


def test_a_page_is_read_exactly() -> None:
    body = page(
        [
            row("2026-12-01", "111", "Spring sale", "12.30", "3", "285.04"),
            row("2026-12-01", "222", "Retargeting", "0.10", "1", "0.20"),
            row("2026-12-02", "111", "Spring sale", 0.1, 2, 0.7),
        ],
        page=1,
        total_page=4,
    )
    got = parse_page(config(), 200, body)
    assert (got.page, got.total_page) == (1, 4)
    assert got.rows == (
        ClaimRow("2026-12-01", "Spring sale", Decimal(3), Decimal("285.04"), Decimal("12.30")),
        ClaimRow("2026-12-01", "Retargeting", Decimal(1), Decimal("0.20"), Decimal("0.10")),
        ClaimRow("2026-12-02", "Spring sale", Decimal(2), Decimal("0.7"), Decimal("0.1")),
    )
    assert str(got.rows[0].value) == "285.04"
    assert got.rows[1].value + got.rows[1].spend == Decimal("0.30")


def test_all_zero_rows_are_left_out_and_a_nameless_campaign_is_its_id() -> None:
    body = page(
        [
            row("2026-12-01", "111", "Spring sale", "0", "0", "0"),
            row("2026-12-01", "333", "-", "1.00", "0", "0"),
            row("2026-12-01", "444", "", "0", "1", "9.99"),
        ]
    )
    got = parse_page(config(), 200, body)
    assert [(r.campaign, r.spend, r.conversions) for r in got.rows] == [
        ("333", Decimal("1.00"), Decimal(0)),
        ("444", Decimal(0), Decimal(1)),
    ]


def test_total_page_from_total_number_when_absent() -> None:
    data = {"list": [], "page_info": {"page": 1, "page_size": 1000, "total_number": 2500}}
    assert parse_page(config(), 200, answer(data=data)).total_page == 3
    empty = {"list": [], "page_info": {"page": 1, "page_size": 1000, "total_number": 0}}
    assert parse_page(config(), 200, answer(data=empty)).total_page == 0


def _metric(**changes: Any) -> bytes:
    item = row("2026-12-01", "111", "Spring sale", "1", "1", "1")
    item["metrics"].update(changes)
    for key, value in changes.items():
        if value is None:
            del item["metrics"][key]
    return page([item])


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<html>nope</html>", "no JSON code"),
        (b"", "no JSON code"),
        (orjson.dumps({"message": "OK"}), "no JSON code"),
        (answer(data=None), "no data object"),
        (answer(data={"list": []}), "no data.list and data.page_info"),
        (answer(data={"list": [], "page_info": {"page": 1}}), "page_info without total_page"),
        (page(["not an object"]), "row 0 is not an object"),
        (page([{"dimensions": {}}]), "row 0 without dimensions and metrics"),
        (_metric(spend=None), "metrics.spend is missing"),
        (_metric(complete_payment="three"), "metrics.complete_payment is not a number"),
        (_metric(total_complete_payment_rate="-5"), "metrics.total_complete_payment_rate"),
        (_metric(spend="NaN"), "metrics.spend is not a number from 0"),
        (_metric(spend=True), "metrics.spend is not a number"),
        (_metric(spend="1e999999999"), "metrics.spend is not a number from 0"),
        (_metric(spend="-3.00"), "metrics.spend is not a number from 0"),
        (
            page(
                [{"dimensions": {"campaign_id": "1", "stat_time_day": "yesterday"}, "metrics": {}}]
            ),
            "stat_time_day is not a day",
        ),
    ],
)
def test_an_unexpected_body(body: bytes, said: str) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_page(config(), 200, body)
    assert "answered an unexpected body" in caught.value.reason
    assert said in caught.value.reason
    assert "api_url" in caught.value.fix


@pytest.mark.parametrize(
    ("code", "message", "fix_says"),
    [
        (40001, "No permission to operate advertiser_id: 7012345678901234567.", "Reporting scope"),
        (40102, "Access token has expired.", "reporting_access_token"),
        (
            40104,
            "Access token is null, you should set it in http header.",
            "reporting_access_token",
        ),
        (40105, "Access token is incorrect or has been revoked.", "reporting_access_token"),
        (40002, "start_date: Not a valid date", "advertiser_id"),
        (40100, "Too many requests. Please retry in some time.", "fetch again in a few minutes"),
        (50000, "Internal service error, please retry later.", "internal error"),
        (41000, "Something else", "fetch again later"),
    ],
)
def test_tiktok_error_codes(code: int, message: str, fix_says: str) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_page(config(), 200, answer(code, message))
    error = caught.value
    assert f"HTTP 200, code {code}: {message}" in error.reason
    assert fix_says in error.fix
    no_token(error)


def test_a_permission_error_says_which_token_was_sent() -> None:
    with pytest.raises(ReportingError) as own:
        parse_page(config(), 200, answer(40001, "No permission"))
    assert "the reporting_access_token set" in own.value.fix
    assert ADVERTISER in own.value.fix
    with pytest.raises(ReportingError) as fallback:
        parse_page(config(reporting_access_token=None), 200, answer(40001, "No permission"))
    assert "access_token (an Events API token" in fallback.value.fix
    assert "set-secret <destination> reporting_access_token" in fallback.value.fix


def test_a_token_echoed_by_tiktok_is_masked() -> None:
    echoed = answer(40105, f"Access token {REPORT_TOKEN} is incorrect")
    with pytest.raises(ReportingError) as caught:
        parse_page(config(), 200, echoed, (REPORT_TOKEN,))
    no_token(caught.value)
    page_echo = f"<html>bad token {REPORT_TOKEN}</html>".encode()
    with pytest.raises(ReportingError) as again:
        parse_page(config(), 401, page_echo, (REPORT_TOKEN,))
    no_token(again.value)


@pytest.mark.parametrize(
    ("status", "reason", "fix_says"),
    [
        (502, "HTTP 502 without its JSON body", "internal error"),
        (429, "HTTP 429 without its JSON body", "throttled"),
        (401, "HTTP 401 without its JSON body", "reporting_access_token"),
        (404, "unexpected body (HTTP 404)", "api_url"),
    ],
)
def test_an_answer_without_tiktoks_json(status: int, reason: str, fix_says: str) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_page(config(), status, b"<html><body>Error</body></html>")
    assert reason in caught.value.reason
    assert fix_says in caught.value.fix


def test_the_account_is_read() -> None:
    assert parse_account(config(), 200, account()) == ("EUR", "Etc/GMT-1")
    # timezone not an IANA name: display_timezone is
    assert parse_account(config(), 200, account(timezone="UTC+01:00")) == ("EUR", "Europe/Paris")
    assert parse_account(config(), 200, account(currency="usd")) == ("USD", "Etc/GMT-1")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (account(timezone=None, display_timezone="Mars/Olympus"), "no IANA time zone"),
        (account(currency="EURO"), "currency 'EURO'"),
        (account(currency=None), "currency 'None'"),
        (answer(data={"items": []}), "no data.list"),
    ],
)
def test_a_bad_account(body: bytes, said: str) -> None:
    with pytest.raises(ReportingError) as caught:
        parse_account(config(), 200, body)
    assert said in caught.value.reason


def test_an_account_not_listed() -> None:
    with pytest.raises(ReportingError) as caught:
        parse_account(config(), 200, account(advertiser_id="999"))
    assert f"did not list the advertiser {ADVERTISER}" in caught.value.reason
    assert "advertiser_id" in caught.value.fix


# --- fetch ---------------------------------------------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


def recording(answer_page: Callable[[dict[str, str]], bytes]) -> tuple[Handler, list[Any]]:
    seen: list[Any] = []

    def handle(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append((request.url.path, params, request.headers.get("access-token")))
        if request.url.path.endswith("/advertiser/info/"):
            return httpx.Response(200, content=account())
        return httpx.Response(200, content=answer_page(params))

    return handle, seen


async def test_fetch_follows_pages_and_chunks() -> None:
    def answer_page(params: dict[str, str]) -> bytes:
        start, number = params["start_date"], int(params["page"])
        rows = [row(start, "111", "Spring sale", "1.10", str(number), "10.05")]
        return page(rows, page=number, total_page=2)

    handle, seen = recording(answer_page)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        report = await fetch(config(), client, D(2026, 12, 1), D(2027, 1, 4))
    info, report_path = "/open_api/v1.3/advertiser/info/", "/open_api/v1.3/report/integrated/get/"
    assert [(path, p.get("start_date"), p.get("page")) for path, p, _ in seen] == [
        (info, None, None),
        (report_path, "2026-12-01", "1"),
        (report_path, "2026-12-01", "2"),
        (report_path, "2026-12-31", "1"),
        (report_path, "2026-12-31", "2"),
    ]
    assert all(token == REPORT_TOKEN for _, _, token in seen)
    assert [p["end_date"] for _, p, _ in seen[1:]] == ["2026-12-30"] * 2 + ["2027-01-04"] * 2
    assert report == AccountReport(
        ADVERTISER,
        "EUR",
        "Etc/GMT-1",
        COUNTED,
        (
            ClaimRow("2026-12-01", "Spring sale", Decimal(1), Decimal("10.05"), Decimal("1.10")),
            ClaimRow("2026-12-01", "Spring sale", Decimal(2), Decimal("10.05"), Decimal("1.10")),
            ClaimRow("2026-12-31", "Spring sale", Decimal(1), Decimal("10.05"), Decimal("1.10")),
            ClaimRow("2026-12-31", "Spring sale", Decimal(2), Decimal("10.05"), Decimal("1.10")),
        ),
    )


async def test_fetch_stops_a_platform_that_keeps_paging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reporting, "MAX_PAGES", 3)
    handle, seen = recording(lambda p: page([], page=int(p["page"]), total_page=10**6))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError, match="kept answering more pages"):
            await fetch(config(), client, D(2026, 12, 1), D(2026, 12, 1))
    assert len(seen) == 1 + 3
    assert MAX_PAGES == 1000


async def test_fetch_raises_tiktoks_refusal() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=answer(40001, f"No permission for {EVENTS_TOKEN}"))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError) as caught:
            await fetch(config(reporting_access_token=None), client, D(2026, 12, 1), D(2026, 12, 1))
    assert "advertiser/info" in caught.value.reason and "code 40001" in caught.value.reason
    no_token(caught.value)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (httpx.ConnectError("refused"), "could not be reached (ConnectError)"),
        (httpx.ReadTimeout("slow"), "no answer from TikTok's advertiser/info within 10s"),
        (httpx.RemoteProtocolError("bad"), "could not be reached (RemoteProtocolError)"),
    ],
)
async def test_a_transport_error_is_a_reporting_error(error: Exception, said: str) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ReportingError) as caught:
            await fetch(config(), client, D(2026, 12, 1), D(2026, 12, 1))
    assert said in caught.value.reason
    assert caught.value.fix


async def test_fetch_refuses_another_kinds_config() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(TypeError):
            await fetch(object(), client, D(2026, 12, 1), D(2026, 12, 1))
