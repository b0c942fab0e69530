"""Reddit's claims: what the ad account's reports say its campaigns earned, per day and
campaign (``REPORTING``, the ``reporting`` part of the Reddit :class:`SinkSpec`).

Three requests of the Reddit Ads API v3 (same host as the Conversions API:
``{api_url}/api/v3/...``, header ``Authorization: Bearer <token>``):

- ``GET /api/v3/ad_accounts/{ad_account_id}``: ``data.currency`` and ``data.time_zone_id``
  (an IANA name), the account's currency and days;
- ``GET /api/v3/ad_accounts/{ad_account_id}/campaigns``: the campaigns' ``id`` and ``name``
  (reports give ids only), page by page;
- ``POST /api/v3/ad_accounts/{ad_account_id}/reports`` with the body
  ``{"data": {"starts_at", "ends_at", "time_zone_id", "breakdowns": ["DATE", "CAMPAIGN_ID"],
  "fields": ["SPEND", "CONVERSION_PURCHASE_CLICKS", "CONVERSION_PURCHASE_TOTAL_VALUE"]}}``:
  ``starts_at`` is midnight of the first day, ``ends_at`` midnight after the last
  (``YYYY-MM-DDT00:00:00Z``, hour-aligned), read in the account's ``time_zone_id``; the
  answer is ``{"data": {"metrics": [{"date", "campaign_id", "spend",
  "conversion_purchase_clicks", "conversion_purchase_total_value"}]}, "pagination":
  {"next_url"}}``.

Pages (reports and campaigns): ``page.size`` asks for :data:`PAGE_SIZE` rows; a page with a
``pagination.next_url`` has more, and its ``page.token`` is sent back as a parameter (to the
destination's own ``api_url``: a URL from an answer is never followed as it is). At most
:data:`~signalyard.sinks.reporting.MAX_PAGES` pages; a token that comes back stops it.

What is counted (:data:`COUNTED`): ``CONVERSION_PURCHASE_CLICKS``, Reddit's count of click-
through Purchase conversions (pixel and Conversions API) under the account's click
attribution window (28 days by default), and ``CONVERSION_PURCHASE_TOTAL_VALUE``, their
value; ``SPEND`` in micros of the account's currency (divided by 10^6) and the value in
hundredths of it (divided by 100: :data:`VALUE_UNITS`).

Every refusal raises :class:`~signalyard.sinks.reporting.ReportingError` with the HTTP
status, Reddit's own error and the operator's fix; the token travels in the header only and
is masked in every message. Building requests (:func:`account_request`,
:func:`campaigns_request`, :func:`report_request`) and reading answers
(:func:`parse_account`, :func:`parse_campaigns`, :func:`parse_report`) are pure; :func:`fetch`
sends.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import httpx

from signalyard.outcome import DESTINATION
from signalyard.secret import Secret
from signalyard.sinks.answers import body_text, code_of, json_or_none, scrub
from signalyard.sinks.exchange import hide, hide_bytes
from signalyard.sinks.reddit.config import RedditConfig
from signalyard.sinks.reporting import (
    MAX_AMOUNT,
    MAX_PAGES,
    AccountReport,
    ClaimRow,
    ReportingError,
    ReportingSpec,
    ReportRequest,
    checked_amount,
    day_range,
    iana_zone,
    platform_failed,
    send,
    throttled,
    unexplained,
)
from signalyard.sinks.spec import own_config

__all__ = [
    "BREAKDOWNS",
    "COUNTED",
    "FIELDS",
    "PAGE_SIZE",
    "REPORTING",
    "REPORTS_VERSION",
    "VALUE_UNITS",
    "Line",
    "ReportRequest",
    "account_path",
    "account_request",
    "campaigns_request",
    "fetch",
    "missing",
    "parse_account",
    "parse_campaigns",
    "parse_report",
    "refusal",
    "report_request",
]

REPORTS_VERSION = "v3"
"""The Ads API version of the reporting endpoints (the conversions endpoint is v2.0)."""
PAGE_SIZE = 1000
"""The rows asked for in one page (``page.size``)."""
BREAKDOWNS = ("DATE", "CAMPAIGN_ID")
FIELDS = ("SPEND", "CONVERSION_PURCHASE_CLICKS", "CONVERSION_PURCHASE_TOTAL_VALUE")
MICROS = 10**6
"""``SPEND`` is in millionths of the account's currency."""
VALUE_UNITS = 100
"""``CONVERSION_PURCHASE_TOTAL_VALUE`` is in hundredths of the account's currency."""
COUNTED = (
    "CONVERSION_PURCHASE_CLICKS (click-through Purchase conversions, pixel and Conversions"
    " API), value CONVERSION_PURCHASE_TOTAL_VALUE; the account's click attribution window"
    " (default 28 days)"
)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Line:
    """One row of a report, before campaign ids are named."""

    day: str
    campaign_id: str
    conversions: Decimal
    value: Decimal
    spend: Decimal


