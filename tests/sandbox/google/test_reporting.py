"""The Google Ads API's reporting in the sandbox: ``googleAds:searchStream`` answering
Signalyard's three queries from ``/_sandbox/reporting`` and the events ``events:ingest``
recorded; its errors; and the Google sink's ``REPORTING.fetch`` against it, end to end."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from signalyard.clock import FrozenClock
from signalyard.sandbox.google import SandboxState
from signalyard.secret import Secret
from signalyard.sinks.google import GoogleConfig, GoogleSink
from signalyard.sinks.google.reporting import COUNTED, REPORTING
from signalyard.sinks.reporting import AccountReport, ClaimRow, ReportingError

from ..builders import NOW
from .factory import (
    ACTION,
    CLIENT_ID,
    CLIENT_SECRET,
    CUSTOMER,
    INGEST,
    REFRESH_TOKEN,
    access_token,
    bearer,
    body,
    destination,
    event,
    stamp,
)

pytestmark = pytest.mark.anyio

ADWORDS = "https://www.googleapis.com/auth/adwords"
DEV_TOKEN = "SandboxDevToken_0123456"
STREAM = f"/v26/customers/{CUSTOMER}/googleAds:searchStream"
HOUR = 3600
DAY = 86400
ACCOUNT_QUERY = "SELECT customer.currency_code, customer.time_zone FROM customer"
SPEND_QUERY = (
    "SELECT segments.date, campaign.id, campaign.name, metrics.cost_micros FROM campaign"
    " WHERE segments.date BETWEEN '2027-01-14' AND '2027-01-15'"
)
CLAIMS_QUERY = (
    "SELECT segments.date, campaign.id, campaign.name, metrics.all_conversions,"
    " metrics.all_conversions_value FROM campaign WHERE segments.conversion_action ="
    f" 'customers/{CUSTOMER}/conversionActions/{ACTION}' AND segments.date BETWEEN"
    " '2027-01-14' AND '2027-01-15'"
)
BOOK = {
    "account": {"id": CUSTOMER, "currency": "EUR", "time_zone": "America/New_York"},
    "campaigns": [
        {
            "id": "111",
            "name": "Spring sale",
            "clicks": [
                {"id": "g-spring-1"},
                {"id": "g-spring-2", "clicked_at": NOW - 5 * HOUR - 29 * DAY},  # in the window
                {"id": "g-old", "clicked_at": NOW - HOUR - 31 * DAY},  # out of it
            ],
        },
        {"id": "222", "name": "Brand"},
    ],
    "spend": [
        {"day": "2027-01-14", "campaign_id": "111", "amount": "12.50"},
        {"day": "2027-01-15", "campaign_id": "222", "amount": "3.333333"},
        {"day": "2027-01-16", "campaign_id": "111", "amount": "5"},  # after the range
    ],
}


def ads(token: str, **extra: str) -> dict[str, str]:
    return {**bearer(token), "developer-token": DEV_TOKEN, **extra}


async def ads_token(client: httpx.AsyncClient) -> str:
    return await access_token(client, scope=ADWORDS)


def click(kind: str, value: str) -> dict[str, Any]:
    return {"adIdentifiers": {kind: value}}


async def ingest(client: httpx.AsyncClient, auth: dict[str, str], payload: dict[str, Any]) -> None:
    r = await client.post(INGEST, json=payload, headers=auth)
    assert r.status_code == 200, r.text


async def record_purchases(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    """The events the claims are made of; 2027-01-15T08:00Z is 03:00 in New York."""
    counted = [
        event(
            "o-1",
            eventTimestamp=stamp(2 * HOUR),
            conversionValue=40.0,
            **click("gclid", "g-spring-1"),
        ),
        event(
            "o-2",
            eventTimestamp=stamp(5 * HOUR),  # 22:00 the day before in New York
            conversionValue=19.99,
            **click("gclid", "g-spring-2"),
        ),
        event("o-3", eventTimestamp=stamp(HOUR), conversionValue=10, **click("wbraid", "w-1")),
    ]
    for ev in counted:
        await ingest(client, auth, body(ev))
    # Not counted: no click id, a click over 30 days before, deduplicated, validateOnly,
    # another conversion action, denied consent.
    await ingest(client, auth, body(event("o-4", adIdentifiers=None, conversionValue=500)))
    await ingest(client, auth, body(event("o-5", conversionValue=99, **click("gclid", "g-old"))))
    await ingest(
        client, auth, body(event("o-1", conversionValue=40.0, **click("gclid", "g-spring-1")))
    )
    await ingest(
        client, auth, body(event("o-7", **click("gclid", "g-spring-1")), validateOnly=True)
    )
    await ingest(
        client,
        auth,
        body(event("o-8", **click("gclid", "g-spring-1")), destinations=[destination("555")]),
    )
    denied = {"adUserData": "CONSENT_DENIED", "adPersonalization": "CONSENT_DENIED"}
    await ingest(client, auth, body(event("o-9", consent=denied, **click("gclid", "g-spring-1"))))


@pytest.fixture
async def book(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.post("/_sandbox/reporting", json=BOOK)
    assert r.status_code == 200, r.text
    shown: dict[str, Any] = r.json()
    return shown


async def search(
    client: httpx.AsyncClient, query: str, headers: dict[str, str], path: str = STREAM
) -> httpx.Response:
    return await client.post(path, json={"query": query}, headers=headers)


def rows(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    answer = r.json()
    assert isinstance(answer, list) and answer
    assert all(set(batch) == {"results", "fieldMask", "requestId"} for batch in answer)
    return [row for batch in answer for row in batch["results"]]


def campaign(cid: str, name: str) -> dict[str, str]:
    return {"resourceName": f"customers/{CUSTOMER}/campaigns/{cid}", "id": cid, "name": name}


def ads_failure(r: httpx.Response, http: int, status: str) -> dict[str, Any]:
    """The error of a searchStream answer (an array of one) and its GoogleAdsFailure error."""
    assert r.status_code == http, r.text
    [answer] = r.json()
    error = answer["error"]
    assert (error["code"], error["status"]) == (http, status)
    [failure] = error["details"]
    assert (
        failure["@type"] == "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure"
    )
    assert failure["requestId"]
    [one] = failure["errors"]
    assert one["message"]
    return dict(one["errorCode"])


# --- the three queries ------------------------------------------------------------------


async def test_the_book_defaults_to_googles_30_day_window(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    r = await client.get("/_sandbox/reporting")
    assert r.json()["window_days"] == 30
    assert app.state.reporting.window_days == 30
    index = (await client.get("/_sandbox")).text
    assert "googleAds:searchStream" in index and "/_sandbox/reporting" in index


async def test_account(client: httpx.AsyncClient, book: dict[str, Any]) -> None:
    token = await ads_token(client)
    r = await search(client, ACCOUNT_QUERY, ads(token))
    assert rows(r) == [
        {
            "customer": {
                "resourceName": f"customers/{CUSTOMER}",
                "currencyCode": "EUR",
                "timeZone": "America/New_York",
            }
        }
    ]
    assert r.json()[0]["fieldMask"] == "customer.currencyCode,customer.timeZone"


async def test_spend(client: httpx.AsyncClient, book: dict[str, Any]) -> None:
    token = await ads_token(client)
    assert rows(await search(client, SPEND_QUERY, ads(token))) == [
        {
            "campaign": campaign("111", "Spring sale"),
            "segments": {"date": "2027-01-14"},
            "metrics": {"costMicros": "12500000"},
        },
        {
            "campaign": campaign("222", "Brand"),
            "segments": {"date": "2027-01-15"},
            "metrics": {"costMicros": "3333333"},
        },
    ]


async def test_claims_follow_the_click_rule_in_the_accounts_days(
    client: httpx.AsyncClient, auth: dict[str, str], book: dict[str, Any], state: SandboxState
) -> None:
    await record_purchases(client, auth)
    statuses = sorted(e.status for e in state.events())
    assert statuses == ["deduplicated", "denied_consent"] + ["kept"] * 6
    token = await ads_token(client)
    assert rows(await search(client, CLAIMS_QUERY, ads(token))) == [
        {
            "campaign": campaign("111", "Spring sale"),
            "segments": {"date": "2027-01-14"},
            "metrics": {"allConversions": 1, "allConversionsValue": 19.99},
        },
        {
            "campaign": campaign("1", "Sandbox campaign"),  # a click the book was not told of
            "segments": {"date": "2027-01-15"},
            "metrics": {"allConversions": 1, "allConversionsValue": 10},
        },
        {
            "campaign": campaign("111", "Spring sale"),
            "segments": {"date": "2027-01-15"},
            "metrics": {"allConversions": 1, "allConversionsValue": 40},
        },
    ]
    # In UTC the purchase of 22:00 New York time is of the 15th.
    await client.post("/_sandbox/reporting", json={"account": {"time_zone": "UTC"}})
    utc = rows(await search(client, CLAIMS_QUERY, ads(token)))
    assert [(r["segments"]["date"], r["campaign"]["id"], r["metrics"]) for r in utc] == [
        ("2027-01-15", "1", {"allConversions": 1, "allConversionsValue": 10}),
        ("2027-01-15", "111", {"allConversions": 2, "allConversionsValue": 59.99}),
    ]


async def test_no_rows_is_one_empty_batch(client: httpx.AsyncClient, book: dict[str, Any]) -> None:
    token = await ads_token(client)
    r = await search(client, CLAIMS_QUERY, ads(token))
    assert r.status_code == 200
    [batch] = r.json()
    assert batch["results"] == [] and batch["requestId"]


async def test_another_conversion_action_has_no_claims(
    client: httpx.AsyncClient, auth: dict[str, str], book: dict[str, Any]
) -> None:
    await record_purchases(client, auth)
    token = await ads_token(client)
    other = CLAIMS_QUERY.replace(f"conversionActions/{ACTION}", "conversionActions/444")
    assert rows(await search(client, other, ads(token))) == []


async def test_batches(client: httpx.AsyncClient, book: dict[str, Any], app: Starlette) -> None:
    app.state.search_stream.batch_rows = 1
    token = await ads_token(client)
    r = await search(client, SPEND_QUERY, ads(token))
    assert [len(b["results"]) for b in r.json()] == [1, 1]
    assert len({b["requestId"] for b in r.json()}) == 1
    assert [row["campaign"]["id"] for row in rows(r)] == ["111", "222"]


async def test_keywords_in_any_case_any_whitespace_fields_in_any_order(
    client: httpx.AsyncClient, book: dict[str, Any]
) -> None:
    token = await ads_token(client)
    query = (
        "select\n  metrics.cost_micros ,campaign.name,\tcampaign.id, segments.date\n"
        'from campaign\nwhere segments.date between "2027-01-14" and "2027-01-14"\n'
    )
    assert [r["metrics"] for r in rows(await search(client, query, ads(token)))] == [
        {"costMicros": "12500000"}
    ]
    claims = (
        "SELECT segments.date, campaign.id, campaign.name, metrics.all_conversions,"
        " metrics.all_conversions_value FROM campaign WHERE segments.date BETWEEN"
        " '2027-01-14' AND '2027-01-15' AND segments.conversion_action ="
        f" 'customers/{CUSTOMER}/conversionActions/{ACTION}'"
    )
    assert rows(await search(client, claims, ads(token))) == []


# --- errors ----------------------------------------------------------------------------


async def test_a_token_is_required(client: httpx.AsyncClient, book: dict[str, Any]) -> None:
    r = await search(client, ACCOUNT_QUERY, {"developer-token": DEV_TOKEN})
    assert r.status_code == 401
    [answer] = r.json()
    assert answer["error"]["status"] == "UNAUTHENTICATED"
    r = await search(client, ACCOUNT_QUERY, ads("ya29.not-issued"))
    assert r.status_code == 401


async def test_a_token_without_the_ads_scope_is_forbidden(
    client: httpx.AsyncClient, auth: dict[str, str], book: dict[str, Any]
) -> None:
    r = await search(client, ACCOUNT_QUERY, {**auth, "developer-token": DEV_TOKEN})
    assert r.status_code == 403
    [answer] = r.json()
    error = answer["error"]
    assert error["status"] == "PERMISSION_DENIED"
    [info] = error["details"]
    assert info["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert info["metadata"]["scopes"] == ADWORDS
    assert ADWORDS in r.headers["www-authenticate"]


async def test_a_revoked_credential(client: httpx.AsyncClient, book: dict[str, Any]) -> None:
    token = await ads_token(client)
    r = await client.post("/_sandbox/faults", json={"kind": "expired_credential"})
    assert r.status_code in (200, 201), r.text
    r = await search(client, ACCOUNT_QUERY, ads(token))
    assert r.status_code == 401 and r.json()[0]["error"]["status"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("headers", "path", "http", "status", "code"),
    [
        (
            {},
            STREAM,
            400,
            "INVALID_ARGUMENT",
            {"requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"},
        ),
        (
            {"developer-token": "bad token"},
            STREAM,
            401,
            "UNAUTHENTICATED",
            {"authenticationError": "DEVELOPER_TOKEN_INVALID"},
        ),
        (
            {"developer-token": DEV_TOKEN},
            "/v26/customers/123-456-7890/googleAds:searchStream",
            400,
            "INVALID_ARGUMENT",
            {"requestError": "INVALID_CUSTOMER_ID"},
        ),
        (
            {"developer-token": DEV_TOKEN},
            "/v26/customers/9999999999/googleAds:searchStream",
            403,
            "PERMISSION_DENIED",
            {"authorizationError": "USER_PERMISSION_DENIED"},
        ),
    ],
)
async def test_developer_token_and_account_errors(
    client: httpx.AsyncClient,
    book: dict[str, Any],
    headers: dict[str, str],
    path: str,
    http: int,
    status: str,
    code: dict[str, str],
) -> None:
    token = await ads_token(client)
    r = await search(client, ACCOUNT_QUERY, {**bearer(token), **headers}, path)
    assert ads_failure(r, http, status) == code


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT campaign.id FROM campaign", "UNRECOGNIZED_FIELD"),
        ("SELECT customer.currency_code FROM customer", "UNRECOGNIZED_FIELD"),
        (
            "SELECT customer.currency_code, customer.time_zone FROM customer WHERE x = 1",
            "UNRECOGNIZED_FIELD",
        ),
        (SPEND_QUERY.split(" WHERE")[0], "QUERY_ERROR"),
        (SPEND_QUERY.replace("2027-01-15", "2027-02-30"), "QUERY_ERROR"),
        (
            CLAIMS_QUERY.replace("segments.conversion_action =", "segments.conversion_action !="),
            "QUERY_ERROR",
        ),
        ("DROP TABLE campaign", "QUERY_ERROR"),
        ("SELECT campaign.id, campaign.id FROM campaign", "QUERY_ERROR"),
    ],
)
async def test_other_queries_are_query_errors(
    client: httpx.AsyncClient, book: dict[str, Any], query: str, code: str
) -> None:
    token = await ads_token(client)
    r = await search(client, query, ads(token))
    assert ads_failure(r, 400, "INVALID_ARGUMENT") == {"queryError": code}


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"{not json", None), (b'{"query": ""}', "REQUIRED_FIELD_MISSING"), (b'{"q": "x"}', None)],
)
async def test_bad_bodies(
    client: httpx.AsyncClient, book: dict[str, Any], content: bytes, code: str | None
) -> None:
    token = await ads_token(client)
    r = await client.post(STREAM, content=content, headers=ads(token))
    assert r.status_code == 400
    if code is not None:
        assert ads_failure(r, 400, "INVALID_ARGUMENT") == {"requestError": code}
    else:
        assert r.json()[0]["error"]["status"] == "INVALID_ARGUMENT"


async def test_an_unknown_version_is_not_found(client: httpx.AsyncClient) -> None:
    token = await ads_token(client)
    r = await search(
        client, ACCOUNT_QUERY, ads(token), f"/latest/customers/{CUSTOMER}/googleAds:searchStream"
    )
    assert r.status_code == 404


async def test_requests_are_logged_without_tokens(
    client: httpx.AsyncClient, book: dict[str, Any]
) -> None:
    token = await ads_token(client)
    await search(client, "nonsense", ads(token))
    r = await client.get("/_sandbox/requests")
    assert token not in r.text and DEV_TOKEN not in r.text
    logged = [q for q in r.json()["requests"] if q["route"] == "searchStream"]
    assert [(q["status"], q["reason"]) for q in logged] == [(400, "QUERY_ERROR")]


# --- end to end: the Google sink's REPORTING.fetch -----------------------------------------


def sink_config(**options: object) -> GoogleConfig:
    return GoogleConfig.from_mapping(
        {
            "operating_account_id": CUSTOMER,
            "conversion_action_id": ACTION,
            "api_url": "http://sandbox",
            "token_url": "http://sandbox",
            "ads_api_url": "http://sandbox",
            **options,
        },
        {
            "client_id": Secret(CLIENT_ID),
            "client_secret": Secret(CLIENT_SECRET),
            "refresh_token": Secret(REFRESH_TOKEN),
            "developer_token": Secret(DEV_TOKEN),
        },
    )


EXPECTED = (
    ClaimRow("2027-01-14", "Spring sale", Decimal(1), Decimal("19.99"), Decimal("12.5")),
    ClaimRow("2027-01-15", "Brand", Decimal(0), Decimal(0), Decimal("3.333333")),
    ClaimRow("2027-01-15", "Sandbox campaign", Decimal(2), Decimal("35.5"), Decimal(0)),
    ClaimRow("2027-01-15", "Spring sale", Decimal(1), Decimal("40"), Decimal(0)),
)


@pytest.mark.parametrize("batch_rows", [10_000, 1])
async def test_the_sinks_fetch_end_to_end(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    book: dict[str, Any],
    app: Starlette,
    clock: FrozenClock,
    batch_rows: int,
) -> None:
    app.state.search_stream.batch_rows = batch_rows
    await record_purchases(client, auth)
    # And one purchase as the Google sink itself sends it.
    config = sink_config()
    purchase = {
        "event_name": "Purchase",
        "event_time": int(NOW) - 60,
        "event_id": "sink-1",
        "user_data": {},
        "_click_ids": {"gclid": "g-from-the-sink"},
        "custom_data": {"currency": "EUR", "value": 25.5},
    }
    sent = await GoogleSink(config, client, clock).send([purchase])
    assert sent.attempt.http_status == 200, sent
    report = await REPORTING.fetch(
        config, client, datetime.date(2027, 1, 14), datetime.date(2027, 1, 15)
    )
    assert report == AccountReport(
        account_id=CUSTOMER,
        currency="EUR",
        time_zone="America/New_York",
        counted=COUNTED,
        rows=EXPECTED,
    )
    assert REPORTING.missing(config) is None


async def test_the_sinks_fetch_reports_googles_refusal(
    client: httpx.AsyncClient, book: dict[str, Any]
) -> None:
    config = sink_config(operating_account_id="9999999999")
    with pytest.raises(ReportingError) as caught:
        await REPORTING.fetch(
            config, client, datetime.date(2027, 1, 14), datetime.date(2027, 1, 15)
        )
    error = caught.value
    assert "HTTP 403" in error.reason and "USER_PERMISSION_DENIED" in error.reason
    assert "login_account_id" in error.fix
    assert (
        DEV_TOKEN not in error.reason + error.fix and REFRESH_TOKEN not in error.reason + error.fix
    )


async def test_a_padded_query_is_read_and_a_huge_one_refused_by_its_length(
    client: httpx.AsyncClient, book: dict[str, Any]
) -> None:
    token = await ads_token(client)
    padded = "SELECT" + " \n" * 1500 + "customer.currency_code, customer.time_zone FROM customer"
    assert rows(await search(client, padded, ads(token)))  # whitespace is whitespace
    huge = await search(client, "select " + " " * 200_000 + "x", ads(token))
    assert ads_failure(huge, 400, "INVALID_ARGUMENT") == {"queryError": "QUERY_ERROR"}
    assert "longer than 4096 characters" in huge.text
