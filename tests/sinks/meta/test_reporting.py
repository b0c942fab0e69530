"""Meta's claims request and answer, pure (``signalyard.sinks.meta.reporting``): what is asked
of Ads Insights, how a page is read (one action type, one window, exact decimals), and what
each refusal tells the operator."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.meta import SPEC, MetaConfig
from signalyard.sinks.meta.reporting import (
    REPORTING,
    account_request,
    fetch,
    insights_request,
    parse_account,
    parse_insights,
    refusal,
)
from signalyard.sinks.reporting import ClaimRow, ReportingError

TOKEN = "EAAB-reporting-unit-token-0123456789"
DAY = datetime.date(2026, 12, 1)


def config(**options: Any) -> MetaConfig:
    return MetaConfig.from_mapping(
        {"pixel_id": "123", "ad_account_id": "act_42", **options},
        {"access_token": Secret(TOKEN), "app_secret": Secret("s3cret")},
    )


def test_the_options_are_checked_and_stored() -> None:
    c = config(claims_window="28d_click")
    assert (c.ad_account_id, c.claims_window) == ("42", "28d_click")
    assert c.to_mapping() == {
        "pixel_id": "123",
        "ad_account_id": "42",
        "claims_window": "28d_click",
    }
    assert MetaConfig.from_mapping(c.to_mapping(), c.to_secrets()) == c
    for bad in (
        {"ad_account_id": "act_x"},
        {"claims_window": "7d_view"},
        {"claims_action_type": "Purchase!"},
    ):
        with pytest.raises(ConfigError) as error:
            config(**bad)
        assert next(iter(bad)) in str(error.value)
    assert REPORTING.missing(config()) is None
    assert "ad_account_id" in str(REPORTING.missing(MetaConfig.example()))
    assert SPEC.reporting is REPORTING


def test_the_requests() -> None:
    url, params, headers = account_request(config())
    assert url == "https://graph.facebook.com/v26.0/act_42"
    assert params["fields"] == "currency,timezone_name"
    assert headers == {"Authorization": f"Bearer {TOKEN}"}
    url, params, headers = insights_request(config(), DAY, DAY + datetime.timedelta(days=6), "CUR")
    assert headers == {"Authorization": f"Bearer {TOKEN}"}
    assert url == "https://graph.facebook.com/v26.0/act_42/insights"
    assert params == {
        "level": "campaign",
        "time_increment": "1",
        "time_range": '{"since":"2026-12-01","until":"2026-12-07"}',
        "fields": "campaign_id,campaign_name,spend,actions,action_values",
        "action_attribution_windows": '["7d_click"]',
        "action_report_time": "conversion",
        "limit": "500",
        "appsecret_proof": params["appsecret_proof"],
        "after": "CUR",
    }
    assert len(params["appsecret_proof"]) == 64


PAGE = {
    "data": [
        {
            "campaign_id": "7",
            "campaign_name": "Winter",
            "spend": "12.34",
            "date_start": "2026-12-01",
            "date_stop": "2026-12-01",
            "actions": [
                {"action_type": "purchase", "value": "9", "7d_click": "5"},
                {
                    "action_type": "offsite_conversion.fb_pixel_purchase",
                    "value": "4",
                    "7d_click": "3",
                },
            ],
            "action_values": [
                {
                    "action_type": "offsite_conversion.fb_pixel_purchase",
                    "value": "1",
                    "7d_click": "0.10",
                },
                {"action_type": "omni_purchase", "value": "9", "7d_click": "0.20"},
            ],
        },
        {"campaign_id": "8", "date_start": "2026-12-02", "spend": "0.1"},
    ],
    "paging": {"cursors": {"before": "A", "after": "B"}, "next": "https://graph/next"},
}


def test_a_page_counts_one_action_type_in_one_window_exactly() -> None:
    rows, after = parse_insights(PAGE, config())
    assert rows == [
        ClaimRow("2026-12-01", "Winter", Decimal(3), Decimal("0.10"), Decimal("12.34")),
        ClaimRow("2026-12-02", "8", Decimal(0), Decimal(0), Decimal("0.1")),
    ]
    assert after == "B"
    last = {**PAGE, "paging": {"cursors": {"before": "A", "after": "B"}}}
    assert parse_insights(last, config())[1] is None
    assert parse_account({"currency": "EUR", "timezone_name": "Europe/Paris"}) == (
        "EUR",
        "Europe/Paris",
    )


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"data": [{"spend": "1"}]},
        {"data": [{"date_start": "2026-12-01", "spend": "lots"}]},
        {"data": [{"date_start": "yesterday", "spend": "1"}]},
        {"data": [{"date_start": "2026-12-01", "spend": "1e999999999"}]},
        {"data": [{"date_start": "2026-12-01", "spend": "-5"}]},
        {
            "data": [
                {
                    "date_start": "2026-12-01",
                    "actions": [
                        {"action_type": "offsite_conversion.fb_pixel_purchase", "7d_click": "NaN"}
                    ],
                }
            ]
        },
        {"data": [], "paging": {"next": "x"}},
    ],
)
def test_an_unexpected_page_is_refused(answer: Any) -> None:
    with pytest.raises(ReportingError) as error:
        parse_insights(answer, config())
    assert "unexpected body" in error.value.reason


@pytest.mark.parametrize(
    ("status", "error", "fix"),
    [
        (400, {"code": 190, "error_subcode": 463}, "system user token with ads_read"),
        (403, {"code": 200}, "needs ads_read on act_42"),
        (400, {"code": 100, "error_subcode": 33}, "check ad_account_id (act_42)"),
        (400, {"code": 17}, "rate limit"),
        (500, {"code": 2, "is_transient": True}, "try again later"),
        (400, {"code": 100}, "claims options"),
    ],
)
def test_each_refusal_says_its_fix(status: int, error: dict[str, Any], fix: str) -> None:
    message = f"Malformed access token {TOKEN} of jane@example.com"
    said = refusal(status, {"error": {"message": message, **error}}, "42", [TOKEN])
    assert fix in said.fix
    assert f"code {error['code']}" in said.reason
    assert "jane@example.com" not in said.reason
    assert TOKEN not in said.reason and "Malformed access token" in said.reason


def test_a_refusal_without_a_graph_error() -> None:
    assert refusal(503, None, "42").fix == "try again later"
    assert "unexpected body" in refusal(404, "nope", "42").reason


@pytest.mark.anyio
async def test_no_answer_names_the_failure_and_never_the_token() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as client:
        with pytest.raises(ReportingError) as error:
            await fetch(config(), client, DAY, DAY)
    assert "ConnectError" in error.value.reason
    assert TOKEN not in error.value.reason + error.value.fix


@pytest.mark.anyio
async def test_the_token_never_shows_in_a_refusal_from_the_wire() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        message = f"Malformed access token {request.headers['authorization'][7:]}"
        return httpx.Response(400, json={"error": {"message": message, "code": 190}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(ReportingError) as error:
            await fetch(config(), client, DAY, DAY)
    assert TOKEN not in error.value.reason and "code 190" in error.value.reason


def _page(day: str, after: str, more: bool = True) -> dict[str, Any]:
    paging: dict[str, Any] = {"cursors": {"after": after}}
    if more:
        paging["next"] = "https://graph/next"
    return {"data": [{"date_start": day, "spend": "1"}] if day else [], "paging": paging}


@pytest.mark.anyio
async def test_paging_follows_cursors_and_stops_when_one_comes_back() -> None:
    pages = {None: _page("2026-12-01", "A"), "A": _page("2026-12-02", "B"), "B": _page("", "A")}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/insights"):
            return httpx.Response(200, json=pages[request.url.params.get("after")])
        return httpx.Response(200, json={"currency": "EUR", "timezone_name": "UTC"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(ReportingError) as error:
            await fetch(config(), client, DAY, DAY)
        assert "cursor came back" in error.value.reason
        pages["B"] = _page("", "C", more=False)
        report = await fetch(config(), client, DAY, DAY)
    assert [r.day for r in report.rows] == ["2026-12-01", "2026-12-02"]