# --- options -------------------------------------------------------------------------------


def missing(config: object) -> str | None:
    """``None``: every Reddit destination names its ad account (``ad_account_id`` is
    required), which is all reporting needs besides a token that may read it."""
    own_config("reddit", config, RedditConfig)
    return None


def _token(config: RedditConfig) -> Secret:
    return config.reporting_access_token or config.access_token


def _secrets(config: RedditConfig) -> tuple[str, ...]:
    found = [config.access_token.reveal()]
    if config.reporting_access_token:
        found.append(config.reporting_access_token.reveal())
    return tuple(found)


# --- requests ------------------------------------------------------------------------------


def account_path(ad_account_id: str) -> str:
    """``/api/v3/ad_accounts/{ad_account_id}``, under ``api_url``."""
    return f"/api/{REPORTS_VERSION}/ad_accounts/{ad_account_id}"


def _headers(config: RedditConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(config).reveal()}", "Accept": "application/json"}


def _url(config: RedditConfig, tail: str = "") -> str:
    return config.api_url.rstrip("/") + account_path(config.ad_account_id) + tail


def _page(token: str | None) -> dict[str, str]:
    params = {"page.size": str(PAGE_SIZE)}
    if token is not None:
        params["page.token"] = token
    return params


def account_request(config: RedditConfig) -> ReportRequest:
    """``GET {api_url}/api/v3/ad_accounts/{id}``: the account's currency and time zone."""
    return ReportRequest("GET", _url(config), {}, _headers(config))


def campaigns_request(config: RedditConfig, token: str | None = None) -> ReportRequest:
    """``GET .../ad_accounts/{id}/campaigns``: a page of the campaigns (``token``: the
    next page's ``page.token``)."""
    return ReportRequest("GET", _url(config, "/campaigns"), _page(token), _headers(config))


def report_request(
    config: RedditConfig,
    since: datetime.date,
    until: datetime.date,
    time_zone: str,
    token: str | None = None,
) -> ReportRequest:
    """``POST .../ad_accounts/{id}/reports``: a page of the days ``since`` .. ``until``
    (inclusive) of the account's ``time_zone``, per day and campaign."""
    end = until + datetime.timedelta(days=1)
    body = {
        "data": {
            "starts_at": f"{since.isoformat()}T00:00:00Z",
            "ends_at": f"{end.isoformat()}T00:00:00Z",
            "time_zone_id": time_zone,
            "breakdowns": list(BREAKDOWNS),
            "fields": list(FIELDS),
        }
    }
    headers = {**_headers(config), "Content-Type": "application/json"}
    return ReportRequest("POST", _url(config, "/reports"), _page(token), headers, body)


# --- answers -------------------------------------------------------------------------------


def _set_token_fix(config: RedditConfig) -> str:
    which = (
        "the reporting_access_token set"
        if config.reporting_access_token
        else "access_token (a conversion access token, which cannot read reports)"
    )
    return (
        f"Reddit was sent {which}: create an Ads API OAuth token with the adsread scope"
        " (Reddit for Business → Developer applications → an app, authorized by a member of"
        f" the ad account {config.ad_account_id}) and set it with"
        f" `signalyard destinations set-secret {DESTINATION} reporting_access_token`"
    )


def _unexpected(what: str, detail: str) -> ReportingError:
    return ReportingError(
        f"Reddit's {what} answered an unexpected body ({detail})",
        f"check the destination's api_url (`signalyard destinations show {DESTINATION}`): it"
        " must be the Reddit Ads API (https://ads-api.reddit.com) or 'sandbox'",
    )


def _said(answer: Any, body: bytes, secrets: tuple[str, ...]) -> str:
    """Reddit's own words of an error answer: its code, reason and message, masked."""
    parts: list[str] = []
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict):
            code = code_of(error.get("code"))
            if code is not None:
                parts.append(f"code {code}")
            for key in ("reason", "message", "explanation"):
                value = error.get(key)
                if isinstance(value, str) and value.strip():
                    parts.append(value[:2000])
        elif isinstance(error, str) and error.strip():
            parts.append(error[:2000])
        message = answer.get("message")
        if isinstance(message, str) and message.strip():
            parts.append(message[:2000])
    elif body.strip():
        parts.append(body_text(body))
    return scrub(hide(": ".join(parts), secrets))


