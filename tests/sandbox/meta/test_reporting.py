"""The Meta sandbox's Ads Insights: the ad account object and its insights edge, answered
from the purchases the sandbox received (``signalyard.sandbox.meta.reporting``), and the
Meta sink's claims fetch against it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from signalyard.secret import Secret
from signalyard.sinks.meta import MetaConfig
from signalyard.sinks.meta import reporting as meta_reporting
from signalyard.sinks.reporting import ClaimRow, ReportingError

from ..builders import NOW
from .factory import DATASET, EVENTS_PATH, TOKEN, body, event, user_data

pytestmark = pytest.mark.anyio

ACCOUNT = "555"
INSIGHTS = f"/v26.0/act_{ACCOUNT}/insights"
BOOK = {
    "account": {"id": ACCOUNT, "currency": "EUR", "time_zone": "America/Los_Angeles"},
    "campaigns": [{"id": "111", "name": "Spring", "clicks": [{"id": "clickA"}]}],
    "spend": [
        {"day": "2027-01-14", "campaign_id": "111", "amount": "20.00"},
        {"day": "2027-01-15", "campaign_id": "111", "amount": "5"},
    ],
}


def fbc(click_id: str, age_seconds: float) -> str:
    return f"fb.1.{int((NOW - age_seconds) * 1000)}.{click_id}"


def purchase(event_id: str, click: str | None, age: float, value: object = 142.52) -> Any:
    data = user_data(fbc=fbc(click, age) if click else None)
    return event(event_id, user_data=data, custom_data={"value": value, "currency": "EUR"})


async def _received(client: httpx.AsyncClient) -> None:
    r = await client.post("/_sandbox/reporting", json=BOOK)
    assert r.status_code == 200, r.text
    events = [
        purchase("order-1", "clickA", 3600, 100),  # Spring, 1 h before
        purchase("order-2", "clickB", 8 * 86400),  # default campaign, 8 days before
        purchase("order-3", None, 0),  # no click: never claimed
        purchase("order-4", "clickC", 2 * 86400, "30.5"),  # default campaign, 2 days
    ]
    r = await client.post(EVENTS_PATH, json=body(*events))
    assert r.status_code == 200, r.text
    again = await client.post(EVENTS_PATH, json=body(purchase("order-1", "clickA", 3600, 100)))
    assert again.status_code == 200  # deduplicated: counted once
    test = body(purchase("order-9", "clickA", 60, 999), test_event_code="TEST1")
    assert (await client.post(EVENTS_PATH, json=test)).status_code == 200


def params(**extra: str) -> dict[str, str]:
    return {
        "access_token": TOKEN,
        "level": "campaign",
        "time_increment": "1",
        "time_range": '{"since":"2027-01-13","until":"2027-01-15"}',
        "action_attribution_windows": '["7d_click","28d_click"]',
        "action_report_time": "conversion",
        **extra,
    }


def _actions(row: dict[str, Any], key: str, action_type: str) -> dict[str, str]:
    found = [a for a in row[key] if a["action_type"] == action_type]
    assert len(found) == 1
    return found[0]


async def test_insights_claim_the_clicked_purchases_per_day_campaign_and_window(
    client: httpx.AsyncClient,
) -> None:
    await _received(client)
    r = await client.get(INSIGHTS, params=params())
    assert r.status_code == 200, r.text
    rows = r.json()["data"]
    # the account's days: NOW - 10 s is 2027-01-14 23:59:50 in Los Angeles
    assert [(row["date_start"], row["campaign_id"], row["spend"]) for row in rows] == [
        ("2027-01-14", "1", "0"),
        ("2027-01-14", "111", "20.00"),
        ("2027-01-15", "111", "5"),
    ]
    default, spring, spend_only = rows
    assert default["campaign_name"] == "Sandbox campaign"
    for action_type in ("purchase", "omni_purchase", "offsite_conversion.fb_pixel_purchase"):
        count = _actions(default, "actions", action_type)
        value = _actions(default, "action_values", action_type)
        # order-4 is 2 days after its click; order-2 (8 days) only in the 28-day window
        assert (count["7d_click"], count["28d_click"]) == ("1", "2")
        assert (value["7d_click"], value["28d_click"]) == ("30.5", "173.02")
    assert _actions(spring, "actions", "purchase")["7d_click"] == "1"
    assert _actions(spring, "action_values", "purchase")["7d_click"] == "100"
    assert "actions" not in spend_only


async def test_insights_by_impression_date_the_conversion_by_its_click(
    client: httpx.AsyncClient,
) -> None:
    await _received(client)
    r = await client.get(INSIGHTS, params=params(action_report_time="impression"))
    days = {
        (row["date_start"], row["campaign_id"]): _actions(row, "actions", "purchase")
        for row in r.json()["data"]
        if "actions" in row
    }
    # order-4's click was 2 days earlier, 00:00 in Los Angeles on the 13th; order-2's
    # click (8 days) falls before the range asked
    assert {k: (v["7d_click"], v["28d_click"]) for k, v in days.items()} == {
        ("2027-01-13", "1"): ("1", "1"),
        ("2027-01-14", "111"): ("1", "1"),
    }


async def test_insights_page_with_cursors(client: httpx.AsyncClient) -> None:
    await _received(client)
    seen: list[str] = []
    page = (await client.get(INSIGHTS, params=params(limit="1"))).json()
    while True:
        seen.extend(row["date_start"] + "/" + row["campaign_id"] for row in page["data"])
        if "next" not in page["paging"]:
            break
        after = page["paging"]["cursors"]["after"]
        page = (await client.get(INSIGHTS, params=params(limit="1", after=after))).json()
    assert seen == ["2027-01-14/1", "2027-01-14/111", "2027-01-15/111"]


async def test_the_account_object_and_its_checks(client: httpx.AsyncClient) -> None:
    await client.post("/_sandbox/reporting", json=BOOK)
    r = await client.get(f"/v26.0/act_{ACCOUNT}", params={"access_token": TOKEN})
    assert r.json()["currency"] == "EUR"
    assert r.json()["timezone_name"] == "America/Los_Angeles"
    other = await client.get("/v26.0/act_999/insights", params=params())
    assert other.status_code == 400
    assert (other.json()["error"]["code"], other.json()["error"]["error_subcode"]) == (100, 33)
    no_token = await client.get(INSIGHTS, params={"level": "campaign"})
    assert no_token.json()["error"]["code"] == 104
    bad = await client.get(INSIGHTS, params=params(time_range='{"since":"2027-01-15"}'))
    assert bad.json()["error"]["code"] == 100
    assert "time_range" in bad.json()["error"]["message"]
    window = await client.get(INSIGHTS, params=params(action_attribution_windows='["7d_view"]'))
    assert "action_attribution_windows" in window.json()["error"]["message"]


@pytest.mark.parametrize(
    ("book", "field"),
    [
        ({"account": {"currency": "euro"}}, "currency"),
        ({"account": {"time_zone": "Mars/Olympus"}}, "time_zone"),
        ({"spend": [{"day": "2027-02-30", "campaign_id": "1", "amount": "1"}]}, "day"),
        ({"spend": [{"day": "2027-01-01", "campaign_id": "404", "amount": "1"}]}, "404"),
        ({"spend": [{"day": "2027-01-01", "campaign_id": "1", "amount": "-1"}]}, "amount"),
        ({"window_days": 0}, "window_days"),
        ({"campaigns": [{"id": "1", "clicks": [{"id": ""}]}]}, "clicks[0].id"),
    ],
)
async def test_a_bad_book_is_refused_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient, book: dict[str, Any], field: str
) -> None:
    before = (await client.get("/_sandbox/reporting")).json()
    r = await client.post("/_sandbox/reporting", json=book)
    assert r.status_code == 400
    assert field in r.json()["error"]
    assert (await client.get("/_sandbox/reporting")).json() == before


async def test_the_book_merges_and_resets(client: httpx.AsyncClient) -> None:
    await client.post("/_sandbox/reporting", json=BOOK)
    more = {"campaigns": [{"id": "111", "name": "Spring 2", "clicks": [{"id": "clickZ"}]}]}
    shown = (await client.post("/_sandbox/reporting", json=more)).json()
    assert shown["campaigns"][-1] == {"id": "111", "name": "Spring 2", "clicks": 2}
    assert shown["account"]["currency"] == "EUR"
    reset = (await client.delete("/_sandbox/reporting")).json()
    assert reset["account"]["currency"] == "USD"
    assert reset["spend"] == []


def _config(**options: Any) -> MetaConfig:
    options.setdefault("ad_account_id", ACCOUNT)
    return MetaConfig(
        pixel_id=DATASET, access_token=Secret(TOKEN), graph_url="http://sandbox", **options
    )


async def test_the_sink_fetches_the_claims_page_by_page(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime

    await _received(client)
    monkeypatch.setattr(meta_reporting, "PAGE_SIZE", 1)
    report = await meta_reporting.fetch(
        _config(), client, datetime.date(2027, 1, 13), datetime.date(2027, 1, 15)
    )
    assert (report.account_id, report.currency, report.time_zone) == (
        ACCOUNT,
        "EUR",
        "America/Los_Angeles",
    )
    assert report.counted == "offsite_conversion.fb_pixel_purchase, 7d_click"
    assert report.rows == (
        ClaimRow("2027-01-14", "Sandbox campaign", Decimal(1), Decimal("30.5"), Decimal(0)),
        ClaimRow("2027-01-14", "Spring", Decimal(1), Decimal(100), Decimal("20.00")),
        ClaimRow("2027-01-15", "Spring", Decimal(0), Decimal(0), Decimal(5)),
    )
    wider = await meta_reporting.fetch(
        _config(claims_window="28d_click"),
        client,
        datetime.date(2027, 1, 14),
        datetime.date(2027, 1, 14),
    )
    assert wider.rows[0].conversions == 2


async def test_the_sink_tells_a_refusal_with_its_fix_and_no_token(
    client: httpx.AsyncClient,
) -> None:
    import datetime

    await client.post("/_sandbox/reporting", json=BOOK)
    day = datetime.date(2027, 1, 14)
    with pytest.raises(ReportingError) as wrong_account:
        await meta_reporting.fetch(_config(ad_account_id="999"), client, day, day)
    assert "ad_account_id" in wrong_account.value.fix
    assert "act_999" in wrong_account.value.fix
    bad = MetaConfig(
        pixel_id=DATASET,
        access_token=Secret("bad token"),
        graph_url="http://sandbox",
        ad_account_id=ACCOUNT,
    )
    with pytest.raises(ReportingError) as bad_token:
        await meta_reporting.fetch(bad, client, day, day)
    assert "code 190" in bad_token.value.reason
    assert "ads_read" in bad_token.value.fix
    for error in (wrong_account.value, bad_token.value):
        assert TOKEN not in error.reason + error.fix
        assert "bad token" not in error.reason + error.fix


async def test_a_malformed_fbc_time_never_breaks_the_insights(client: httpx.AsyncClient) -> None:
    await client.post("/_sandbox/reporting", json=BOOK)
    odd = event("order-odd", user_data=user_data(fbc="fb.1." + "9" * 5000 + ".clickA"))
    odd["custom_data"] = {"value": 12, "currency": "EUR"}
    r = await client.post(EVENTS_PATH, json=body(odd))
    assert r.status_code == 200, r.text  # a malformed fbc is a diagnostic, not a refusal
    insights = await client.get(INSIGHTS, params=params())
    assert insights.status_code == 200, insights.text
    # its click (known to the book) has no time: it counts
    [row] = [row for row in insights.json()["data"] if "actions" in row]
    assert _actions(row, "action_values", "purchase")["7d_click"] == "12"


def test_a_click_time_out_of_range_is_refused(app: Starlette) -> None:
    from signalyard.sandbox.control_common import BadControlRequest

    for at in (10**400, -1, float("nan")):
        click = {"id": "a", "clicked_at": at}
        with pytest.raises(BadControlRequest, match="clicked_at"):
            app.state.reporting.configure({"campaigns": [{"id": "1", "clicks": [click]}]})
