"""The LinkedIn sandbox's reporting: the ad account, its campaigns (paged) and Ad Analytics,
answered from the conversions received through the real events route (with and without
li_fat_id, outside the click window, deduplicated), in the book's currency and days; the
edge's errors, bad parameters, faults; and the sink's ``fetch`` against it end to end."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from signalyard.sandbox.linkedin.reporting import conversions
from signalyard.secret import Secret
from signalyard.sinks.linkedin.config import LinkedInConfig
from signalyard.sinks.linkedin.reporting import COUNTED, REPORTING
from signalyard.sinks.reporting import AccountReport, ClaimRow

from ..builders import NOW
from .factory import HEADERS, TOKEN, element, post

pytestmark = pytest.mark.anyio

ACCOUNT = "1234567890"
ACCOUNT_URN = f"urn%3Ali%3AsponsoredAccount%3A{ACCOUNT}"
LI = "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID"
TODAY = datetime.datetime.fromtimestamp(NOW, datetime.UTC).date()  # 2027-01-15


def purchase(
    event_id: str | None, click: str | None, *, age: float = 60, amount: str = "50.0"
) -> Any:
    ids = [{"idType": "SHA256_EMAIL", "idValue": "a" * 64}]
    if click is not None:
        ids.append({"idType": LI, "idValue": click})
    return element(
        event_id,
        age=age,
        user={"userIds": ids},
        conversionValue={"currencyCode": "EUR", "amount": amount},
    )


def date_range(since: datetime.date, until: datetime.date) -> str:
    def one(d: datetime.date) -> str:
        return f"(year:{d.year},month:{d.month},day:{d.day})"

    return f"(start:{one(since)},end:{one(until)})"


async def analytics(
    client: httpx.AsyncClient,
    since: datetime.date = TODAY,
    until: datetime.date = TODAY,
    *,
    granularity: str = "DAILY",
    accounts: str = f"List({ACCOUNT_URN})",
    headers: dict[str, str] | None = None,
    **extra: str,
) -> httpx.Response:
    query = (
        f"q=analytics&pivot=CAMPAIGN&timeGranularity={granularity}"
        f"&dateRange={date_range(since, until)}&accounts={accounts}"
    )
    query += "".join(f"&{k}={v}" for k, v in extra.items())
    return await client.get(f"/rest/adAnalytics?{query}", headers=headers or HEADERS)


async def book(client: httpx.AsyncClient, **body: Any) -> None:
    answer = await client.post("/_sandbox/reporting", json=body)
    assert answer.status_code == 200, answer.text


async def received(client: httpx.AsyncClient) -> None:
    """Purchases through the real events route: two clicks of "Spring", one unknown click
    (the default campaign), one without a click id, one deduplicated, one outside the
    click window (its click 31 days before), one 9 hours ago (yesterday in UTC, today in
    Tokyo)."""
    answer = await post(
        client,
        [
            purchase("o-1", "li-spring-1", amount="42.5"),
            purchase("o-2", "li-spring-2", amount="0.1"),
            purchase("o-3", "li-unknown", amount="0.2"),
            purchase("o-4", None, amount="1000"),
            purchase("o-1", "li-spring-1", amount="42.5"),  # deduplicated by eventId
            purchase("o-5", "li-old", amount="7"),
            purchase("o-6", "li-spring-1", age=9 * 3600, amount="3"),
        ],
    )
    assert answer.status_code == 200, answer.text
    assert all(e["status"] == 201 for e in answer.json()["elements"])


async def spring(client: httpx.AsyncClient, **account: Any) -> None:
    await book(
        client,
        account={"id": ACCOUNT, "currency": "EUR", "time_zone": "UTC", **account},
        campaigns=[
            {
                "id": "111",
                "name": "Spring sale",
                "clicks": [
                    {"id": "li-spring-1"},
                    {"id": "li-spring-2", "clicked_at": NOW - 3600},
                    {"id": "li-old", "clicked_at": NOW - 31 * 86400},
                ],
            }
        ],
        spend=[
            {"day": TODAY.isoformat(), "campaign_id": "111", "amount": "12.30"},
            {"day": TODAY.isoformat(), "campaign_id": "1", "amount": "0.70"},
        ],
    )


def day_json(day: datetime.date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


async def test_analytics_per_day_and_campaign(client: httpx.AsyncClient) -> None:
    await received(client)
    await spring(client)
    yesterday = TODAY - datetime.timedelta(days=1)
    answer = await analytics(client, yesterday, TODAY)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-li-uuid"]

    def row(day: datetime.date, campaign: str, cost: str, n: int, value: str) -> Any:
        return {
            "dateRange": {"start": day_json(day), "end": day_json(day)},
            "pivotValues": [f"urn:li:sponsoredCampaign:{campaign}"],
            "costInLocalCurrency": cost,
            "externalWebsiteConversions": n,
            "conversionValueInLocalCurrency": value,
        }

    assert answer.json() == {
        "elements": [
            row(yesterday, "111", "0", 1, "3"),
            row(TODAY, "1", "0.70", 1, "0.2"),
            row(TODAY, "111", "12.30", 2, "42.6"),
        ]
    }


async def test_days_are_the_book_s_time_zone_and_all_sums_the_range(
    client: httpx.AsyncClient,
) -> None:
    await received(client)
    await spring(client, time_zone="Asia/Tokyo")
    answer = await analytics(
        client, granularity="ALL", fields="pivotValues,externalWebsiteConversions"
    )
    assert answer.json() == {
        "elements": [
            {"pivotValues": ["urn:li:sponsoredCampaign:1"], "externalWebsiteConversions": 1},
            {"pivotValues": ["urn:li:sponsoredCampaign:111"], "externalWebsiteConversions": 3},
        ]
    }


async def test_another_account_s_analytics_are_empty(client: httpx.AsyncClient) -> None:
    await received(client)
    await spring(client)
    answer = await analytics(client, accounts="List(urn%3Ali%3AsponsoredAccount%3A42)")
    assert answer.status_code == 200 and answer.json() == {"elements": []}


async def test_the_account_and_its_campaigns_paged(client: httpx.AsyncClient) -> None:
    await spring(client, currency="CHF")
    account = await client.get(f"/rest/adAccounts/{ACCOUNT}", headers=HEADERS)
    assert account.status_code == 200
    assert account.json()["currency"] == "CHF" and account.json()["id"] == int(ACCOUNT)
    other = await client.get("/rest/adAccounts/42", headers=HEADERS)
    assert other.status_code == 404 and other.json()["status"] == 404
    url = f"/rest/adAccounts/{ACCOUNT}/adCampaigns?q=search&pageSize=1"
    first = (await client.get(url, headers=HEADERS)).json()
    assert [c["name"] for c in first["elements"]] == ["Sandbox campaign"]
    token = first["metadata"]["nextPageToken"]
    second = (await client.get(f"{url}&pageToken={token}", headers=HEADERS)).json()
    assert second == {
        "elements": [
            {
                "id": 111,
                "name": "Spring sale",
                "account": f"urn:li:sponsoredAccount:{ACCOUNT}",
                "status": "ACTIVE",
            }
        ],
        "metadata": {},
    }


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({k: v for k, v in HEADERS.items() if k != "Authorization"}, 401, "EMPTY_ACCESS_TOKEN"),
        ({**HEADERS, "Authorization": "Bearer x"}, 401, "INVALID_ACCESS_TOKEN"),
        ({k: v for k, v in HEADERS.items() if k != "LinkedIn-Version"}, 400, "VERSION_MISSING"),
        ({**HEADERS, "LinkedIn-Version": "202001"}, 426, "NONEXISTENT_VERSION"),
        ({k: v for k, v in HEADERS.items() if k != "X-Restli-Protocol-Version"}, 400, None),
    ],
)
async def test_the_edge_checks_the_token_version_and_protocol(
    client: httpx.AsyncClient, headers: dict[str, str], status: int, code: str | None
) -> None:
    for answer in (
        await analytics(client, headers=headers),
        await client.get(f"/rest/adAccounts/{ACCOUNT}", headers=headers),
        await client.get(f"/rest/adAccounts/{ACCOUNT}/adCampaigns?q=search", headers=headers),
    ):
        assert answer.status_code == status
        assert answer.json().get("code") == code


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("q=statistics&pivot=CAMPAIGN&timeGranularity=DAILY", "param q"),
        ("q=analytics&pivot=CREATIVE&timeGranularity=DAILY", "param pivot"),
        ("q=analytics&pivot=CAMPAIGN&timeGranularity=MONTHLY", "param timeGranularity"),
        ("q=analytics&pivot=CAMPAIGN", "timeGranularity is required"),
    ],
)
async def test_a_bad_finder_is_refused(client: httpx.AsyncClient, query: str, said: str) -> None:
    answer = await client.get(
        f"/rest/adAnalytics?{query}&dateRange={date_range(TODAY, TODAY)}"
        f"&accounts=List({ACCOUNT_URN})",
        headers=HEADERS,
    )
    assert answer.status_code == 400 and said in answer.json()["message"]


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"dateRange": "(start:(year:2027,month:1))"}, "param dateRange"),
        ({"dateRange": "(start:(year:2027,month:2,day:30))"}, "not a date"),
        (
            {"dateRange": "(start:(year:2027,month:2,day:3),end:(year:2027,month:2,day:2))"},
            "before",
        ),
        ({"dateRange": "(start:(year:" + "9" * 5000 + "))"}, "too long"),
        ({"accounts": "urn%3Ali%3AsponsoredAccount%3A1"}, "List(urn"),
        ({"accounts": "List(urn%3Ali%3Aorganization%3A1)"}, "not a sponsoredAccount"),
        ({"fields": "pivotValues,impressions"}, "'impressions'"),
    ],
)
async def test_a_bad_parameter_is_named(
    client: httpx.AsyncClient, changes: dict[str, str], said: str
) -> None:
    params = {
        "q": "analytics",
        "pivot": "CAMPAIGN",
        "timeGranularity": "DAILY",
        "dateRange": date_range(TODAY, TODAY),
        "accounts": f"List({ACCOUNT_URN})",
        **changes,
    }
    query = "&".join(f"{k}={v}" for k, v in params.items())
    answer = await client.get(f"/rest/adAnalytics?{query}", headers=HEADERS)
    assert answer.status_code == 400, answer.text
    assert said in answer.json()["message"]


async def test_bad_campaign_paging_is_refused(client: httpx.AsyncClient) -> None:
    base = f"/rest/adAccounts/{ACCOUNT}/adCampaigns"
    for query, said in (
        ("q=other", "param q"),
        ("q=search&pageSize=0", "pageSize"),
        ("q=search&pageSize=" + "9" * 500, "pageSize"),
        ("q=search&pageToken=forged", "pageToken"),
    ):
        answer = await client.get(f"{base}?{query}", headers=HEADERS)
        assert answer.status_code == 400 and said in answer.json()["message"], query


def test_odd_recorded_elements_are_skipped_or_count_nothing() -> None:
    """The validator keeps these out of the route; ``conversions`` must not break on them
    anyway (a 500 is never an answer)."""

    class Held:
        def __init__(self, event: Any, happened_at: int = int(NOW * 1000)) -> None:
            self.event, self.happened_at, self.dedup = event, happened_at, "kept"

    def ids(value: Any) -> Any:
        return {"user": {"userIds": [{"idType": LI, "idValue": value}]}}

    held = [
        Held(None),
        Held([1, 2]),
        Held({"user": "x"}),
        Held(ids(5)),
        Held(ids("x" * 501)),
        Held(ids("ok-1"), happened_at=10**15),
        Held({**ids("ok-2"), "conversionValue": {"amount": "NaN"}}),
        Held({**ids("ok-3"), "conversionValue": {"amount": "9" * 50}}),
        Held({**ids("ok-4"), "conversionValue": {"amount": "-3"}}),
        Held({**ids("ok-5"), "conversionValue": {"amount": "2.5"}}),
    ]

    class State:
        def events(self, **_: Any) -> list[Held]:
            return held

    found = list(conversions(State()))  # type: ignore[arg-type]
    assert [(c.click_id, c.value) for c in found] == [
        ("ok-2", Decimal(0)),
        ("ok-3", Decimal(0)),
        ("ok-4", Decimal(0)),
        ("ok-5", Decimal("2.5")),
    ]


async def test_faults_answer_linkedin_s_errors(client: httpx.AsyncClient) -> None:
    created = await client.post("/_sandbox/faults", json={"kind": "expired_token", "count": 1})
    assert created.status_code in (200, 201), created.text
    expired = await analytics(client)
    assert expired.status_code == 401 and expired.json()["code"] == "EXPIRED_ACCESS_TOKEN"
    await client.post("/_sandbox/faults", json={"kind": "throttle", "count": 1})
    assert (await analytics(client)).status_code == 429
    await client.post("/_sandbox/faults", json={"kind": "server_error", "status": 503, "count": 1})
    assert (await analytics(client)).status_code == 503
    assert (await analytics(client)).status_code == 200


async def test_the_sink_fetches_its_claims_from_the_sandbox(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await received(client)
    await spring(client)
    config = LinkedInConfig(
        conversion_rule_id="104012",
        ad_account_id=ACCOUNT,
        access_token=Secret(TOKEN),
        api_url="http://sandbox",
    )
    assert REPORTING.missing(config) is None
    yesterday = TODAY - datetime.timedelta(days=1)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport) as sink_client:
        report = await REPORTING.fetch(config, sink_client, yesterday, TODAY)
    assert report == AccountReport(
        ACCOUNT,
        "EUR",
        "UTC",
        COUNTED,
        (
            ClaimRow(yesterday.isoformat(), "Spring sale", Decimal(1), Decimal(3), Decimal(0)),
            ClaimRow(
                TODAY.isoformat(), "Sandbox campaign", Decimal(1), Decimal("0.2"), Decimal("0.70")
            ),
            ClaimRow(
                TODAY.isoformat(), "Spring sale", Decimal(2), Decimal("42.6"), Decimal("12.30")
            ),
        ),
    )
