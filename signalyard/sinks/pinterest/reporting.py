"""Pinterest's claims: what the ad account's analytics say its campaigns earned, per day and
campaign (``REPORTING``, the ``reporting`` part of the Pinterest :class:`SinkSpec`).

Three requests of the Pinterest API v5, on the host and version of the Conversions API
(``{api_url}/v5/...``, header ``Authorization: Bearer <token>``; the token needs the
``ads:read`` scope, which a conversion access token lacks: ``reporting_access_token`` is sent
when set, else ``access_token``):

- ``GET /v5/ad_accounts/{ad_account_id}``: the account's ``currency`` and ``time_zone`` (an
  IANA name; an account answered without one is read as ``UTC``, the time zone Pinterest's
  analytics documentation gives their ``start_date``/``end_date``);
- ``GET /v5/ad_accounts/{ad_account_id}/campaigns`` with
  ``entity_statuses=ACTIVE,PAUSED,ARCHIVED`` and ``page_size`` :data:`CAMPAIGN_PAGE_SIZE`,
  page after page while the answer gives a ``bookmark``: the campaigns' ids and names;
- ``GET /v5/ad_accounts/{ad_account_id}/campaigns/analytics`` with ``campaign_ids`` (at most
  :data:`MAX_CAMPAIGN_IDS`, comma-separated), ``start_date``/``end_date`` (at most
  :data:`MAX_DAYS_PER_REQUEST` days), ``granularity=DAY``, ``columns`` (:data:`COLUMNS`) and
  the attribution named explicitly (:data:`ATTRIBUTION`): a JSON list of rows
  ``{"CAMPAIGN_ID", "DATE", "SPEND_IN_MICRO_DOLLAR", "TOTAL_CHECKOUT",
  "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR"}`` (a column without a value may be left out: 0).

What is counted (:data:`COUNTED`): ``TOTAL_CHECKOUT``, the checkouts (tag and Conversions
API) Pinterest attributes to the campaign within 30 days of a pin click, 30 days of an
engagement or 1 day of a view, dated by the day of the checkout
(``conversion_report_time=TIME_OF_CONVERSION``), and their value; amounts ``*_MICRO_DOLLAR``
are millionths of the account's currency, whatever it is.

Every refusal raises :class:`~signalyard.sinks.reporting.ReportingError`: Pinterest answers an
HTTP error status with ``{"code", "message"}``, classified by status with the operator's fix.
The token travels in the header only and is masked in every message. Building requests
(:func:`account_request`, :func:`campaigns_request`, :func:`analytics_request`) and reading
answers (:func:`parse_account`, :func:`parse_campaigns`, :func:`parse_analytics`) are pure;
:func:`fetch` sends.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from signalyard.outcome import DESTINATION
from signalyard.secret import Secret
from signalyard.sinks import reporting
from signalyard.sinks.answers import body_text, code_of, json_or_none, scrub
from signalyard.sinks.exchange import hide, hide_bytes
from signalyard.sinks.pinterest.config import API_VERSION, PinterestConfig
from signalyard.sinks.reporting import (
    MAX_AMOUNT,
    MAX_PAGES,
    AccountReport,
    ClaimRow,
    ReportingError,
    ReportingSpec,
    ReportRequest,
    checked_amount,
    checked_day,
    iana_zone,
    platform_failed,
    send,
    throttled,
    unexplained,
)
from signalyard.sinks.spec import own_config

__all__ = [
    "ATTRIBUTION",
    "CAMPAIGN_PAGE_SIZE",
    "COLUMNS",
    "COUNTED",
    "ENTITY_STATUSES",
    "MAX_CAMPAIGN_IDS",
    "MAX_DAYS_PER_REQUEST",
    "REPORTING",
    "CampaignPage",
    "ReportRequest",
    "account_request",
    "analytics_request",
    "campaigns_request",
    "day_chunks",
    "fetch",
    "missing",
    "parse_account",
    "parse_analytics",
    "parse_campaigns",
]

COLUMNS = ("SPEND_IN_MICRO_DOLLAR", "TOTAL_CHECKOUT", "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR")
ATTRIBUTION = {
    "click_window_days": "30",
    "engagement_window_days": "30",
    "view_window_days": "1",
    "conversion_report_time": "TIME_OF_CONVERSION",
}
"""Pinterest's default windows, named so that the claims do not depend on its defaults; the
conversions dated by the checkout's day, as the shop's own credit is."""
ENTITY_STATUSES = "ACTIVE,PAUSED,ARCHIVED"
"""Every campaign that may have spent or converted (Pinterest lists ACTIVE and PAUSED only by
default)."""
CAMPAIGN_PAGE_SIZE = 250
"""The most campaigns one page of the campaign list gives (Pinterest's ``page_size``, 1-250)."""
MAX_CAMPAIGN_IDS = 250
"""The most campaign ids one analytics request names (assumed: see the docs)."""
MAX_DAYS_PER_REQUEST = 90
"""The longest range one day-level analytics request may ask for."""
COUNTED = (
    "TOTAL_CHECKOUT (checkouts of the tag and the Conversions API), value"
    " TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR; 30-day click, 30-day engagement, 1-day view,"
    " dated by the day of the checkout (conversion_report_time=TIME_OF_CONVERSION)"
)
_MICROS = Decimal(10**6)
_ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CampaignPage:
    """One page of the campaign list: ``(id, name)`` pairs and the next page's bookmark."""

    campaigns: tuple[tuple[str, str], ...]
    bookmark: str | None


# --- options -------------------------------------------------------------------------------


def missing(config: object) -> str | None:
    """``None``: the destination's ``ad_account_id`` (required) is the account reported on."""
    own_config("pinterest", config, PinterestConfig)
    return None


def _token(config: PinterestConfig) -> Secret:
    return config.reporting_access_token or config.access_token


# --- requests ------------------------------------------------------------------------------


def _headers(config: PinterestConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(config).reveal()}", "Accept": "application/json"}


def _account_url(config: PinterestConfig) -> str:
    return f"{config.api_url.rstrip('/')}/{API_VERSION}/ad_accounts/{config.ad_account_id}"


def account_request(config: PinterestConfig) -> ReportRequest:
    """``GET {api_url}/v5/ad_accounts/{ad_account_id}``: currency and time zone."""
    return ReportRequest("GET", _account_url(config), {}, _headers(config))


def campaigns_request(config: PinterestConfig, bookmark: str | None = None) -> ReportRequest:
    """``GET {api_url}/v5/ad_accounts/{ad_account_id}/campaigns``: one page of campaigns."""
    params = {"entity_statuses": ENTITY_STATUSES, "page_size": str(CAMPAIGN_PAGE_SIZE)}
    if bookmark is not None:
        params["bookmark"] = bookmark
    return ReportRequest("GET", _account_url(config) + "/campaigns", params, _headers(config))


def analytics_request(
    config: PinterestConfig,
    campaign_ids: list[str] | tuple[str, ...],
    start: datetime.date,
    end: datetime.date,
) -> ReportRequest:
    """``GET {api_url}/v5/ad_accounts/{ad_account_id}/campaigns/analytics``: the campaigns'
    days ``start`` .. ``end`` (at most :data:`MAX_CAMPAIGN_IDS` campaigns and
    :data:`MAX_DAYS_PER_REQUEST` days)."""
    if not 0 < len(campaign_ids) <= MAX_CAMPAIGN_IDS:
        raise ValueError(f"1 to {MAX_CAMPAIGN_IDS} campaign ids per request")
    return ReportRequest(
        "GET",
        _account_url(config) + "/campaigns/analytics",
        {
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "campaign_ids": ",".join(campaign_ids),
            "columns": ",".join(COLUMNS),
            "granularity": "DAY",
            **ATTRIBUTION,
        },
        _headers(config),
    )


def day_chunks(
    since: datetime.date, until: datetime.date
) -> list[tuple[datetime.date, datetime.date]]:
    """``since`` .. ``until`` in ranges of at most :data:`MAX_DAYS_PER_REQUEST` days."""
    return reporting.day_chunks(since, until, MAX_DAYS_PER_REQUEST)


# --- answers -------------------------------------------------------------------------------


def _set_token_fix(config: PinterestConfig) -> str:
    which = (
        "the reporting_access_token set"
        if config.reporting_access_token
        else "access_token (a conversion access token, which cannot read analytics)"
    )
    return (
        f"Pinterest was sent {which}: create an API v5 access token with the ads:read scope"
        " (Pinterest Developers → My apps → the app, authorized by a user with Admin, Analyst"
        f" or Campaign Manager access to the ad account {config.ad_account_id}) and set it"
        f" with `signalyard destinations set-secret {DESTINATION} reporting_access_token`"
    )


def _unexpected(what: str, detail: str) -> ReportingError:
    return ReportingError(
        f"Pinterest's {what} answered an unexpected body ({detail})",
        f"check the destination's api_url (`signalyard destinations show {DESTINATION}`): it"
        " must be the Pinterest API (https://api.pinterest.com) or 'sandbox'",
    )


def _refused(
    config: PinterestConfig, what: str, status: int, code: int | None, message: str
) -> ReportingError:
    said = f", code {code}" if code is not None else ""
    said += f": {message}" if message else ""
    reason = f"Pinterest's {what} refused the request (HTTP {status}{said})"
    if status == 401:
        return ReportingError(
            reason, f"the token is missing, invalid or expired; {_set_token_fix(config)}"
        )
    if status == 403:
        return ReportingError(
            reason,
            f"the token has no access to the ad account {config.ad_account_id} or lacks the"
            f" ads:read scope; {_set_token_fix(config)}",
        )
    if status == 404:
        return ReportingError(
            reason,
            "check the option ad_account_id (digits, Ads Manager → the account's id:"
            f" `signalyard destinations update {DESTINATION} --option ad_account_id=ID`)",
        )
    if status == 429:
        return throttled(reason, "Pinterest")
    if status >= 500:
        return platform_failed(reason, "Pinterest")
    if status == 400:
        return ReportingError(
            reason,
            "Pinterest refused a parameter: check the range of days (analytics go back a"
            " limited time) and the option ad_account_id",
        )
    return unexplained(reason, "Pinterest")


def _answer(
    config: PinterestConfig, what: str, status: int, body: bytes, secrets: tuple[str, ...]
) -> Any:
    """The JSON of a 2xx answer, else :class:`ReportingError`."""
    if not 200 <= status < 300:
        body = hide_bytes(body, secrets)  # masked whole, before anything of it is cut
    answer = json_or_none(body)
    if 200 <= status < 300:
        if answer is None:
            raise _unexpected(what, f"HTTP {status}, not JSON")
        return answer
    if isinstance(answer, dict) and ("code" in answer or "message" in answer):
        message = scrub(hide(str(answer.get("message") or ""), secrets))
        raise _refused(config, what, status, code_of(answer.get("code")), message)
    text = hide(body_text(body), secrets) if body.strip() else ""
    raise _refused(config, what, status, None, text)


def parse_account(
    config: PinterestConfig, status: int, body: bytes, secrets: tuple[str, ...] = ()
) -> tuple[str, str]:
    """The account's ``(currency, IANA time zone)`` from the answer to
    :func:`account_request` (``UTC`` when it gives no time zone)."""
    what = "ad account"
    answer = _answer(config, what, status, body, secrets)
    if not isinstance(answer, dict):
        raise _unexpected(what, "not an object")
    if str(answer.get("id", config.ad_account_id)) != config.ad_account_id:
        raise _unexpected(what, "another ad account's id")
    currency = answer.get("currency")
    if currency is None:
        raise _unexpected(what, "no currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise _unexpected(what, f"currency {str(currency)[:20]!r}")
    given = answer.get("time_zone")
    zone = iana_zone(given)
    if given is not None and zone is None:
        raise _unexpected(what, f"time_zone {str(given)[:70]!r} is not an IANA name")
    return currency.upper(), zone or "UTC"


def _text_id(value: object) -> str | None:
    """A campaign id: digits at Pinterest (the sandbox's book also takes ``_.:-``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 0 < len(value) <= 64 or not value.isascii():
        return None
    return value if all(c.isalnum() or c in "_.:-" for c in value) else None


def parse_campaigns(
    config: PinterestConfig, status: int, body: bytes, secrets: tuple[str, ...] = ()
) -> CampaignPage:
    """One page of the answer to :func:`campaigns_request`."""
    what = "campaign list"
    answer = _answer(config, what, status, body, secrets)
    items = answer.get("items") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise _unexpected(what, "no items list")
    campaigns: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        campaign_id = _text_id(item.get("id")) if isinstance(item, dict) else None
        if campaign_id is None or not isinstance(item, dict):
            raise _unexpected(what, f"item {i} without an id")
        name = item.get("name")
        text = name.strip()[:500] if isinstance(name, str) else ""
        campaigns.append((campaign_id, text or campaign_id))
    bookmark = answer.get("bookmark")
    if bookmark is not None and (not isinstance(bookmark, str) or len(bookmark) > 2000):
        raise _unexpected(what, "a bookmark that is not text")
    return CampaignPage(tuple(campaigns), bookmark or None)


def _amount(row: dict[str, Any], name: str, where: str, *, micros: bool) -> Decimal:
    value = row.get(name)
    try:
        if micros:
            return checked_amount(value, MAX_AMOUNT * _MICROS) / _MICROS
        return checked_amount(value)
    except ValueError as error:
        raise _unexpected("campaign analytics", f"{where}: {name} is {error}") from None


def parse_analytics(
    config: PinterestConfig,
    status: int,
    body: bytes,
    names: dict[str, str],
    secrets: tuple[str, ...] = (),
) -> list[ClaimRow]:
    """The answer to :func:`analytics_request`: a :class:`ClaimRow` per row that has a
    checkout, a value or spend, named by ``names`` (campaign id → name; else its id)."""
    what = "campaign analytics"
    answer = _answer(config, what, status, body, secrets)
    if not isinstance(answer, list):
        raise _unexpected(what, "not a list of rows")
    rows: list[ClaimRow] = []
    for i, item in enumerate(answer):
        where = f"row {i}"
        if not isinstance(item, dict):
            raise _unexpected(what, f"{where} is not an object")
        campaign_id = _text_id(item.get("CAMPAIGN_ID"))
        if campaign_id is None:
            raise _unexpected(what, f"{where} without CAMPAIGN_ID")
        try:
            day = checked_day(item.get("DATE"))
        except ValueError:
            raise _unexpected(what, f"{where}: DATE is not a day YYYY-MM-DD") from None
        row = ClaimRow(
            day=day,
            campaign=names.get(campaign_id, campaign_id),
            conversions=_amount(item, "TOTAL_CHECKOUT", where, micros=False),
            value=_amount(item, "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR", where, micros=True),
            spend=_amount(item, "SPEND_IN_MICRO_DOLLAR", where, micros=True),
        )
        if row.conversions or row.value or row.spend:
            rows.append(row)
    return rows


# --- sending -------------------------------------------------------------------------------


async def _send(
    client: httpx.AsyncClient, config: PinterestConfig, request: ReportRequest, what: str
) -> tuple[int, bytes]:
    return await send(
        client,
        request,
        timeout=config.timeout_seconds,
        label=f"Pinterest's {what}",
        url_option="api_url",
    )


def _too_many_pages() -> ReportingError:
    return ReportingError(
        f"Pinterest kept answering more pages (over {MAX_PAGES})", "fetch fewer days at a time"
    )


async def fetch(
    config: object, client: httpx.AsyncClient, since: datetime.date, until: datetime.date
) -> AccountReport:
    """The claims of the ad account's days ``since`` .. ``until`` (see the module's doc)."""
    own = own_config("pinterest", config, PinterestConfig)
    chunks = day_chunks(since, until)
    secrets = (_token(own).reveal(),)
    status, body = await _send(client, own, account_request(own), "ad account")
    currency, zone = parse_account(own, status, body, secrets)
    names: dict[str, str] = {}
    pages = 0
    bookmark: str | None = None
    seen: set[str] = set()
    while True:
        pages += 1
        if pages > MAX_PAGES:
            raise _too_many_pages()
        request = campaigns_request(own, bookmark)
        status, body = await _send(client, own, request, "campaign list")
        page = parse_campaigns(own, status, body, secrets)
        names.update(page.campaigns)
        if page.bookmark is None:
            break
        if page.bookmark in seen:
            raise ReportingError(
                "Pinterest's campaign list gave a bookmark again (its pages repeat)",
                "fetch again later; if it persists, report it to Pinterest",
            )
        seen.add(page.bookmark)
        bookmark = page.bookmark
    ids = sorted(names)
    rows: list[ClaimRow] = []
    for start, end in chunks:
        for first in range(0, len(ids), MAX_CAMPAIGN_IDS):
            pages += 1
            if pages > MAX_PAGES:
                raise _too_many_pages()
            batch = ids[first : first + MAX_CAMPAIGN_IDS]
            request = analytics_request(own, batch, start, end)
            status, body = await _send(client, own, request, "campaign analytics")
            rows.extend(parse_analytics(own, status, body, names, secrets))
    rows.sort(key=lambda r: (r.day, r.campaign))
    return AccountReport(own.ad_account_id, currency, zone, COUNTED, tuple(rows))


def _scope(config: object) -> str:
    own = own_config("pinterest", config, PinterestConfig)
    return f"{own.ad_account_id}: TOTAL_CHECKOUT, 30-day click, 30-day engagement, 1-day view"


REPORTING = ReportingSpec(
    fetch=fetch,
    missing=missing,
    counted=COUNTED,
    scope=_scope,
    example={"ad_account_id": "1234567890"},
)
