"""Snap's Marketing API reporting, emulated: purchases sent through the real events route, the
ad account set through ``/_sandbox/reporting``, then ``/v1/adaccounts/{id}``, ``.../campaigns``
and ``.../stats`` in Snap's shape (rows, days in the account's time zone, micros, pages, token
and parameter errors, faults), and the sink's ``REPORTING.fetch`` against the app in
process."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from signalyard.sandbox.reporting_common import ReportingBook
from signalyard.sandbox.snapchat import SandboxState
from signalyard.sandbox.snapchat.control import ENDPOINTS
from signalyard.secret import Secret
from signalyard.sinks.reporting import AccountReport, ClaimRow, ReportingError
from signalyard.sinks.snapchat import SnapchatConfig
from signalyard.sinks.snapchat.reporting import COUNTED, fetch

from ..builders import NOW
from .factory import PIXEL, TOKEN, VALIDATE, body, event, post, user

pytestmark = pytest.mark.anyio

ACCOUNT = "8adc3db7-8148-4fbf-999c-8d2266369d74"
BASE = f"/v1/adaccounts/{ACCOUNT}"
MARKETING = "snapMarketingToken0123456789abcdef"
AUTH = {"Authorization": f"Bearer {MARKETING}"}
DAY = 86400
# NOW is 2027-01-15 08:00 UTC, 03:00 in New York (UTC-5 in January).
BOOK: dict[str, Any] = {
    "account": {"id": ACCOUNT, "currency": "EUR", "time_zone": "America/New_York"},
    "campaigns": [
        {"id": "c-111", "name": "Spring sale", "clicks": [{"id": "sc-A"}]},
        {
            "id": "c-222",
            "name": "Retargeting",
            "clicks": [
                {"id": "sc-B", "clicked_at": NOW - 29 * DAY},
                {"id": "sc-C", "clicked_at": NOW - 1 * DAY},
                {"id": "sc-D", "clicked_at": NOW - 8 * DAY},
            ],
        },
    ],
    "spend": [
        {"day": "2027-01-14", "campaign_id": "c-111", "amount": "12.30"},
        {"day": "2027-01-15", "campaign_id": "c-222", "amount": "5"},
        {"day": "2027-01-13", "campaign_id": "c-222", "amount": "0.70"},
    ],
}
START = "2027-01-14T00:00:00-05:00"
END = "2027-01-16T00:00:00-05:00"


def purchase(
    event_id: str, click: str | None, value: Any, *, age: float = 10, name: str = "PURCHASE"
) -> dict[str, Any]:
    return event(
        event_id,
        name=name,
        age=age,
        user_data=user(sc_click_id=click),
        custom_data={"value": value, "currency": "EUR"},
    )


async def send_purchases(client: httpx.AsyncClient) -> None:
    """Five claimed purchases (two by sc-A, one of an unknown click, sc-C and sc-D of
    Retargeting; sc-D only within 28 days), the others not."""
    claimed = [
        purchase("order-1", "sc-A", 100.10),  # 2027-01-15 03:00 New York
        purchase("order-2", "sc-A", "42.52", age=4 * 3600 + 60),  # 2027-01-14 22:59
        purchase("order-7", "sc-unknown", 7),  # the default campaign
        purchase("order-8", "sc-C", 20),  # clicked a day before
        purchase("order-9", "sc-D", 9),  # clicked 8 days before: only in a 28-day window
    ]
    assert (await post(client, body(*claimed))).status_code == 200
    not_claimed = [
        purchase("order-3", None, 50),  # no click id
        purchase("order-4", "sc-B", 60),  # clicked 29 days before: out of the window
        purchase("order-1", "sc-A", 100.10),  # the same event again: deduplicated
        event("order-6", name="VIEW_CONTENT", user_data=user(sc_click_id="sc-A")),
    ]
    assert (await post(client, body(*not_claimed))).status_code == 200
    test_event = purchase("order-5", "sc-C", 30)
    assert (await post(client, body(test_event), path=VALIDATE)).status_code == 200


async def set_book(client: httpx.AsyncClient, book: Any = BOOK) -> None:
    r = await client.post("/_sandbox/reporting", json=book)
    assert r.status_code == 200, r.text


def stats_params(**changes: Any) -> dict[str, str]:
    out: dict[str, Any] = {
        "granularity": "DAY",
        "breakdown": "campaign",
        "fields": "spend,conversion_purchases,conversion_purchases_value",
        "start_time": START,
        "end_time": END,
        "swipe_up_attribution_window": "28_DAY",
        "view_attribution_window": "1_DAY",
        "action_report_time": "conversion",
    }
    out.update(changes)
    return {k: str(v) for k, v in out.items() if v is not None}


async def stats(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **changes: Any
) -> httpx.Response:
    return await client.get(
        f"{BASE}/stats",
        params=stats_params(**changes),
        headers=AUTH if headers is None else headers,
    )


def day(date: str, spend: int = 0, count: int = 0, value: int = 0) -> dict[str, Any]:
    return {
        "start_time": f"{date}T00:00:00.000-05:00",
        "end_time": f"{(datetime.date.fromisoformat(date) + datetime.timedelta(days=1))}"
        "T00:00:00.000-05:00",
        "stats": {
            "spend": spend,
            "conversion_purchases": count,
            "conversion_purchases_value": value,
        },
    }


def campaign(campaign_id: str, *days: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": campaign_id,
        "type": "CAMPAIGN",
        "granularity": "DAY",
        "start_time": "2027-01-14T00:00:00.000-05:00",
        "end_time": "2027-01-16T00:00:00.000-05:00",
        "timeseries": list(days),
    }


def breakdown(answer: dict[str, Any]) -> list[dict[str, Any]]:
    assert answer["request_status"] == "SUCCESS" and answer["request_id"]
    (item,) = answer["timeseries_stats"]
    assert item["sub_request_status"] == "SUCCESS"
    stat = item["timeseries_stat"]
    assert (stat["id"], stat["type"], stat["granularity"]) == (ACCOUNT, "AD_ACCOUNT", "DAY")
    result: list[dict[str, Any]] = stat["breakdown_stats"]["campaign"]
    return result


def refused(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    out = r.json()
    assert out["request_status"] == "ERROR" and out["error_code"] == code, out
    assert out["request_id"] and out["display_message"]
    message: str = out["debug_message"]
    return message


# --- the claims ----------------------------------------------------------------------------


async def test_the_stats_per_day_and_campaign(client: httpx.AsyncClient) -> None:
    await set_book(client)
    await send_purchases(client)
    r = await stats(client)
    assert r.status_code == 200, r.text
    assert breakdown(r.json()) == [
        campaign("1", day("2027-01-14"), day("2027-01-15", count=1, value=7_000_000)),
        campaign(
            "c-111",
            day("2027-01-14", spend=12_300_000, count=1, value=42_520_000),
            day("2027-01-15", count=1, value=100_100_000),
        ),
        campaign(
            "c-222",
            day("2027-01-14"),
            day("2027-01-15", spend=5_000_000, count=2, value=29_000_000),
        ),
    ]


async def test_a_shorter_swipe_window_counts_fewer(client: httpx.AsyncClient) -> None:
    await set_book(client)
    await send_purchases(client)
    r = await stats(
        client, swipe_up_attribution_window="7_DAY", start_time="2027-01-15T00:00:00-05:00"
    )
    (_, _, retargeting) = breakdown(r.json())
    assert retargeting["timeseries"] == [
        day("2027-01-15", spend=5_000_000, count=1, value=20_000_000)
    ]


async def test_impression_time_dates_a_conversion_by_its_click(client: httpx.AsyncClient) -> None:
    await set_book(client)
    await send_purchases(client)
    r = await stats(client, action_report_time="impression")
    (_, _, retargeting) = breakdown(r.json())
    assert retargeting["timeseries"] == [
        day("2027-01-14", count=1, value=20_000_000),  # sc-C clicked on the 14th
        day("2027-01-15", spend=5_000_000),  # sc-D clicked on the 7th: out of the range
    ]


async def test_without_a_breakdown_the_account_s_days(client: httpx.AsyncClient) -> None:
    await set_book(client)
    await send_purchases(client)
    r = await stats(client, breakdown=None, fields="spend,conversion_purchases")
    (item,) = r.json()["timeseries_stats"]
    stat = item["timeseries_stat"]
    assert "breakdown_stats" not in stat
    assert [e["stats"] for e in stat["timeseries"]] == [
        {"spend": 12_300_000, "conversion_purchases": 1},
        {"spend": 5_000_000, "conversion_purchases": 4},
    ]


async def test_odd_values_count_as_zero_and_never_fail(client: httpx.AsyncClient) -> None:
    await set_book(client)
    odd = [purchase(f"odd-{i}", "sc-A", v) for i, v in enumerate(["nan", "1e400", "9" * 500])]
    assert (await post(client, body(*odd))).status_code == 200
    r = await stats(client, start_time="2027-01-15T00:00:00-05:00")
    assert r.status_code == 200
    (spring, retargeting) = breakdown(r.json())
    assert spring["id"] == "c-111" and retargeting["id"] == "c-222"
    assert spring["timeseries"] == [day("2027-01-15", count=3)]


# --- the account and its campaigns ---------------------------------------------------------


async def test_the_ad_account(client: httpx.AsyncClient) -> None:
    await set_book(client)
    r = await client.get(BASE, headers=AUTH)
    assert r.status_code == 200, r.text
    (item,) = r.json()["adaccounts"]
    assert item["sub_request_status"] == "SUCCESS"
    account = item["adaccount"]
    assert (account["id"], account["currency"], account["timezone"]) == (
        ACCOUNT,
        "EUR",
        "America/New_York",
    )


async def test_campaigns_are_paged_by_cursor(client: httpx.AsyncClient) -> None:
    many = [{"id": f"k-{i:03d}", "name": f"Campaign {i}"} for i in range(60)]
    await set_book(client, {**BOOK, "campaigns": BOOK["campaigns"] + many})
    r = await client.get(f"{BASE}/campaigns", params={"limit": "50"}, headers=AUTH)
    assert r.status_code == 200, r.text
    first = r.json()
    assert len(first["campaigns"]) == 50
    assert first["campaigns"][0] == {
        "sub_request_status": "SUCCESS",
        "campaign": {
            "id": "1",
            "name": "Sandbox campaign",
            "ad_account_id": ACCOUNT,
            "status": "ACTIVE",
        },
    }
    link = httpx.URL(first["paging"]["next_link"])
    assert link.path == f"{BASE}/campaigns" and link.params["limit"] == "50"
    r = await client.get(f"{BASE}/campaigns", params=dict(link.params), headers=AUTH)
    second = r.json()
    assert len(second["campaigns"]) == 13 and "paging" not in second
    names = [c["campaign"]["name"] for c in first["campaigns"] + second["campaigns"]]
    assert names[:3] == ["Sandbox campaign", "Spring sale", "Retargeting"]
    assert names[-1] == "Campaign 59"


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer short"}, {"Authorization": f"Basic {MARKETING}"}],
)
async def test_a_missing_or_malformed_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path in (BASE, f"{BASE}/campaigns"):
        refused(await client.get(path, headers=headers), 401, "UNAUTHORIZED")
    refused(await stats(client, headers=headers), 401, "UNAUTHORIZED")


async def test_a_token_in_the_query_is_not_the_marketing_api_s_way(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get(BASE, params={"access_token": MARKETING})
    refused(r, 401, "UNAUTHORIZED")


async def test_another_ad_account_is_refused(client: httpx.AsyncClient) -> None:
    await set_book(client)
    said = refused(await client.get("/v1/adaccounts/other", headers=AUTH), 403, "ACCESS_DENIED")
    assert "can be authorized" in said


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"granularity": None}, "granularity: is required"),
        ({"granularity": "HOUR"}, "granularity"),
        ({"breakdown": "ad"}, "breakdown"),
        ({"fields": "spend,reach"}, "fields"),
        ({"swipe_up_attribution_window": "2_DAY"}, "swipe_up_attribution_window"),
        ({"view_attribution_window": "2_DAY"}, "view_attribution_window"),
        ({"action_report_time": "mixed"}, "action_report_time"),
        ({"start_time": None}, "start_time: is required"),
        ({"start_time": "2027-01-14"}, "start_time"),
        ({"start_time": "2027-01-14T00:00:00"}, "with an offset"),
        ({"start_time": "9" * 500}, "start_time"),
        ({"end_time": START}, "must be after start_time"),
        ({"start_time": "2026-12-01T00:00:00-05:00"}, "at most 31 days"),
    ],
)
async def test_a_bad_stats_parameter(
    client: httpx.AsyncClient, changes: dict[str, Any], said: str
) -> None:
    await set_book(client)
    assert said in refused(await stats(client, **changes), 400, "INVALID_PARAMETER")


async def test_a_start_that_is_not_the_account_s_midnight(client: httpx.AsyncClient) -> None:
    await set_book(client)
    said = refused(
        await stats(client, start_time="2027-01-14T00:00:00+00:00"), 400, "INVALID_PARAMETER"
    )
    assert said.startswith("Unsupported Stats Query: Timeseries queries with DAY granularity")
    assert said.endswith("This account's timezone is: America/New_York")


@pytest.mark.parametrize(
    "params", [{"limit": "10"}, {"limit": "1e3"}, {"cursor": "not-a-cursor"}, {"cursor": "x" * 200}]
)
async def test_a_bad_page_parameter(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    await set_book(client)
    r = await client.get(f"{BASE}/campaigns", params=params, headers=AUTH)
    refused(r, 400, "INVALID_PARAMETER")


async def test_a_long_query_is_refused(client: httpx.AsyncClient) -> None:
    await set_book(client)
    r = await client.get(BASE, params={"x": "y" * 5000}, headers=AUTH)
    refused(r, 400, "INVALID_PARAMETER")


async def test_faults_apply_to_the_reporting_routes(client: httpx.AsyncClient) -> None:
    await set_book(client)
    r = await client.post("/_sandbox/faults", json={"kind": "expired_token", "count": 1})
    assert r.status_code in (200, 201), r.text
    assert "expired" in refused(await client.get(BASE, headers=AUTH), 401, "UNAUTHORIZED")
    await client.post("/_sandbox/faults", json={"kind": "throttle", "retry_after": 30, "count": 1})
    r = await stats(client)
    refused(r, 429, "RATE_LIMIT_EXCEEDED")
    assert r.headers["retry-after"] == "30"
    await client.post(
        "/_sandbox/faults", json={"kind": "server_error", "status": 503, "page": True, "count": 1}
    )
    r = await client.get(f"{BASE}/campaigns", headers=AUTH)
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    await client.post("/_sandbox/faults", json={"kind": "server_error", "count": 1})
    refused(await client.get(BASE, headers=AUTH), 500, "INTERNAL_ERROR")
    assert (await client.get(BASE, headers=AUTH)).status_code == 200


async def test_a_fault_of_an_asset_does_not_apply(client: httpx.AsyncClient) -> None:
    await set_book(client)
    await client.post("/_sandbox/faults", json={"kind": "throttle", "asset_id": PIXEL})
    assert (await client.get(BASE, headers=AUTH)).status_code == 200


# --- the control plane ---------------------------------------------------------------------


async def test_the_book_is_on_the_app_and_in_the_control_plane(
    client: httpx.AsyncClient, app: Any
) -> None:
    assert isinstance(app.state.reporting, ReportingBook)
    assert app.state.reporting.window_days == 28
    r = await client.get("/_sandbox")
    endpoints = r.json()["endpoints"]
    assert "GET|POST|DELETE /_sandbox/reporting" in endpoints
    assert "GET /v1/adaccounts/{ad_account_id}/stats" in endpoints
    assert endpoints == ENDPOINTS
    await set_book(client)
    shown = (await client.get("/_sandbox/reporting")).json()
    assert shown["account"]["id"] == ACCOUNT and shown["window_days"] == 28
    assert (await client.delete("/_sandbox/reporting")).json()["account"]["id"] == "1234567890"


# --- the sink against the sandbox ----------------------------------------------------------


def sink_config(**options: Any) -> SnapchatConfig:
    return SnapchatConfig.from_mapping(
        {"pixel_id": PIXEL, "ad_account_id": ACCOUNT, "ads_api_url": "http://sandbox", **options},
        {"access_token": Secret(TOKEN), "reporting_access_token": Secret(MARKETING)},
    )


async def test_the_sink_fetches_the_claims_from_the_sandbox(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await set_book(client)
    await send_purchases(client)
    report = await fetch(
        sink_config(), client, datetime.date(2027, 1, 13), datetime.date(2027, 1, 15)
    )
    assert report == AccountReport(
        ACCOUNT,
        "EUR",
        "America/New_York",
        COUNTED,
        (
            ClaimRow("2027-01-13", "Retargeting", Decimal(0), Decimal(0), Decimal("0.7")),
            ClaimRow("2027-01-14", "Spring sale", Decimal(1), Decimal("42.52"), Decimal("12.3")),
            ClaimRow("2027-01-15", "Retargeting", Decimal(2), Decimal(29), Decimal(5)),
            ClaimRow("2027-01-15", "Sandbox campaign", Decimal(1), Decimal(7), Decimal(0)),
            ClaimRow("2027-01-15", "Spring sale", Decimal(1), Decimal("100.1"), Decimal(0)),
        ),
    )
    assert len(state.events()) == 10  # reporting requests record nothing


async def test_the_sink_reads_the_sandbox_s_refusal(client: httpx.AsyncClient) -> None:
    await set_book(client, {"account": {"id": "another"}})
    with pytest.raises(ReportingError) as caught:
        await fetch(sink_config(), client, datetime.date(2027, 1, 15), datetime.date(2027, 1, 15))
    assert "HTTP 403, ACCESS_DENIED" in caught.value.reason
    assert ACCOUNT in caught.value.fix and MARKETING not in caught.value.reason


async def test_a_time_out_of_range_is_a_400_not_a_500(client: httpx.AsyncClient) -> None:
    await set_book(client)
    r = await stats(client, start_time="0001-01-01T00:00:00+14:00")
    assert r.status_code == 400
    assert "start_time" in r.text