def refusal(
    config: RedditConfig, what: str, status: int, body: bytes, secrets: tuple[str, ...] = ()
) -> ReportingError:
    """What a refused request (HTTP ``status``, not 2xx) means for the operator."""
    body = hide_bytes(body, secrets)  # masked whole, before anything of it is cut
    said = _said(json_or_none(body), body, secrets)
    reason = f"Reddit's {what} refused the request (HTTP {status}{': ' + said if said else ''})"
    if status == 401:
        return ReportingError(
            reason, f"the token is missing, invalid or expired; {_set_token_fix(config)}"
        )
    if status == 403:
        return ReportingError(
            reason,
            f"the token may not read the ad account {config.ad_account_id}: check"
            f" ad_account_id (`signalyard destinations show {DESTINATION}`), and"
            f" {_set_token_fix(config)}",
        )
    if status == 404:
        return ReportingError(
            reason,
            f"Reddit knows no ad account {config.ad_account_id}: set the option ad_account_id"
            " to the id Ads Manager shows (a2_...): `signalyard destinations update"
            f" {DESTINATION} --option ad_account_id=ID`",
        )
    if status == 429:
        return throttled(reason, "Reddit")
    if status >= 500:
        return platform_failed(reason, "Reddit")
    if status == 400:
        return ReportingError(
            reason,
            "check the option ad_account_id and the range of days asked for; if they are"
            " right, read Reddit's message",
        )
    return unexplained(reason, "Reddit")


def _data(
    config: RedditConfig, what: str, status: int, body: bytes, secrets: tuple[str, ...]
) -> tuple[Any, Any]:
    """``(data, pagination)`` of a 2xx JSON answer, else :class:`ReportingError`."""
    if not 200 <= status < 300:
        raise refusal(config, what, status, body, secrets)
    answer = json_or_none(body)
    if not isinstance(answer, dict) or "data" not in answer:
        raise _unexpected(what, f"HTTP {status}, no JSON data")
    return answer["data"], answer.get("pagination")


def _next_token(pagination: Any, what: str) -> str | None:
    """The ``page.token`` of ``pagination.next_url``; ``None``: the last page."""
    if pagination is None:
        return None
    if not isinstance(pagination, dict):
        raise _unexpected(what, "pagination is not an object")
    next_url = pagination.get("next_url")
    if next_url is None or next_url == "":
        return None
    if not isinstance(next_url, str) or len(next_url) > 4000:
        raise _unexpected(what, "pagination.next_url is not a URL")
    try:
        token = httpx.URL(next_url).params.get("page.token")
    except (httpx.InvalidURL, ValueError):
        raise _unexpected(what, "pagination.next_url is not a URL") from None
    if not isinstance(token, str) or not token:
        raise _unexpected(what, "pagination.next_url without a page.token")
    return token


def parse_account(
    config: RedditConfig, status: int, body: bytes, secrets: tuple[str, ...] = ()
) -> tuple[str, str]:
    """The account's ``(currency, IANA time zone)`` from the answer to
    :func:`account_request`."""
    what = "ad account"
    data, _ = _data(config, what, status, body, secrets)
    if not isinstance(data, dict):
        raise _unexpected(what, "data is not an object")
    currency = data.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise _unexpected(what, f"currency {str(currency)[:20]!r}")
    zone = iana_zone(data.get("time_zone_id"))
    if zone is None:
        raise _unexpected(what, f"time_zone_id {str(data.get('time_zone_id'))[:70]!r}")
    return currency.upper(), zone


