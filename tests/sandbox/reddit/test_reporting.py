"""Reddit's Ads API v3 reporting, emulated: purchases sent through the real conversions
route, the ad account set through ``/_sandbox/reporting``, then the ad account, campaigns
and reports routes in Reddit's shape (rows in micros and cents, days in the account's time
zone, pages, token and parameter errors, faults), and the sink's ``REPORTING.fetch`` against
the app in process."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from signalyard.sandbox.reddit.control import ENDPOINTS
from signalyard.sandbox.reddit.reporting import conversions
from signalyard.sandbox.reporting_common import ReportingBook
from signalyard.secret import Secret
from signalyard.sinks.reddit import SPEC
from signalyard.sinks.reddit import reporting as sink_reporting
from signalyard.sinks.reddit.config import RedditConfig
from signalyard.sinks.reddit.reporting import COUNTED
from signalyard.sinks.reporting import AccountReport, ClaimRow, ReportingError

from ..builders import NOW
from .factory import ACCOUNT, HEADERS, TOKEN, body, event, post

pytestmark = pytest.mark.anyio

BASE = f"/api/v3/ad_accounts/{ACCOUNT}"
DAY = 86400
# NOW is 2027-01-15 08:00 UTC, 03:00 in New York (UTC-5 in January).
BOOK: dict[str, Any] = {
    "account": {"id": ACCOUNT, "currency": "EUR", "time_zone": "America/New_York"},
    "campaigns": [
        {"id": "111", "name": "Spring sale", "clicks": [{"id": "rdt-A"}]},
        {
            "id": "222",
            "name": "Retargeting",
            "clicks": [
                {"id": "rdt-B", "clicked_at": NOW - 29 * DAY},
                {"id": "rdt-C", "clicked_at": NOW - 27 * DAY},
            ],
        },
    ],
    "spend": [
        {"day": "2027-01-14", "campaign_id": "111", "amount": "12.30"},
        {"day": "2027-01-15", "campaign_id": "222", "amount": "5"},
        {"day": "2027-01-13", "campaign_id": "222", "amount": "0.70"},
    ],
}
ALL = ["SPEND", "CONVERSION_PURCHASE_CLICKS", "CONVERSION_PURCHASE_TOTAL_VALUE"]


def purchase(
    conversion_id: str, click: str | None, value: Any, *, age: float = 10, **kind: str
) -> dict[str, Any]:
    metadata = {"conversion_id": conversion_id, "currency": "EUR", "value_decimal": value}
    out = event(
        conversion_id,
        age=age,
        event_metadata=metadata,
        event_type={"tracking_type": "Purchase", **kind},
    )
    if click is None:
        del out["click_id"]
    else:
        out["click_id"] = click
    return out


async def accepted(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


async def send_purchases(client: httpx.AsyncClient) -> None:
    """Four purchases claimed (two by rdt-A, one of an unknown click, one by rdt-C), the
    others not."""
    claimed = [
        purchase("order-1", "rdt-A", 100.10),  # 2027-01-15 03:00 New York
        purchase("order-2", "rdt-A", 42.52, age=4 * 3600 + 60),  # 2027-01-14 22:59
        purchase("order-7", "rdt-unknown", 7),  # the default campaign
        purchase("order-8", "rdt-C", 20),  # clicked 27 days before: within 28
    ]
    await accepted(await post(client, body(*claimed)))
    not_claimed = [
        purchase("order-3", None, 50),  # no click id
        purchase("order-4", "rdt-B", 60),  # clicked 29 days before: out of the window
        purchase("order-1", "rdt-A", 100.10),  # the same event again: deduplicated
        purchase("order-6", "rdt-A", 9, tracking_type="ViewContent"),  # not a purchase
        purchase("order-9", "rdt-A", 9, tracking_type="Custom", custom_event_name="Purchase"),
    ]
    await accepted(await post(client, body(*not_claimed)))
    await accepted(await post(client, body(purchase("order-5", "rdt-C", 30), test_mode=True)))
    other = "/api/v2.0/conversions/events/a2_other"
    await accepted(await post(client, body(purchase("order-10", "rdt-A", 11)), path=other))


async def set_book(client: httpx.AsyncClient, book: Any = BOOK) -> None:
    r = await client.post("/_sandbox/reporting", json=book)
    assert r.status_code == 200, r.text


def query(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "starts_at": "2027-01-14T00:00:00Z",
        "ends_at": "2027-01-16T00:00:00Z",
        "time_zone_id": "America/New_York",
        "breakdowns": ["DATE", "CAMPAIGN_ID"],
        "fields": ALL,
    }
    data.update(changes)
    return {"data": {k: v for k, v in data.items() if v is not None}}


async def report(
    client: httpx.AsyncClient,
    payload: Any = None,
    *,
    account: str = ACCOUNT,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/api/v3/ad_accounts/{account}/reports",
        json=query() if payload is None else payload,
        headers=HEADERS if headers is None else headers,
        params=params,
    )


def line(day: str, campaign_id: str, spend: int, count: int, value: int) -> dict[str, Any]:
    return {
        "date": day,
        "campaign_id": campaign_id,
        "spend": spend,
        "conversion_purchase_clicks": count,
        "conversion_purchase_total_value": value,
    }


EXPECTED = [
    line("2027-01-14", "111", 12_300_000, 1, 4252),
    line("2027-01-15", "1", 0, 1, 700),
    line("2027-01-15", "111", 0, 1, 10010),
    line("2027-01-15", "222", 5_000_000, 1, 2000),
]


async def test_the_report_claims_the_purchases_of_reddit_clicks(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await send_purchases(client)
    await set_book(client)
    r = await report(client)
    assert r.status_code == 200, r.text
    assert r.json() == {"data": {"metrics": EXPECTED}, "pagination": {"next_url": None}}
    assert isinstance(app.state.reporting, ReportingBook)
    assert app.state.reporting.window_days == 28


async def test_conversions_are_the_kept_purchases_with_a_click(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await send_purchases(client)
    state = app.state.sandbox
    found = conversions(state, ACCOUNT)
    assert [(c.click_id, c.value) for c in found] == [
        ("rdt-A", Decimal("100.1")),
        ("rdt-A", Decimal("42.52")),
        ("rdt-unknown", Decimal(7)),
        ("rdt-C", Decimal(20)),
        ("rdt-B", Decimal(60)),
    ]
    assert [c.click_id for c in conversions(state, "a2_other")] == ["rdt-A"]


async def test_odd_values_count_as_nothing(client: httpx.AsyncClient) -> None:
    odd = [
        purchase("o-1", "rdt-A", 1e300),
        purchase("o-2", "rdt-A", -5),
        purchase("o-3", "rdt-A", None),
    ]
    for item in odd:
        if item["event_metadata"]["value_decimal"] is None:
            del item["event_metadata"]["value_decimal"]
    await accepted(await post(client, body(*odd)))
    await set_book(client)
    r = await report(client)
    assert r.status_code == 200
    assert r.json()["data"]["metrics"] == [
        line("2027-01-14", "111", 12_300_000, 0, 0),
        line("2027-01-15", "111", 0, 3, 0),
        line("2027-01-15", "222", 5_000_000, 0, 0),
    ]


async def test_days_are_the_accounts(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    tokyo = {"account": {**BOOK["account"], "time_zone": "Asia/Tokyo"}, "spend": []}
    await set_book(client, {**BOOK, **tokyo})
    # 2027-01-15 03:00 New York is 17:00 in Tokyo; 22:59 the day before is 12:59 on the 15th.
    r = await report(client, query(time_zone_id=None, fields=["CONVERSION_PURCHASE_CLICKS"]))
    assert r.json()["data"]["metrics"] == [
        {"date": "2027-01-15", "campaign_id": "1", "conversion_purchase_clicks": 1},
        {"date": "2027-01-15", "campaign_id": "111", "conversion_purchase_clicks": 2},
        {"date": "2027-01-15", "campaign_id": "222", "conversion_purchase_clicks": 1},
    ]


async def test_days_outside_the_range(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client)
    r = await report(
        client, query(starts_at="2027-01-13T00:00:00Z", ends_at="2027-01-14T00:00:00Z")
    )
    assert r.json()["data"]["metrics"] == [line("2027-01-13", "222", 700_000, 0, 0)]


async def test_breakdowns_add_up(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client)
    by_day = await report(client, query(breakdowns=["DATE"]))
    assert by_day.json()["data"]["metrics"] == [
        {
            "date": "2027-01-14",
            "spend": 12_300_000,
            "conversion_purchase_clicks": 1,
            "conversion_purchase_total_value": 4252,
        },
        {
            "date": "2027-01-15",
            "spend": 5_000_000,
            "conversion_purchase_clicks": 3,
            "conversion_purchase_total_value": 12710,
        },
    ]
    total = await report(
        client, query(breakdowns=[], fields=["SPEND", "CONVERSION_PURCHASE_VIEWS"])
    )
    assert total.json()["data"]["metrics"] == [
        {"spend": 17_300_000, "conversion_purchase_views": 0}
    ]
    account = await report(client, query(breakdowns=["AD_ACCOUNT_ID"], fields=["spend"]))
    assert account.json()["data"]["metrics"] == [{"ad_account_id": ACCOUNT, "spend": 17_300_000}]


async def test_pages(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client)
    got: list[Any] = []
    params: dict[str, str] = {"page.size": "3"}
    urls = []
    while True:
        r = await report(client, params=params)
        assert r.status_code == 200, r.text
        got += r.json()["data"]["metrics"]
        next_url = r.json()["pagination"]["next_url"]
        if next_url is None:
            break
        urls.append(next_url)
        params = dict(httpx.URL(next_url).params)
    assert got == EXPECTED
    assert urls == [f"http://sandbox{BASE}/reports?page.size=3&page.token=3"]


async def test_a_missing_token(client: httpx.AsyncClient) -> None:
    r = await report(client, headers={})
    assert (r.status_code, r.text) == (401, "Authorization Required")


@pytest.mark.parametrize("header", ["Bearer short", f"Basic {TOKEN}", TOKEN])
async def test_a_malformed_token(client: httpx.AsyncClient, header: str) -> None:
    r = await report(client, headers={"Authorization": header})
    assert r.status_code == 401
    assert r.json()["error"]["reason"] == "UNAUTHORIZED"
    for path in (BASE, f"{BASE}/campaigns"):
        assert (await client.get(path, headers={"Authorization": header})).status_code == 401


async def test_an_account_the_token_cannot_read(client: httpx.AsyncClient) -> None:
    await set_book(client)
    for r in (
        await report(client, account="a2_other"),
        await client.get("/api/v3/ad_accounts/a2_other", headers=HEADERS),
        await client.get("/api/v3/ad_accounts/a2_other/campaigns", headers=HEADERS),
    ):
        assert r.status_code == 403
        assert r.json()["error"] == {
            "code": 403,
            "message": "You do not have access to ad account a2_other",
        }


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        (query(starts_at=None), "starts_at is required"),
        (query(ends_at="2027-01-16"), "invalid ends_at"),
        (query(ends_at="2027-01-16T00:00:00+"), "invalid ends_at"),
        (query(starts_at="2027-02-30T00:00:00Z"), "invalid starts_at"),
        (query(starts_at="2027-01-14T05:00:00Z"), "whole days"),
        (query(ends_at="2027-01-14T00:00:00Z"), "must be after starts_at"),
        (query(starts_at="2025-01-01T00:00:00Z"), "at most 400 days"),
        (query(time_zone_id="Europe/Paris"), "the account's (America/New_York) only"),
        (query(time_zone_id="Mars/Olympus"), "invalid time_zone_id"),
        (query(time_zone_id=7), "invalid time_zone_id"),
        (query(fields=None), "fields is required"),
        (query(fields=[]), "fields is required"),
        (query(fields=["SPEND", "REACH"]), "'REACH' is not one of"),
        (query(fields=["SPEND", "SPEND"]), "SPEND is given twice"),
        (query(fields="SPEND"), "invalid fields"),
        (query(breakdowns=["DATE", "HOUR"]), "'HOUR' is not one of"),
        (query(filter="campaign_id==1"), "filter is not supported"),
        (query(extra=1), 'JSON error "unknown field" on field "extra"'),
        ({"starts_at": "2027-01-14T00:00:00Z"}, 'the body must be {"data": {...}}'),
        ([], 'the body must be {"data": {...}}'),
    ],
)
async def test_a_bad_parameter_is_named(client: httpx.AsyncClient, payload: Any, said: str) -> None:
    await set_book(client)
    r = await report(client, payload)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == 400 and said in error["message"]


async def test_a_body_that_is_not_json_or_too_large(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{BASE}/reports", content=b"{nope", headers=HEADERS)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    huge = b'{"data": {"x": "' + b"a" * 70_000 + b'"}}'
    r = await client.post(f"{BASE}/reports", content=huge, headers=HEADERS)
    assert r.status_code == 413


@pytest.mark.parametrize(
    "params",
    [
        {"page.size": "0"},
        {"page.size": "1001"},
        {"page.size": "x"},
        {"page.token": "9" * 5000},
        {"page.token": "-1"},
    ],
)
async def test_bad_page_parameters(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    await set_book(client)
    r = await report(client, params=params)
    assert r.status_code == 400
    assert "invalid page." in r.json()["error"]["message"]


async def test_the_account_and_its_campaigns(client: httpx.AsyncClient) -> None:
    await set_book(client)
    r = await client.get(BASE, headers=HEADERS)
    assert r.status_code == 200
    assert r.json() == {
        "data": {
            "id": ACCOUNT,
            "name": "Sandbox ad account",
            "currency": "EUR",
            "time_zone_id": "America/New_York",
            "click_attribution_window_days": 28,
        }
    }
    r = await client.get(f"{BASE}/campaigns", headers=HEADERS, params={"page.size": "2"})
    assert [c["id"] for c in r.json()["data"]] == ["1", "111"]
    next_url = r.json()["pagination"]["next_url"]
    r = await client.get(next_url, headers=HEADERS)
    assert r.json() == {
        "data": [
            {
                "id": "222",
                "name": "Retargeting",
                "ad_account_id": ACCOUNT,
                "configured_status": "ACTIVE",
            }
        ],
        "pagination": {"next_url": None},
    }


async def test_faults_apply_to_reporting(client: httpx.AsyncClient) -> None:
    await set_book(client)
    await client.post("/_sandbox/faults", json={"kind": "expired_token", "count": 1})
    r = await client.get(BASE, headers=HEADERS)
    assert r.status_code == 401 and r.json()["error"]["reason"] == "UNAUTHORIZED"
    await client.post("/_sandbox/faults", json={"kind": "throttle", "retry_after": 7, "count": 1})
    r = await report(client)
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    await client.post("/_sandbox/faults", json={"kind": "server_error", "status": 503, "count": 1})
    assert (await report(client)).status_code == 503
    scoped = {"kind": "server_error", "ad_account_id": "a2_other"}
    await client.post("/_sandbox/faults", json=scoped)
    assert (await report(client)).status_code == 200


async def test_the_control_plane_lists_and_holds_the_book(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/_sandbox")).json()["endpoints"]
    assert "GET|POST|DELETE /_sandbox/reporting" in listed
    assert "POST /api/v3/ad_accounts/{ad_account_id}/reports" in listed
    assert listed == ENDPOINTS
    await set_book(client)
    shown = (await client.get("/_sandbox/reporting")).json()
    assert shown["account"] == BOOK["account"] and shown["window_days"] == 28
    await client.delete("/_sandbox/reporting")
    assert (await client.get("/_sandbox/reporting")).json()["account"]["id"] == "1234567890"


async def test_only_the_methods_of_reddit(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{BASE}/reports", headers=HEADERS)).status_code == 405
    assert (await client.post(BASE, headers=HEADERS)).status_code == 405


# --- the sink's fetch against the sandbox ---------------------------------------------------


def reddit_config(**changes: Any) -> RedditConfig:
    fields: dict[str, Any] = {
        "ad_account_id": ACCOUNT,
        "access_token": Secret(TOKEN),
        "api_url": "http://sandbox",
    }
    fields.update(changes)
    return RedditConfig(**fields)


REPORTED = AccountReport(
    ACCOUNT,
    "EUR",
    "America/New_York",
    COUNTED,
    (
        ClaimRow("2027-01-14", "Spring sale", Decimal(1), Decimal("42.52"), Decimal("12.3")),
        ClaimRow("2027-01-15", "Retargeting", Decimal(1), Decimal(20), Decimal(5)),
        ClaimRow("2027-01-15", "Sandbox campaign", Decimal(1), Decimal(7), Decimal(0)),
        ClaimRow("2027-01-15", "Spring sale", Decimal(1), Decimal("100.1"), Decimal(0)),
    ),
)


async def test_the_sinks_fetch_against_the_sandbox(client: httpx.AsyncClient) -> None:
    await send_purchases(client)
    await set_book(client)
    assert SPEC.reporting is not None
    config = reddit_config()
    assert SPEC.reporting.missing(config) is None
    since, until = datetime.date(2027, 1, 14), datetime.date(2027, 1, 15)
    assert await SPEC.reporting.fetch(config, client, since, until) == REPORTED


async def test_fetch_over_pages(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    await send_purchases(client)
    await set_book(client)
    monkeypatch.setattr(sink_reporting, "PAGE_SIZE", 1)
    since, until = datetime.date(2026, 11, 1), datetime.date(2027, 1, 15)
    got = await sink_reporting.fetch(reddit_config(), client, since, until)
    assert got.rows == (
        ClaimRow("2027-01-13", "Retargeting", Decimal(0), Decimal(0), Decimal("0.7")),
        *REPORTED.rows,
    )


async def test_fetch_with_the_wrong_account(client: httpx.AsyncClient) -> None:
    await set_book(client)
    with pytest.raises(ReportingError) as caught:
        await sink_reporting.fetch(
            reddit_config(ad_account_id="a2_other"),
            client,
            datetime.date(2027, 1, 14),
            datetime.date(2027, 1, 15),
        )
    assert "HTTP 403" in caught.value.reason and "a2_other" in caught.value.reason
    assert "reporting_access_token" in caught.value.fix
    assert TOKEN not in caught.value.reason + caught.value.fix


async def test_fetch_with_a_malformed_token(client: httpx.AsyncClient) -> None:
    await set_book(client)
    with pytest.raises(ReportingError) as caught:
        await sink_reporting.fetch(
            reddit_config(reporting_access_token=Secret("bad")),
            client,
            datetime.date(2027, 1, 14),
            datetime.date(2027, 1, 15),
        )
    assert "HTTP 401" in caught.value.reason and "UNAUTHORIZED" in caught.value.reason
    assert "the reporting_access_token set" in caught.value.fix
