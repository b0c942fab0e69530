"""LinkedIn's claims: what the ad account's Ad Analytics say its campaigns earned, per day
and campaign (``REPORTING``, the ``reporting`` part of the LinkedIn :class:`SinkSpec`).

Three kinds of request to LinkedIn's Marketing API, on the host and version the Conversions
API uses (``{api_url}/rest/...``, headers ``Authorization: Bearer``, ``LinkedIn-Version``
:data:`~signalyard.sinks.linkedin.config.API_VERSION` and ``X-Restli-Protocol-Version:
2.0.0``), with the destination's access token (it needs the scope ``r_ads_reporting`` for
the analytics and ``r_ads`` for the account and its campaigns):

1. ``GET /rest/adAccounts/{ad_account_id}``: the account's ``currency``;
2. ``GET /rest/adAccounts/{ad_account_id}/adCampaigns?q=search&pageSize=1000``: the
   campaigns' names, page by page (``pageToken`` = the answer's ``metadata.nextPageToken``;
   at most :data:`~signalyard.sinks.reporting.MAX_PAGES`, a token that comes back stops);
3. ``GET /rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY`` with
   ``dateRange=(start:(year:Y,month:M,day:D),end:(...))``,
   ``accounts=List(urn%3Ali%3AsponsoredAccount%3A<id>)`` and ``fields=`` :data:`FIELDS`:
   one element per day and campaign (``pivotValues`` the campaign's URN). Ad Analytics has
   no paging. The query is Rest.li 2.0: its parentheses, commas and colons are syntax and
   go unencoded, the URN inside ``List(...)`` is percent-encoded; so the URL is built here,
   never by an HTTP library's parameter encoding.

What is counted (:data:`COUNTED`): ``externalWebsiteConversions`` (post-click and
post-view conversions of every conversion rule of the account, under each rule's windows:
30-day click and 7-day view by default) and their value ``conversionValueInLocalCurrency``;
spend ``costInLocalCurrency``. The Analytics finder cannot be narrowed to one conversion
rule, so the claims are the account's, not only the destination's rule: :func:`scope` is
the account. LinkedIn's analytics days are UTC days (LinkedIn's ad account has no time zone
field): the report's time zone is ``UTC``.

Every refusal raises :class:`~signalyard.sinks.reporting.ReportingError` with LinkedIn's
status, ``code``/``serviceErrorCode`` and message (secrets masked, cut) and the fix. The
token travels in the ``Authorization`` header only. Building requests and reading answers
are pure; :func:`fetch` sends.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from signalyard import outbound
from signalyard.outcome import DESTINATION
from signalyard.sinks.answers import code_of, json_or_none, scrub
from signalyard.sinks.exchange import hide, hide_bytes
from signalyard.sinks.linkedin.config import (
    API_VERSION,
    RESTLI_PROTOCOL_VERSION,
    LinkedInConfig,
)
from signalyard.sinks.reporting import (
    MAX_PAGES,
    AccountReport,
    ClaimRow,
    ReportingError,
    ReportingSpec,
    checked_amount,
    day_range,
    platform_failed,
)
from signalyard.sinks.spec import own_config

__all__ = [
    "ANALYTICS_PATH",
    "CAMPAIGN_URN_PREFIX",
    "COUNTED",
    "FIELDS",
    "PAGE_SIZE",
    "REPORTING",
    "TIME_ZONE",
    "ReportRequest",
    "account_request",
    "analytics_request",
    "campaigns_request",
    "fetch",
    "missing",
    "parse_account",
    "parse_analytics",
    "parse_campaigns",
    "refusal",
]

ANALYTICS_PATH = "/rest/adAnalytics"
ACCOUNTS_PATH = "/rest/adAccounts"
CAMPAIGN_URN_PREFIX = "urn:li:sponsoredCampaign:"
FIELDS = (
    "dateRange,pivotValues,costInLocalCurrency,externalWebsiteConversions,"
    "conversionValueInLocalCurrency"
)
PAGE_SIZE = 1000
TIME_ZONE = "UTC"
"""LinkedIn's Ad Analytics days are UTC days."""
MAX_ELEMENTS = 15_000
"""The most rows LinkedIn's adAnalytics answers for one request (it does not page): an
answer of this many may be cut short, so it is refused rather than kept."""
COUNTED = (
    "externalWebsiteConversions of every conversion rule of the ad account (post-click and"
    " post-view, each rule's windows: 30-day click, 7-day view by default), value"
    " conversionValueInLocalCurrency; UTC days"
)

