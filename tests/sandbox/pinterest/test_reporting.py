"""Pinterest's ad account analytics, emulated: checkouts sent through the real events route,
the ad account set through ``/_sandbox/reporting``, then the ad account, its campaigns and
their analytics in Pinterest's shape (rows, days in the account's time zone, report time,
bookmarks, token, account and parameter errors, faults), and the sink's ``REPORTING.fetch``
against the app in process."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from signalyard.sandbox.pinterest import SandboxState
from signalyard.sandbox.pinterest.reporting import conversions
from signalyard.sandbox.reporting_common import ReportingBook
from signalyard.secret import Secret
from signalyard.sinks.pinterest import SPEC
from signalyard.sinks.pinterest import reporting as sink_reporting
from signalyard.sinks.pinterest.config import PinterestConfig
from signalyard.sinks.pinterest.reporting import COUNTED
from signalyard.sinks.reporting import AccountReport, ClaimRow, ReportingError

from ..builders import NOW
from .factory import ACCOUNT, EVENTS, HEADERS, TOKEN, body, event

pytestmark = pytest.mark.anyio

BASE = f"/v5/ad_accounts/{ACCOUNT}"
ANALYTICS = f"{BASE}/campaigns/analytics"
CAMPAIGNS = f"{BASE}/campaigns"
DAY = 86400
# NOW is 2027-01-15 08:00 UTC, 03:00 in New York (UTC-5 in January).
BOOK: dict[str, Any] = {
    "account": {"id": ACCOUNT, "currency": "EUR", "time_zone": "America/New_York"},
    "campaigns": [
        {"id": "111", "name": "Spring sale", "clicks": [{"id": "epik-A"}]},
        {
            "id": "222",
            "name": "Retargeting",
            "clicks": [
                {"id": "epik-B", "clicked_at": NOW - 31 * DAY},
                {"id": "epik-C", "clicked_at": NOW - 1 * DAY},
            ],
        },
    ],
    "spend": [
        {"day": "2027-01-14", "campaign_id": "111", "amount": "12.30"},
        {"day": "2027-01-15", "campaign_id": "222", "amount": "5"},
        {"day": "2027-01-13", "campaign_id": "222", "amount": "0.70"},
    ],
}


def checkout(
    event_id: str, click: str | None, value: str, *, age: int = 10, name: str = "checkout"
) -> dict[str, Any]:
    out = event(event_id, event_name=name, event_time=int(NOW) - age)
    out["custom_data"] = {"currency": "EUR", "value": value}
    if click is not None:
        out["user_data"] = {**out["user_data"], "click_id": click}
    return out


async def post(
    client: httpx.AsyncClient, *events: dict[str, Any], path: str = EVENTS, test: bool = False
) -> None:
    r = await client.post(
        path + ("?test=true" if test else ""), json=body(*events), headers=HEADERS
    )
    assert r.status_code == 200, r.text
    assert r.json()["num_events_processed"] == len(events), r.text


async def send_checkouts(client: httpx.AsyncClient) -> None:
    """The checkouts of the tests: four claimed (two by epik-A, one of an unknown click, one
    by epik-C), the others not."""
    await post(
        client,
        checkout("order-1", "epik-A", "100.10"),  # 2027-01-15 03:00 New York
        checkout("order-2", "epik-A", "42.52", age=4 * 3600 + 60),  # 2027-01-14 22:59
        checkout("order-7", "epik-unknown", "7"),  # the default campaign
        checkout("order-8", "epik-C", "20"),  # clicked a day before: within 30 days
    )
    await post(
        client,
        checkout("order-3", None, "50"),  # no click id
        checkout("order-4", "epik-B", "60"),  # clicked 31 days before: out of the window
        checkout("order-1", "epik-A", "100.10"),  # the same event again: deduplicated
        checkout("order-6", "epik-A", "9", name="add_to_cart"),  # not a checkout
    )
    await post(client, checkout("order-5", "epik-C", "30"), test=True)  # a test event
    other = "/v5/ad_accounts/999/events"
    await post(client, checkout("order-9", "epik-A", "11"), path=other)  # another account


async def set_book(client: httpx.AsyncClient, book: Any = BOOK) -> None:
    r = await client.post("/_sandbox/reporting", json=book)
    assert r.status_code == 200, r.text


COLUMNS = "SPEND_IN_MICRO_DOLLAR,TOTAL_CHECKOUT,TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR"


def params(**changes: Any) -> dict[str, str]:
    out: dict[str, Any] = {
        "start_date": "2027-01-14",
        "end_date": "2027-01-15",
        "campaign_ids": "1,111,222",
        "columns": COLUMNS,
        "granularity": "DAY",
        "click_window_days": 30,
        "conversion_report_time": "TIME_OF_CONVERSION",
    }
    out.update(changes)
    return {k: str(v) for k, v in out.items() if v is not None}


async def analytics(
    client: httpx.AsyncClient, token: str | None = TOKEN, path: str = ANALYTICS, **changes: Any
) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return await client.get(path, params=params(**changes), headers=headers)


def line(day: str | None, campaign_id: str, spend: int, count: int, value: int) -> dict[str, Any]:
    out: dict[str, Any] = {"CAMPAIGN_ID": campaign_id}
    if day is not None:
        out["DATE"] = day
    out.update(
        {
            "SPEND_IN_MICRO_DOLLAR": spend,
            "TOTAL_CHECKOUT": count,
            "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR": value,
        }
    )
    return out


EXPECTED = [
    line("2027-01-14", "111", 12_300_000, 1, 42_520_000),
    line("2027-01-15", "1", 0, 1, 7_000_000),
    line("2027-01-15", "111", 0, 1, 100_100_000),
    line("2027-01-15", "222", 5_000_000, 1, 20_000_000),
]


async def test_the_analytics_claim_the_checkouts_of_pinterest_clicks(
    client: httpx.AsyncClient,
) -> None:
    await send_checkouts(client)
    await set_book(client)
    r = await analytics(client)
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"]
    assert r.json() == EXPECTED


async def test_the_conversions_are_the_kept_checkouts_with_a_click_id(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await send_checkouts(client)
    got = conversions(state, ACCOUNT)
    assert [(c.click_id, c.value) for c in got] == [
        ("epik-A", Decimal("100.10")),
        ("epik-A", Decimal("42.52")),
        ("epik-unknown", Decimal(7)),
        ("epik-C", Decimal(20)),
        ("epik-B", Decimal(60)),  # the book's window leaves it out
    ]
    assert [c.click_id for c in conversions(state, "999")] == ["epik-A"]


async def test_the_default_report_time_dates_by_the_click(client: httpx.AsyncClient) -> None:
    await send_checkouts(client)
    await set_book(client)
    r = await analytics(client, conversion_report_time=None)
    assert r.json() == [
        line("2027-01-14", "111", 12_300_000, 1, 42_520_000),
        line("2027-01-14", "222", 0, 1, 20_000_000),  # clicked 2027-01-14 03:00 New York
        line("2027-01-15", "1", 0, 1, 7_000_000),
        line("2027-01-15", "111", 0, 1, 100_100_000),
        line("2027-01-15", "222", 5_000_000, 0, 0),
    ]


async def test_the_click_window_of_the_request(client: httpx.AsyncClient) -> None:
    await send_checkouts(client)
    await set_book(client)
    counted = {}
    for window in (60, 30, 0):
        r = await analytics(client, click_window_days=window, campaign_ids="222")
        counted[window] = [row["TOTAL_CHECKOUT"] for row in r.json()]
    # 60 days take epik-B's click of 31 days before too; 0 days no click of a known time
    assert counted == {60: [2], 30: [1], 0: [0]}
    await set_book(client, {"window_days": 60})
    r = await analytics(client, click_window_days=None, campaign_ids="222")
    assert [row["TOTAL_CHECKOUT"] for row in r.json()] == [2]  # the book's window


async def test_days_are_the_accounts(client: httpx.AsyncClient) -> None:
    await send_checkouts(client)
    await set_book(client, {**BOOK, "account": {**BOOK["account"], "time_zone": "UTC"}})
    r = await analytics(client, campaign_ids="111")
    assert r.json() == [
        line("2027-01-14", "111", 12_300_000, 0, 0),
        line("2027-01-15", "111", 0, 2, 142_620_000),  # 03:59 and 07:59 UTC
    ]


async def test_only_the_campaigns_asked_and_total(client: httpx.AsyncClient) -> None:
    await send_checkouts(client)
    await set_book(client)
    r = await analytics(client, campaign_ids="222,999", start_date="2027-01-13")
    assert r.json() == [
        line("2027-01-13", "222", 700_000, 0, 0),
        line("2027-01-15", "222", 5_000_000, 1, 20_000_000),
    ]
    total = await analytics(client, granularity="TOTAL", start_date="2027-01-13")
    assert total.json() == [
        line(None, "1", 0, 1, 7_000_000),
        line(None, "111", 12_300_000, 2, 142_620_000),
        line(None, "222", 5_700_000, 1, 20_000_000),
    ]
    spend = await analytics(client, columns="SPEND_IN_DOLLAR", campaign_ids="111")
    assert spend.json() == [
        {"CAMPAIGN_ID": "111", "DATE": "2027-01-14", "SPEND_IN_DOLLAR": 12.3},
        {"CAMPAIGN_ID": "111", "DATE": "2027-01-15", "SPEND_IN_DOLLAR": 0.0},
    ]


async def test_a_checkout_without_value_counts_zero(client: httpx.AsyncClient) -> None:
    await set_book(client)
    plain = checkout("order-x", "epik-A", "1")
    del plain["custom_data"]
    await post(client, plain)
    r = await analytics(client, campaign_ids="111", start_date="2027-01-15")
    assert r.json() == [line("2027-01-15", "111", 0, 1, 0)]


async def test_the_ad_account(client: httpx.AsyncClient) -> None:
    await set_book(client)
    r = await client.get(BASE, headers=HEADERS)
    assert r.status_code == 200, r.text
    shown = r.json()
    assert (shown["id"], shown["currency"], shown["time_zone"]) == (
        ACCOUNT,
        "EUR",
        "America/New_York",
    )
    assert shown["owner"] and shown["permissions"]


async def test_the_campaigns_page_by_bookmark(client: httpx.AsyncClient) -> None:
    await set_book(client)
    first = await client.get(CAMPAIGNS, params={"page_size": "2"}, headers=HEADERS)
    assert first.status_code == 200, first.text
    assert [c["id"] for c in first.json()["items"]] == ["1", "111"]
    bookmark = first.json()["bookmark"]
    assert isinstance(bookmark, str)
    second = await client.get(
        CAMPAIGNS,
        params={"page_size": "2", "bookmark": bookmark, "entity_statuses": "ACTIVE,ARCHIVED"},
        headers=HEADERS,
    )
    assert second.json() == {
        "items": [
            {
                "id": "222",
                "ad_account_id": ACCOUNT,
                "name": "Retargeting",
                "status": "ACTIVE",
                "objective_type": "CONSIDERATION",
            }
        ],
        "bookmark": None,
    }
    every = await client.get(CAMPAIGNS, headers=HEADERS)
    assert len(every.json()["items"]) == 3 and every.json()["bookmark"] is None


@pytest.mark.parametrize(
    "query",
    [
        {"page_size": "0"},
        {"page_size": "251"},
        {"page_size": "9" * 50},
        {"bookmark": "sandbox-99"},
        {"bookmark": "sandbox-" + "9" * 5000},
        {"bookmark": "elsewhere"},
        {"entity_statuses": "LIVE"},
    ],
)
async def test_bad_campaign_parameters(client: httpx.AsyncClient, query: dict[str, str]) -> None:
    await set_book(client)
    r = await client.get(CAMPAIGNS, params=query, headers=HEADERS)
    assert r.status_code == 400 and r.json()["code"] == 1, r.text
    assert r.json()["message"].startswith("Invalid request: ")


@pytest.mark.parametrize("path", [BASE, CAMPAIGNS, ANALYTICS])
async def test_a_missing_or_malformed_token(client: httpx.AsyncClient, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer short"}, {"Authorization": f"Basic {TOKEN}"}):
        r = await client.get(path, params=params(), headers=headers)
        assert r.status_code == 401, r.text
        assert r.json() == {"code": 2, "message": "Authentication failed."}


async def test_an_ad_account_the_token_cannot_read(client: httpx.AsyncClient) -> None:
    await set_book(client)
    for path in ("/v5/ad_accounts/42", "/v5/ad_accounts/42/campaigns/analytics"):
        r = await client.get(path, params=params(), headers=HEADERS)
        assert r.status_code == 403 and r.json()["code"] == 29, r.text
    r = await client.get("/v5/ad_accounts/act_42", headers=HEADERS)
    assert r.status_code == 404 and r.json()["code"] == 404


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"start_date": None}, "start_date is required"),
        ({"start_date": "14/01/2027"}, "start_date must be a date"),
        ({"end_date": "2027-02-30"}, "end_date must be a date"),
        ({"start_date": "2027-01-16"}, "end_date must not be before start_date"),
        ({"start_date": "2026-10-16"}, "at most 90 days"),
        ({"campaign_ids": None}, "campaign_ids is required"),
        ({"campaign_ids": ",".join(["1"] * 251)}, "at most 250"),
        ({"campaign_ids": "1,,2"}, "campaign_ids has an empty value"),
        ({"campaign_ids": "1;DROP"}, "campaign_ids must be campaign ids"),
        ({"campaign_ids": "1" * 30_000}, "campaign_ids is too long"),
        ({"columns": "TOTAL_CLICKTHROUGH"}, "'TOTAL_CLICKTHROUGH' is not one of"),
        ({"granularity": "HOUR"}, "granularity must be DAY or TOTAL"),
        ({"granularity": None}, "granularity is required"),
        ({"click_window_days": 5}, "click_window_days must be one of"),
        ({"view_window_days": 99}, "view_window_days must be one of"),
        ({"engagement_window_days": "x"}, "engagement_window_days must be one of"),
        ({"conversion_report_time": "NOW"}, "conversion_report_time must be one of"),
    ],
)
async def test_a_bad_parameter_is_named(
    client: httpx.AsyncClient, changes: dict[str, Any], said: str
) -> None:
    await set_book(client)
    r = await analytics(client, **changes)
    assert r.status_code == 400 and r.json()["code"] == 1, r.text
    assert said in r.json()["message"]


async def test_ninety_days_are_taken(client: httpx.AsyncClient) -> None:
    await set_book(client)
    r = await analytics(client, start_date="2026-10-18", end_date="2027-01-15")
    assert r.status_code == 200, r.text


async def test_only_get(client: httpx.AsyncClient) -> None:
    r = await client.post(ANALYTICS, headers=HEADERS)
    assert r.status_code == 404 and r.json()["code"] == 404  # Pinterest's unknown path


async def test_faults_apply_to_reporting(client: httpx.AsyncClient) -> None:
    await set_book(client)
    for fault, status in (
        ({"kind": "expired_token", "count": 1}, 401),
        ({"kind": "throttle", "retry_after": 7, "count": 1}, 429),
        ({"kind": "server_error", "status": 503, "count": 1}, 503),
        ({"kind": "invalid_event", "event_ids": ["x"], "count": 1}, 200),
    ):
        assert (await client.post("/_sandbox/faults", json=fault)).status_code in (200, 201)
        r = await client.get(BASE, headers=HEADERS)
        assert r.status_code == status, (fault, r.text)
        if status == 429:
            assert r.headers["retry-after"] == "7"
        await client.delete("/_sandbox/faults")
    other = {"kind": "server_error", "ad_account_id": "42"}
    await client.post("/_sandbox/faults", json=other)
    assert (await client.get(BASE, headers=HEADERS)).status_code == 200


async def test_the_control_plane_lists_and_holds_the_book(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    endpoints = (await client.get("/_sandbox")).json()["endpoints"]
    assert f"GET {ANALYTICS.replace(ACCOUNT, '{ad_account_id}')}" in endpoints
    assert "GET|POST|DELETE /_sandbox/reporting" in endpoints
    book = app.state.reporting
    assert isinstance(book, ReportingBook) and book.window_days == 30
    await set_book(client)
    shown = (await client.get("/_sandbox/reporting")).json()
    assert shown["account"] == BOOK["account"] and shown["window_days"] == 30
    await client.delete("/_sandbox/reporting")
    assert book.account_id == "1234567890"


# --- the sink's fetch against the sandbox ---------------------------------------------------


def pinterest_config(**changes: Any) -> PinterestConfig:
    fields: dict[str, Any] = {
        "ad_account_id": ACCOUNT,
        "access_token": Secret(TOKEN),
        "api_url": "http://sandbox",
    }
    fields.update(changes)
    return PinterestConfig(**fields)


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
    await send_checkouts(client)
    await set_book(client)
    assert SPEC.reporting is not None
    config = pinterest_config()
    assert SPEC.reporting.missing(config) is None
    since, until = datetime.date(2027, 1, 14), datetime.date(2027, 1, 15)
    assert await SPEC.reporting.fetch(config, client, since, until) == REPORTED


async def test_fetch_over_pages_and_a_long_range(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await send_checkouts(client)
    await set_book(client)
    monkeypatch.setattr(sink_reporting, "CAMPAIGN_PAGE_SIZE", 1)
    monkeypatch.setattr(sink_reporting, "MAX_CAMPAIGN_IDS", 2)
    since, until = datetime.date(2026, 10, 1), datetime.date(2027, 1, 15)  # 107 days: 2 ranges
    got = await sink_reporting.fetch(pinterest_config(), client, since, until)
    assert got.rows == (
        ClaimRow("2027-01-13", "Retargeting", Decimal(0), Decimal(0), Decimal("0.7")),
        *REPORTED.rows,
    )


async def test_fetch_with_the_wrong_ad_account(client: httpx.AsyncClient) -> None:
    await set_book(client)
    with pytest.raises(ReportingError) as caught:
        await sink_reporting.fetch(
            pinterest_config(ad_account_id="999"),
            client,
            datetime.date(2027, 1, 14),
            datetime.date(2027, 1, 15),
        )
    assert "HTTP 403, code 29" in caught.value.reason
    assert "ads:read" in caught.value.fix and "reporting_access_token" in caught.value.fix
    assert TOKEN not in caught.value.reason + caught.value.fix


async def test_fetch_with_a_malformed_token(client: httpx.AsyncClient) -> None:
    await set_book(client)
    with pytest.raises(ReportingError) as caught:
        await sink_reporting.fetch(
            pinterest_config(reporting_access_token=Secret("bad")),
            client,
            datetime.date(2027, 1, 14),
            datetime.date(2027, 1, 15),
        )
    assert "HTTP 401, code 2: Authentication failed." in caught.value.reason
    assert "the reporting_access_token set" in caught.value.fix
