"""TikTok's reporting, emulated: purchases sent through the real track route, the advertiser
set through ``/_sandbox/reporting``, then ``report/integrated/get`` and ``advertiser/info``
in TikTok's shape (rows, days in the account's time zone, pages, token and parameter
errors, faults), and the sink's ``REPORTING.fetch`` against the app in process."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from signalyard.sandbox.reporting_common import ReportingBook
from signalyard.sandbox.tiktok import SandboxState
from signalyard.secret import Secret
from signalyard.sinks.reporting import AccountReport, ClaimRow, ReportingError
from signalyard.sinks.tiktok import SPEC
from signalyard.sinks.tiktok import reporting as sink_reporting
from signalyard.sinks.tiktok.config import TikTokConfig
from signalyard.sinks.tiktok.reporting import COUNTED

from ..builders import NOW
from .factory import HEADERS, PIXEL, TOKEN, answer, body, event, track, user

pytestmark = pytest.mark.anyio

REPORT = "/open_api/v1.3/report/integrated/get/"
INFO = "/open_api/v1.3/advertiser/info/"
ADVERTISER = "7012345678901234567"
DAY = 86400
# NOW is 2027-01-15 08:00 UTC, 03:00 in New York (UTC-5 in January).
BOOK: dict[str, Any] = {
    "account": {"id": ADVERTISER, "currency": "EUR", "time_zone": "America/New_York"},
    "campaigns": [
        {"id": "111", "name": "Spring sale", "clicks": [{"id": "ttclid-A"}]},
        {
            "id": "222",
            "name": "Retargeting",
            "clicks": [
                {"id": "ttclid-B", "clicked_at": NOW - 8 * DAY},
                {"id": "ttclid-C", "clicked_at": NOW - 1 * DAY},
            ],
        },
    ],
    "spend": [
        {"day": "2027-01-14", "campaign_id": "111", "amount": "12.30"},
        {"day": "2027-01-15", "campaign_id": "222", "amount": "5"},
        {"day": "2027-01-13", "campaign_id": "222", "amount": "0.70"},
    ],
}
ALL_METRICS = ["campaign_name", "spend", "complete_payment", "total_complete_payment_rate"]


def purchase(
    event_id: str, click: str | None, value: float, *, age: float = 10, name: str = "Purchase"
) -> dict[str, Any]:
    return event(
        event_id,
        name=name,
        age=age,
        user=user(ttclid=click),
        properties={"value": value, "currency": "EUR"},
    )


async def send_purchases(client: httpx.AsyncClient) -> None:
    """The purchases of the tests: four claimed (two by ttclid-A, one of an unknown click,
    one by ttclid-C), the others not."""
    claimed = [
        purchase("order-1", "ttclid-A", 100.10),  # 2027-01-15 03:00 New York
        purchase("order-2", "ttclid-A", 42.52, age=4 * 3600 + 60),  # 2027-01-14 22:59
        purchase("order-7", "ttclid-unknown", 7, name="CompletePayment"),  # default campaign
        purchase("order-8", "ttclid-C", 20),  # clicked a day before: within 7 days
    ]
    answer(await track(client, body(*claimed)), 0)
    not_claimed = [
        purchase("order-3", None, 50),  # no click id
        purchase("order-4", "ttclid-B", 60),  # clicked 8 days before: out of the window
        purchase("order-1", "ttclid-A", 100.10),  # the same event again: deduplicated
        event("order-6", name="ViewContent", user=user(ttclid="ttclid-A")),  # not a purchase
    ]
    answer(await track(client, body(*not_claimed)), 0)
    test_event = purchase("order-5", "ttclid-C", 30)
    answer(await track(client, body(test_event, test_event_code="TEST123")), 0)


async def set_book(client: httpx.AsyncClient, book: Any = BOOK) -> None:
    r = await client.post("/_sandbox/reporting", json=book)
    assert r.status_code == 200, r.text


def params(**changes: Any) -> dict[str, str]:
    out: dict[str, Any] = {
        "advertiser_id": ADVERTISER,
        "report_type": "BASIC",
        "data_level": "AUCTION_CAMPAIGN",
        "dimensions": ["campaign_id", "stat_time_day"],
        "metrics": ALL_METRICS,
        "start_date": "2027-01-14",
        "end_date": "2027-01-15",
        "page_size": 1000,
    }
    out.update(changes)
    return {
        k: orjson.dumps(v).decode() if isinstance(v, list) else str(v)
        for k, v in out.items()
        if v is not None
    }


async def report(
    client: httpx.AsyncClient, token: str | None = TOKEN, path: str = REPORT, **changes: Any
) -> httpx.Response:
    headers = {} if token is None else {"Access-Token": token}
    return await client.get(path, params=params(**changes), headers=headers)


def line(
    day: str, campaign_id: str, name: str, spend: str, count: str, value: str
) -> dict[str, Any]:
    return {
        "dimensions": {"campaign_id": campaign_id, "stat_time_day": f"{day} 00:00:00"},
        "metrics": {
            "campaign_name": name,
            "spend": spend,
            "complete_payment": count,
            "total_complete_payment_rate": value,
        },
    }


EXPECTED = [
    line("2027-01-14", "111", "Spring sale", "12.30", "1", "42.52"),
    line("2027-01-15", "1", "Sandbox campaign", "0", "1", "7"),
    line("2027-01-15", "111", "Spring sale", "0", "1", "100.1"),
    line("2027-01-15", "222", "Retargeting", "5", "1", "20"),
]


# --- the report ----------------------------------------------------------------------------


async def test_the_report_claims_the_purchases_of_tiktok_clicks(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await send_purchases(client)
    await set_book(client)
    r = await report(client)
    out = answer(r, 0)
    assert out["message"] == "OK"
    assert out["data"] == {
        "list": EXPECTED,
        "page_info": {"page": 1, "page_size": 1000, "total_number": 4, "total_page": 1},
    }
    assert r.headers["x-tt-logid"] == out["request_id"]
    # every purchase was recorded: the report chose among them
    assert len(state.events()) == 9


async def test_without_the_final_slash(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client)
    out = answer(await report(client, path=REPORT.rstrip("/")), 0)
    assert out["data"]["list"] == EXPECTED


async def test_days_outside_the_range_and_spend_alone(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client)
    out = answer(await report(client, start_date="2027-01-13", end_date="2027-01-14"), 0)
    assert out["data"]["list"] == [
        line("2027-01-13", "222", "Retargeting", "0.70", "0", "0"),
        line("2027-01-14", "111", "Spring sale", "12.30", "1", "42.52"),
    ]
    empty = answer(await report(client, start_date="2026-12-01", end_date="2026-12-02"), 0)
    assert empty["data"] == {
        "list": [],
        "page_info": {"page": 1, "page_size": 1000, "total_number": 0, "total_page": 0},
    }


async def test_days_are_the_accounts(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client, {**BOOK, "account": {**BOOK["account"], "time_zone": "UTC"}})
    out = answer(await report(client, metrics=["complete_payment"]), 0)
    # in UTC, order-2 (03:59 UTC) is on the 15th with the others
    assert [(r["dimensions"]["stat_time_day"][:10], r["metrics"]) for r in out["data"]["list"]] == [
        ("2027-01-14", {"complete_payment": "0"}),
        ("2027-01-15", {"complete_payment": "1"}),
        ("2027-01-15", {"complete_payment": "2"}),
        ("2027-01-15", {"complete_payment": "1"}),
    ]


async def test_a_click_window_set_in_the_book(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client, {**BOOK, "window_days": 9})
    out = answer(await report(client, metrics=["complete_payment"]), 0)
    counts = {
        (r["dimensions"]["stat_time_day"][:10], r["dimensions"]["campaign_id"]): r["metrics"][
            "complete_payment"
        ]
        for r in out["data"]["list"]
    }
    assert counts[("2027-01-15", "222")] == "2"  # ttclid-B, 8 days after its click, counts now


async def test_dimensions_add_up(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client)
    by_campaign = answer(await report(client, dimensions=["campaign_id"]), 0)
    assert by_campaign["data"]["list"] == [
        {
            "dimensions": {"campaign_id": "1"},
            "metrics": {
                "campaign_name": "Sandbox campaign",
                "spend": "0",
                "complete_payment": "1",
                "total_complete_payment_rate": "7",
            },
        },
        {
            "dimensions": {"campaign_id": "111"},
            "metrics": {
                "campaign_name": "Spring sale",
                "spend": "12.30",
                "complete_payment": "2",
                "total_complete_payment_rate": "142.62",
            },
        },
        {
            "dimensions": {"campaign_id": "222"},
            "metrics": {
                "campaign_name": "Retargeting",
                "spend": "5",
                "complete_payment": "1",
                "total_complete_payment_rate": "20",
            },
        },
    ]
    by_day = answer(
        await report(
            client,
            data_level="AUCTION_ADVERTISER",
            dimensions=["stat_time_day", "advertiser_id"],
            metrics=["spend", "complete_payment"],
        ),
        0,
    )
    assert by_day["data"]["list"] == [
        {
            "dimensions": {"stat_time_day": "2027-01-14 00:00:00", "advertiser_id": ADVERTISER},
            "metrics": {"spend": "12.30", "complete_payment": "1"},
        },
        {
            "dimensions": {"stat_time_day": "2027-01-15 00:00:00", "advertiser_id": ADVERTISER},
            "metrics": {"spend": "5", "complete_payment": "3"},
        },
    ]


async def test_pages(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client)
    first = answer(await report(client, page_size=3), 0)["data"]
    assert first["list"] == EXPECTED[:3]
    assert first["page_info"] == {"page": 1, "page_size": 3, "total_number": 4, "total_page": 2}
    second = answer(await report(client, page_size=3, page=2), 0)["data"]
    assert second["list"] == EXPECTED[3:]
    assert second["page_info"]["page"] == 2
    beyond = answer(await report(client, page_size=3, page=3), 0)["data"]
    assert beyond["list"] == [] and beyond["page_info"]["total_page"] == 2
    default = answer(await report(client, page_size=None), 0)["data"]
    assert default["page_info"]["page_size"] == 10


async def test_a_reset_book_reports_nothing_of_its_campaigns(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client)
    assert (await client.delete("/_sandbox/reporting")).status_code == 200
    wrong = answer(await report(client), 40001)
    assert ADVERTISER in wrong["message"]
    out = answer(await report(client, advertiser_id="1234567890"), 0)
    # every click is now of the default campaign; no spend
    assert {r["dimensions"]["campaign_id"] for r in out["data"]["list"]} == {"1"}


# --- tokens, the advertiser, parameters ----------------------------------------------------


async def test_a_missing_token(client: httpx.AsyncClient) -> None:
    out = answer(await report(client, token=None), 40104)
    assert out["message"] == "Access token is null, you should set it in http header."
    assert out["data"] == {}
    info = await client.get(INFO, params={"advertiser_ids": f'["{ADVERTISER}"]'})
    answer(info, 40104)


async def test_a_malformed_token(client: httpx.AsyncClient) -> None:
    out = answer(await report(client, token="short"), 40105)
    assert out["message"] == "Access token is incorrect or has been revoked."


async def test_an_advertiser_the_token_cannot_operate(client: httpx.AsyncClient) -> None:
    await set_book(client)
    out = answer(await report(client, advertiser_id="999"), 40001)
    assert out["message"] == (
        "No permission to operate advertiser_id: 999. "
        "You must be an admin or operator of this advertiser account."
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"advertiser_id": None}, "advertiser_id: Missing data for required field"),
        ({"start_date": None}, "start_date: Missing data for required field"),
        ({"end_date": "2027/01/15"}, "end_date: Not a valid date, use YYYY-MM-DD"),
        ({"start_date": "2027-01-16"}, "end_date: Must be later than or equal to start_date"),
        (
            {"start_date": "2026-12-01", "end_date": "2026-12-31"},
            "end_date: The time span between start_date and end_date can be up to 30 days",
        ),
        ({"report_type": "AUDIENCE"}, "report_type: Must be one of: BASIC"),
        ({"report_type": None}, "report_type: Missing data for required field"),
        ({"service_type": "RESERVATION"}, "service_type: Must be one of: AUCTION"),
        ({"data_level": None}, "data_level: Missing data for required field"),
        ({"data_level": "AUCTION_AD"}, "data_level: Must be one of:"),
        ({"dimensions": "campaign_id"}, "dimensions: Not a valid list"),
        ({"dimensions": ["stat_time_day"]}, "dimensions: AUCTION_CAMPAIGN needs the dimension"),
        ({"dimensions": ["ad_id"]}, "dimensions: Invalid dimension for AUCTION_CAMPAIGN: ad_id"),
        ({"metrics": ["impressions"]}, "metrics: Invalid metric for AUCTION_CAMPAIGN: impressions"),
        ({"metrics": [1.5]}, "metrics.0: Not a valid string"),
        ({"page_size": 1001}, "page_size: Must be greater than or equal to 1 and less than"),
        ({"page_size": 0}, "page_size: Must be greater than or equal to 1"),
        ({"page": "two"}, "page: Not a valid integer"),
        ({"query_lifetime": "true"}, "query_lifetime: Not supported by the sandbox"),
    ],
)
async def test_a_bad_parameter_is_named(
    client: httpx.AsyncClient, changes: dict[str, Any], message: str
) -> None:
    await set_book(client)
    out = answer(await report(client, **changes), 40002)
    assert out["message"].startswith(message), out["message"]


async def test_thirty_days_are_taken(client: httpx.AsyncClient) -> None:
    await set_book(client)
    answer(await report(client, start_date="2026-12-01", end_date="2026-12-30"), 0)
    # without stat_time_day a longer range is one total
    answer(
        await report(
            client, start_date="2026-11-01", end_date="2027-01-15", dimensions=["campaign_id"]
        ),
        0,
    )


async def test_only_get(client: httpx.AsyncClient) -> None:
    assert (await client.post(REPORT, headers=HEADERS)).status_code == 405


# --- the account ---------------------------------------------------------------------------


async def test_advertiser_info(client: httpx.AsyncClient) -> None:
    await set_book(client)
    query = {"advertiser_ids": f'["{ADVERTISER}"]', "fields": '["currency","timezone"]'}
    out = answer(await client.get(INFO, params=query, headers=HEADERS), 0)
    assert out["data"] == {
        "list": [{"advertiser_id": ADVERTISER, "currency": "EUR", "timezone": "America/New_York"}]
    }
    every = answer(
        await client.get(
            INFO.rstrip("/"), params={"advertiser_ids": f"[{ADVERTISER}]"}, headers=HEADERS
        ),
        0,
    )
    assert every["data"]["list"] == [
        {
            "advertiser_id": ADVERTISER,
            "name": "Sandbox advertiser",
            "currency": "EUR",
            "timezone": "America/New_York",
            "display_timezone": "America/New_York",
            "status": "STATUS_ENABLE",
        }
    ]


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ({}, 40002, "advertiser_ids: Missing data for required field"),
        ({"advertiser_ids": "7012"}, 40002, "advertiser_ids: Not a valid list"),
        ({"advertiser_ids": "[]"}, 40002, "advertiser_ids: Not a valid list"),
        ({"advertiser_ids": f'["{ADVERTISER}"]', "fields": '["balance"]'}, 40002, "fields:"),
        ({"advertiser_ids": f'["{ADVERTISER}", "42"]'}, 40001, "No permission to operate"),
    ],
)
async def test_advertiser_info_refusals(
    client: httpx.AsyncClient, query: dict[str, str], code: int, message: str
) -> None:
    await set_book(client)
    out = answer(await client.get(INFO, params=query, headers=HEADERS), code)
    assert out["message"].startswith(message), out["message"]


# --- faults, the control plane -------------------------------------------------------------


async def test_faults_apply_to_reporting(client: httpx.AsyncClient) -> None:
    await set_book(client)
    await client.post("/_sandbox/faults", json={"kind": "expired_token", "count": 1})
    assert "No permission to operate" in answer(await report(client), 40001)["message"]
    await client.post("/_sandbox/faults", json={"kind": "throttle", "count": 1})
    answer(await report(client), 40100)
    await client.post("/_sandbox/faults", json={"kind": "server_error", "count": 1})
    page = await report(client)
    assert page.status_code == 502 and "nginx" in page.text
    # a fault scoped to a pixel, and an invalid_event one, are the track endpoint's
    await client.post("/_sandbox/faults", json={"kind": "throttle", "event_source_id": PIXEL})
    await client.post("/_sandbox/faults", json={"kind": "invalid_event", "event_ids": ["x"]})
    answer(await report(client), 0)


async def test_the_control_plane_lists_and_holds_the_book(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    endpoints = (await client.get("/_sandbox")).json()["endpoints"]
    assert f"GET {REPORT}" in endpoints and f"GET {INFO}" in endpoints
    assert "GET|POST|DELETE /_sandbox/reporting" in endpoints
    book = app.state.reporting
    assert isinstance(book, ReportingBook)
    assert book.window_days == 7
    await set_book(client)
    shown = (await client.get("/_sandbox/reporting")).json()
    assert shown["account"] == BOOK["account"]
    assert shown["window_days"] == 7


# --- the sink's fetch against the sandbox ---------------------------------------------------


def tiktok_config(**changes: Any) -> TikTokConfig:
    fields: dict[str, Any] = {
        "pixel_code": PIXEL,
        "access_token": Secret(TOKEN),
        "api_url": "http://sandbox",
        "advertiser_id": ADVERTISER,
    }
    fields.update(changes)
    return TikTokConfig(**fields)


REPORTED = AccountReport(
    ADVERTISER,
    "EUR",
    "America/New_York",
    COUNTED,
    (
        ClaimRow("2027-01-14", "Spring sale", Decimal(1), Decimal("42.52"), Decimal("12.30")),
        ClaimRow("2027-01-15", "Retargeting", Decimal(1), Decimal(20), Decimal(5)),
        ClaimRow("2027-01-15", "Sandbox campaign", Decimal(1), Decimal(7), Decimal(0)),
        ClaimRow("2027-01-15", "Spring sale", Decimal(1), Decimal("100.1"), Decimal(0)),
    ),
)


async def test_the_sinks_fetch_against_the_sandbox(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client)
    assert SPEC.reporting is not None
    config = tiktok_config()
    assert SPEC.reporting.missing(config) is None
    since, until = datetime.date(2027, 1, 14), datetime.date(2027, 1, 15)
    assert await SPEC.reporting.fetch(config, client, since, until) == REPORTED


async def test_fetch_over_pages_and_a_long_range(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await send_purchases(client)
    await set_book(client)
    monkeypatch.setattr(sink_reporting, "PAGE_SIZE", 1)
    since, until = datetime.date(2026, 11, 1), datetime.date(2027, 1, 15)  # 76 days: 3 requests
    got = await sink_reporting.fetch(tiktok_config(), client, since, until)
    assert got.rows == (
        ClaimRow("2027-01-13", "Retargeting", Decimal(0), Decimal(0), Decimal("0.70")),
        *REPORTED.rows,
    )


async def test_fetch_with_the_wrong_advertiser(client: httpx.AsyncClient) -> None:
    await set_book(client)
    with pytest.raises(ReportingError) as caught:
        await sink_reporting.fetch(
            tiktok_config(advertiser_id="999"),
            client,
            datetime.date(2027, 1, 14),
            datetime.date(2027, 1, 15),
        )
    assert "code 40001" in caught.value.reason
    assert "reporting_access_token" in caught.value.fix
    assert TOKEN not in caught.value.reason + caught.value.fix


async def test_fetch_with_a_malformed_token(client: httpx.AsyncClient) -> None:
    await set_book(client)
    with pytest.raises(ReportingError) as caught:
        await sink_reporting.fetch(
            tiktok_config(reporting_access_token=Secret("bad")),
            client,
            datetime.date(2027, 1, 14),
            datetime.date(2027, 1, 15),
        )
    assert "code 40105" in caught.value.reason
    assert "the reporting_access_token set" in caught.value.fix