_SET_TOKEN = (
    "create a new access token with the scopes rw_conversions, r_ads and r_ads_reporting"
    " (LinkedIn Developer Portal → your app → Auth → OAuth 2.0 tools; the app needs the"
    " Advertising API product) and set it with"
    f" `signalyard destinations set-secret {DESTINATION} access_token`"
)
_CHECK_ACCOUNT = (
    "check the option ad_account_id (Campaign Manager shows the account's id next to its"
    f" name): `signalyard destinations update {DESTINATION} --option ad_account_id=ID`"
)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """One GET: its full URL (the query already encoded, Rest.li style) and headers (the
    token is in ``headers`` only, never in a repr)."""

    method: str
    url: str
    headers: dict[str, str] = field(repr=False)


# --- options -------------------------------------------------------------------------------


def missing(config: object) -> str | None:
    """``None``: the destination's ad account and token are all reporting needs (the token
    must also have the scope ``r_ads_reporting``, which only LinkedIn can tell)."""
    own_config("linkedin", config, LinkedInConfig)
    return None


def _scope(config: object) -> str:
    return own_config("linkedin", config, LinkedInConfig).account_urn


# --- requests ------------------------------------------------------------------------------


def _headers(config: LinkedInConfig) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {config.access_token.reveal()}",
        "LinkedIn-Version": API_VERSION,
        "X-Restli-Protocol-Version": RESTLI_PROTOCOL_VERSION,
        "Accept": "application/json",
    }


def _base(config: LinkedInConfig) -> str:
    return config.api_url.rstrip("/")