def _id(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and 0 < len(value.strip()) <= 200:
        return value.strip()
    return None


def parse_campaigns(
    config: RedditConfig, status: int, body: bytes, secrets: tuple[str, ...] = ()
) -> tuple[dict[str, str], str | None]:
    """One page of campaigns: ``{id: name}`` and the next page's token (``None``: the last
    page). A campaign without a usable name is left out (its id names it)."""
    what = "campaigns"
    data, pagination = _data(config, what, status, body, secrets)
    if not isinstance(data, list):
        raise _unexpected(what, "data is not a list")
    names: dict[str, str] = {}
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise _unexpected(what, f"data[{i}] is not an object")
        campaign_id, name = _id(item.get("id")), item.get("name")
        if campaign_id is None:
            raise _unexpected(what, f"data[{i}] has no id")
        if isinstance(name, str) and name.strip():
            names[campaign_id] = name.strip()[:500]
    return names, _next_token(pagination, what)


def _amount(row: dict[str, Any], name: str, units: int, where: str) -> Decimal:
    value = row.get(name)
    try:
        number = checked_amount(value, MAX_AMOUNT * units)
    except ValueError as error:
        raise _unexpected("report", f"{where}.{name} is {error}") from None
    return number / units if units != 1 else number


def _day(value: object, where: str) -> str:
    text = value.strip()[:10] if isinstance(value, str) else ""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise _unexpected("report", f"{where}.date is not a day YYYY-MM-DD") from None


def parse_report(
    config: RedditConfig, status: int, body: bytes, secrets: tuple[str, ...] = ()
) -> tuple[list[Line], str | None]:
    """One page of the report: its rows (``Line``, rows of nothing left out) and the next
    page's token (``None``: the last page)."""
    what = "report"
    data, pagination = _data(config, what, status, body, secrets)
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if not isinstance(metrics, list):
        raise _unexpected(what, "no data.metrics list")
    lines: list[Line] = []
    for i, row in enumerate(metrics):
        where = f"data.metrics[{i}]"
        if not isinstance(row, dict):
            raise _unexpected(what, f"{where} is not an object")
        campaign_id = _id(row.get("campaign_id"))
        if campaign_id is None:
            raise _unexpected(what, f"{where} has no campaign_id")
        line = Line(
            day=_day(row.get("date"), where),
            campaign_id=campaign_id,
            conversions=_amount(row, "conversion_purchase_clicks", 1, where),
            value=_amount(row, "conversion_purchase_total_value", VALUE_UNITS, where),
            spend=_amount(row, "spend", MICROS, where),
        )
        if line.conversions or line.value or line.spend:
            lines.append(line)
    return lines, _next_token(pagination, what)


# --- sending -------------------------------------------------------------------------------


async def _send(
    client: httpx.AsyncClient, config: RedditConfig, request: ReportRequest, what: str
) -> tuple[int, bytes]:
    return await send(
        client,
        request,
        timeout=config.timeout_seconds,
        label=f"Reddit's {what}",
        url_option="api_url",
    )


async def _pages(
    client: httpx.AsyncClient,
    config: RedditConfig,
    what: str,
    request: Callable[[str | None], ReportRequest],
    parse: Callable[[RedditConfig, int, bytes, tuple[str, ...]], tuple[T, str | None]],
    take: Callable[[T], object],
) -> None:
    """Every page of one listing, at most :data:`MAX_PAGES`; a page token that comes back
    raises :class:`ReportingError`."""
    secrets = _secrets(config)
    token: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        status, body = await _send(client, config, request(token), what)
        page, token = parse(config, status, body, secrets)
        take(page)
        if token is None:
            return
        if token in seen:
            raise _unexpected(what, "a page's token came back: paging would not end")
        seen.add(token)
    raise ReportingError(
        f"Reddit's {what} kept answering more pages (over {MAX_PAGES})",
        "fetch fewer days at a time",
    )


async def fetch(
    config: object, client: httpx.AsyncClient, since: datetime.date, until: datetime.date
) -> AccountReport:
    """The claims of the account's days ``since`` .. ``until`` (see the module's doc)."""
    own = own_config("reddit", config, RedditConfig)
    day_range(since, until)
    status, body = await _send(client, own, account_request(own), "ad account")
    currency, zone = parse_account(own, status, body, _secrets(own))
    names: dict[str, str] = {}
    await _pages(
        client,
        own,
        "campaigns",
        lambda token: campaigns_request(own, token),
        parse_campaigns,
        names.update,
    )
    lines: list[Line] = []
    await _pages(
        client,
        own,
        "report",
        lambda token: report_request(own, since, until, zone, token),
        parse_report,
        lines.extend,
    )
    rows = [
        ClaimRow(
            line.day,
            names.get(line.campaign_id, line.campaign_id),
            line.conversions,
            line.value,
            line.spend,
        )
        for line in lines
    ]
    rows.sort(key=lambda r: (r.day, r.campaign))
    return AccountReport(own.ad_account_id, currency, zone, COUNTED, tuple(rows))


def _scope(config: object) -> str:
    return f"{own_config('reddit', config, RedditConfig).ad_account_id} CONVERSION_PURCHASE_CLICKS"


REPORTING = ReportingSpec(
    fetch=fetch,
    missing=missing,
    counted=COUNTED,
    scope=_scope,
    example={"ad_account_id": "1234567890"},
)