def _query(pairs: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{name}={value}" for name, value in pairs)


def account_request(config: LinkedInConfig) -> ReportRequest:
    """``GET {api_url}/rest/adAccounts/{id}``: the account (its ``currency``)."""
    url = f"{_base(config)}{ACCOUNTS_PATH}/{config.ad_account_id}"
    return ReportRequest("GET", url, _headers(config))


def campaigns_request(config: LinkedInConfig, page_token: str | None = None) -> ReportRequest:
    """``GET {api_url}/rest/adAccounts/{id}/adCampaigns?q=search``: one page of the
    account's campaigns (``page_token``: the previous page's ``nextPageToken``)."""
    pairs = [("q", "search"), ("pageSize", str(PAGE_SIZE))]
    if page_token is not None:
        pairs.append(("pageToken", quote(page_token, safe="")))
    url = f"{_base(config)}{ACCOUNTS_PATH}/{config.ad_account_id}/adCampaigns?{_query(pairs)}"
    return ReportRequest("GET", url, _headers(config))


def _date(day: datetime.date) -> str:
    return f"(year:{day.year},month:{day.month},day:{day.day})"


def analytics_request(
    config: LinkedInConfig, since: datetime.date, until: datetime.date
) -> ReportRequest:
    """``GET {api_url}/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY``
    of the days ``since`` .. ``until`` (inclusive, UTC)."""
    pairs = [
        ("q", "analytics"),
        ("pivot", "CAMPAIGN"),
        ("timeGranularity", "DAILY"),
        ("dateRange", f"(start:{_date(since)},end:{_date(until)})"),
        ("accounts", f"List({quote(config.account_urn, safe='')})"),
        ("fields", FIELDS),
    ]
    return ReportRequest(
        "GET", f"{_base(config)}{ANALYTICS_PATH}?{_query(pairs)}", _headers(config)
    )


# --- answers -------------------------------------------------------------------------------


def _unexpected(what: str, detail: str) -> ReportingError:
    return ReportingError(
        f"LinkedIn's {what} answered an unexpected body ({detail})",
        f"check the destination's api_url (`signalyard destinations show {DESTINATION}`): it"
        " must be LinkedIn's API (https://api.linkedin.com) or 'sandbox'",
    )


def refusal(what: str, status: int, body: bytes, secrets: Sequence[str] = ()) -> ReportingError:
    """What LinkedIn's error answer (HTTP ``status``, ``{status, serviceErrorCode?, code?,
    message}``) to the ``what`` request means for the operator; ``secrets`` are masked in
    LinkedIn's message."""
    body = hide_bytes(body, secrets)  # masked whole, before anything of it is cut
    answer = json_or_none(body)
    error = answer if isinstance(answer, dict) else {}
    code = scrub(hide(str(error.get("code") or ""), secrets))[:60]
    service = code_of(error.get("serviceErrorCode"))
    message = scrub(hide(str(error.get("message") or ""), secrets))
    named = ", ".join(x for x in (code, "" if service is None else str(service)) if x)
    said = f": {message}" if message else ""
    reason = f"LinkedIn's {what} refused the request (HTTP {status}" + (
        f", {named}){said}" if named else f"){said}"
    )
    if status == 401:
        return ReportingError(
            reason, f"the access token is missing, expired or revoked; {_SET_TOKEN}"
        )
    if status == 403:
        return ReportingError(
            reason,
            "the token's member needs a role on the ad account (VIEWER at least) and the token"
            f" the scopes r_ads and r_ads_reporting; {_CHECK_ACCOUNT}; if the scopes are"
            f" missing, {_SET_TOKEN}",
        )
    if status == 404:
        return ReportingError(reason, _CHECK_ACCOUNT)
    if status == 426 or code in ("VERSION_MISSING", "NONEXISTENT_VERSION"):
        return ReportingError(
            reason, "upgrade Signalyard: its LinkedIn-Version is no longer served by LinkedIn"
        )
    if status == 429:
        return ReportingError(reason, "LinkedIn throttled the requests: fetch again later")
    if status >= 500:
        return platform_failed(reason, "LinkedIn")
    if status == 400:
        return ReportingError(
            reason, f"{_CHECK_ACCOUNT}; and ask for a range of days that has ended or is today"
        )
    return ReportingError(reason, _CHECK_ACCOUNT)


def _ok(what: str, status: int, body: bytes, secrets: Sequence[str]) -> dict[str, Any]:
    if status != 200:
        raise refusal(what, status, body, secrets)
    answer = json_or_none(body)
    if not isinstance(answer, dict):
        raise _unexpected(what, "not a JSON object")
    return answer


def parse_account(status: int, body: bytes, secrets: Sequence[str] = ()) -> str:
    """The account's currency (ISO 4217) from the answer to :func:`account_request`."""
    answer = _ok("adAccounts", status, body, secrets)
    currency = answer.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise _unexpected("adAccounts", f"currency {str(currency)[:20]!r}")
    return currency.upper()


def parse_campaigns(
    status: int, body: bytes, secrets: Sequence[str] = ()
) -> tuple[dict[str, str], str | None]:
    """One page of campaigns: ``{id: name}`` and the next page's token (``None``: the
    last)."""
    answer = _ok("adCampaigns", status, body, secrets)
    elements = answer.get("elements")
    if not isinstance(elements, list):
        raise _unexpected("adCampaigns", "no elements list")
    names: dict[str, str] = {}
    for item in elements:
        if not isinstance(item, dict):
            raise _unexpected("adCampaigns", "an element is not an object")
        campaign_id, name = item.get("id"), item.get("name")
        if isinstance(campaign_id, int) and not isinstance(campaign_id, bool):
            campaign_id = str(campaign_id)
        if isinstance(campaign_id, str) and isinstance(name, str) and name.strip():
            names[campaign_id] = name.strip()[:200]
    metadata = answer.get("metadata")
    token = metadata.get("nextPageToken") if isinstance(metadata, dict) else None
    if token is not None and (not isinstance(token, str) or not 0 < len(token) <= 500):
        raise _unexpected("adCampaigns", "metadata.nextPageToken is not a token")
    return names, token


def _day(value: object, where: str) -> str:
    start = value.get("start") if isinstance(value, dict) else None
    parts = [start.get(k) if isinstance(start, dict) else None for k in ("year", "month", "day")]
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in parts):
        raise _unexpected("adAnalytics", f"{where}: dateRange.start is not a day")
    try:
        return datetime.date(*parts).isoformat()  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        raise _unexpected("adAnalytics", f"{where}: dateRange.start is not a day") from None


def _amount(item: dict[str, Any], name: str, where: str) -> Decimal:
    try:
        return checked_amount(item.get(name))
    except ValueError as error:
        raise _unexpected("adAnalytics", f"{where}: {name} is {error}") from None


def parse_analytics(
    status: int, body: bytes, names: dict[str, str], secrets: Sequence[str] = ()
) -> tuple[ClaimRow, ...]:
    """The claim rows of the answer to :func:`analytics_request`: per day and campaign
    (named by ``names``, else by its id), rows with nothing in them left out, campaigns
    sharing a name on a day summed, sorted."""
    answer = _ok("adAnalytics", status, body, secrets)
    elements = answer.get("elements")
    if not isinstance(elements, list):
        raise _unexpected("adAnalytics", "no elements list")
    if len(elements) >= MAX_ELEMENTS:
        raise ReportingError(
            f"LinkedIn's adAnalytics answered {len(elements):,} rows, its most for one request:"
            " the answer may be cut short",
            "fetch fewer days at a time (`signalyard attribution fetch-claims --since --until`)",
        )
    totals: dict[tuple[str, str], list[Decimal]] = {}
    for i, item in enumerate(elements):
        where = f"elements[{i}]"
        if not isinstance(item, dict):
            raise _unexpected("adAnalytics", f"{where} is not an object")
        day = _day(item.get("dateRange"), where)
        pivots = item.get("pivotValues")
        urn = pivots[0] if isinstance(pivots, list) and pivots else None
        if not isinstance(urn, str) or not urn.startswith(CAMPAIGN_URN_PREFIX):
            raise _unexpected("adAnalytics", f"{where}: pivotValues has no campaign URN")
        campaign_id = urn[len(CAMPAIGN_URN_PREFIX) :][:40]
        total = totals.setdefault((day, names.get(campaign_id, campaign_id)), [Decimal(0)] * 3)
        total[0] += _amount(item, "externalWebsiteConversions", where)
        total[1] += _amount(item, "conversionValueInLocalCurrency", where)
        total[2] += _amount(item, "costInLocalCurrency", where)
    return tuple(
        ClaimRow(day, campaign, c, v, s)
        for (day, campaign), (c, v, s) in sorted(totals.items())
        if c or v or s
    )


# --- sending -------------------------------------------------------------------------------


async def _send(
    client: httpx.AsyncClient, config: LinkedInConfig, request: ReportRequest, what: str
) -> tuple[int, bytes]:
    try:
        reply = await outbound.request(
            client,
            request.method,
            request.url,
            headers=request.headers,
            timeout=config.timeout_seconds,
        )
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise ReportingError(
            f"no answer from LinkedIn's {what} ({type(error).__name__})",
            f"check the network and the option api_url (`signalyard destinations show"
            f" {DESTINATION}`), then fetch again",
        ) from None
    return reply.status, reply.body


async def fetch(
    config: object, client: httpx.AsyncClient, since: datetime.date, until: datetime.date
) -> AccountReport:
    """The claims of the ad account's (UTC) days ``since`` .. ``until`` (see the module's
    doc)."""
    own = own_config("linkedin", config, LinkedInConfig)
    try:
        day_range(since, until)
    except ValueError as error:
        raise ReportingError(str(error), "ask for a shorter range of days") from None
    secrets = (own.access_token.reveal(),)
    status, body = await _send(client, own, account_request(own), "adAccounts")
    currency = parse_account(status, body, secrets)
    names: dict[str, str] = {}
    token: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        status, body = await _send(client, own, campaigns_request(own, token), "adCampaigns")
        page, token = parse_campaigns(status, body, secrets)
        names.update(page)
        if token is None:
            break
        if token in seen:
            raise _unexpected("adCampaigns", "a page token came back: paging would not end")
        seen.add(token)
    else:
        raise _unexpected("adCampaigns", f"more than {MAX_PAGES} pages")
    status, body = await _send(client, own, analytics_request(own, since, until), "adAnalytics")
    rows = parse_analytics(status, body, names, secrets)
    return AccountReport(own.ad_account_id, currency, TIME_ZONE, COUNTED, rows)


REPORTING = ReportingSpec(
    fetch=fetch,
    missing=missing,
    counted=COUNTED,
    scope=_scope,
    example={"ad_account_id": "1234567890"},
)
"""The example config's account becomes the fresh sandbox's (``1234567890``)."""
