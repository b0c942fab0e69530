"""Snap's claims: what the ad account's stats say its campaigns earned, per day and campaign
(``REPORTING``, the ``reporting`` part of the Snapchat :class:`SinkSpec`).

Three kinds of request to Snap's Marketing API (``{ads_api_url}/v1/...``, a host of its own,
``https://adsapi.snapchat.com``), each with the header ``Authorization: Bearer <token>``: the
destination's ``reporting_access_token``, an OAuth token of the Marketing API (the
Conversions API token cannot read stats):

1. ``GET /v1/adaccounts/{ad_account_id}``: the account's ``currency`` and ``timezone`` (an
   IANA name; the account's days are in it);
2. ``GET /v1/adaccounts/{ad_account_id}/campaigns``: the campaigns' names by id, page by page
   (``limit``, then the ``cursor`` of ``paging.next_link``);
3. ``GET /v1/adaccounts/{ad_account_id}/stats`` with ``granularity=DAY``,
   ``breakdown=campaign``, ``fields=spend,conversion_purchases,conversion_purchases_value``,
   ``swipe_up_attribution_window=28_DAY``, ``view_attribution_window=1_DAY``,
   ``action_report_time=conversion`` and ``start_time``/``end_time``: the account's midnights
   (ISO 8601 with the day's UTC offset: Snap refuses DAY stats that do not start at the
   start of a day of the account's time zone), at most :data:`MAX_DAYS_PER_REQUEST` days a
   request. The answer's ``timeseries_stats[].timeseries_stat.breakdown_stats.campaign[]``
   hold one ``timeseries`` per campaign: a ``stats`` object per day.

What is counted (:data:`COUNTED`): ``conversion_purchases``, the ``PURCHASE`` events (Snap
Pixel and Conversions API) Snap attributes to the campaign within 28 days of a swipe (click)
or 1 day of a view, dated by the purchase (``action_report_time=conversion``), and their value
``conversion_purchases_value``; ``spend``. Both amounts are micro-currency (read as
``Decimal(micros) / 10**6``), in the account's currency.

Every refusal raises :class:`~signalyard.sinks.reporting.ReportingError` with Snap's HTTP
status, its ``error_code`` and message (the token masked) and the operator's fix. Building
requests (:func:`account_request`, :func:`campaigns_request`, :func:`stats_request`) and
reading answers (:func:`parse_account`, :func:`parse_campaigns`, :func:`parse_stats`) are
pure; :func:`fetch` sends.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx

from signalyard.outcome import DESTINATION
from signalyard.secret import Secret
from signalyard.sinks import reporting
from signalyard.sinks.answers import body_text, json_or_none, scrub
from signalyard.sinks.exchange import hide, hide_bytes
from signalyard.sinks.reporting import (
    MAX_AMOUNT,
    MAX_PAGES,
    AccountReport,
    ClaimRow,
    ReportingError,
    ReportingSpec,
    ReportRequest,
    checked_amount,
    iana_zone,
    platform_failed,
    send,
    throttled,
    unexplained,
)
from signalyard.sinks.snapchat.config import ADS_API_VERSION, SnapchatConfig
from signalyard.sinks.spec import own_config

__all__ = [
    "COUNTED",
    "FIELDS",
    "MAX_DAYS_PER_REQUEST",
    "PAGE_SIZE",
    "REPORTING",
    "ReportRequest",
    "StatRow",
    "account_request",
    "campaigns_request",
    "day_chunks",
    "fetch",
    "midnight",
    "missing",
    "parse_account",
    "parse_campaigns",
    "parse_stats",
    "stats_request",
]

FIELDS = ("spend", "conversion_purchases", "conversion_purchases_value")
SWIPE_WINDOW = "28_DAY"
"""Snap's default swipe-up (click) attribution window, asked for explicitly so that the claims
do not change with the account's settings."""
VIEW_WINDOW = "1_DAY"
"""Snap's default view attribution window."""
REPORT_TIME = "conversion"
PAGE_SIZE = 1000
"""The most campaigns asked for in one page (``limit``)."""
MAX_DAYS_PER_REQUEST = 31
"""The longest range one DAY stats request asks for (assumed: Snap's limit is not in the
pages consulted; longer ranges are asked in pieces)."""
COUNTED = (
    "conversion_purchases (PURCHASE events, Snap Pixel and Conversions API), value"
    " conversion_purchases_value; 28-day swipe-up and 1-day view attribution windows, dated"
    " by the purchase (action_report_time=conversion)"
)
_MICROS = Decimal(10**6)
_MAX_CURSOR = 2000
_MAX_TEXT = 300
_SET_TOKEN = (
    "create a Marketing API access token (Snapchat Business Manager → Business Details → an"
    " OAuth app; authorize it with the scope snapchat-marketing-api as a member of the ad"
    " account) and set it with `signalyard destinations set-secret"
    f" {DESTINATION} reporting_access_token`"
)


@dataclass(frozen=True, slots=True)
class StatRow:
    """One day of one campaign in a stats answer (amounts in the account's currency)."""

    day: str
    campaign_id: str
    conversions: Decimal
    value: Decimal
    spend: Decimal


# --- options -------------------------------------------------------------------------------


def missing(config: object) -> str | None:
    """``None`` when ``config`` names the ad account and has a Marketing API token, else
    which option or secret to set."""
    own = own_config("snapchat", config, SnapchatConfig)
    if own.ad_account_id is None:
        return "the option ad_account_id (Snap Ads Manager → the ad account's settings: its id)"
    if own.reporting_access_token is None:
        return (
            "the secret reporting_access_token (a Marketing API OAuth token with the scope"
            " snapchat-marketing-api; a Conversions API token cannot read stats)"
        )
    return None


def _account(config: SnapchatConfig) -> str:
    if config.ad_account_id is None:
        raise ReportingError(
            "the Snapchat destination names no ad account",
            f"set the option ad_account_id: `signalyard destinations update {DESTINATION}"
            " --option ad_account_id=<the ad account's id>`",
        )
    return config.ad_account_id


def _token(config: SnapchatConfig) -> Secret:
    if config.reporting_access_token is None:
        raise ReportingError("the Snapchat destination has no Marketing API token", _SET_TOKEN)
    return config.reporting_access_token


# --- requests ------------------------------------------------------------------------------


def _base(config: SnapchatConfig) -> str:
    return f"{config.ads_api_url.rstrip('/')}/{ADS_API_VERSION}/adaccounts/{_account(config)}"


def _headers(config: SnapchatConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(config).reveal()}", "Accept": "application/json"}


def account_request(config: SnapchatConfig) -> ReportRequest:
    """``GET {ads_api_url}/v1/adaccounts/{id}``: the account's currency and time zone."""
    return ReportRequest("GET", _base(config), {}, _headers(config))


def campaigns_request(config: SnapchatConfig, cursor: str | None = None) -> ReportRequest:
    """``GET {ads_api_url}/v1/adaccounts/{id}/campaigns``: one page of the campaigns
    (``cursor``: the next page's, from ``paging.next_link``)."""
    params = {"limit": str(PAGE_SIZE)}
    if cursor is not None:
        params["cursor"] = cursor
    return ReportRequest("GET", f"{_base(config)}/campaigns", params, _headers(config))


def midnight(day: datetime.date, zone: str) -> str:
    """The start of ``day`` in ``zone`` as Snap wants it: ISO 8601 with that day's offset
    (``2026-12-01T00:00:00-08:00``); on a day whose clocks jump forward at midnight, its
    first real instant (``01:00``: there is no ``00:00``)."""
    tz = ZoneInfo(zone)
    start = datetime.datetime(day.year, day.month, day.day, tzinfo=tz)
    real = start.astimezone(datetime.UTC).astimezone(tz)  # a skipped midnight moves on
    return real.isoformat(timespec="seconds")


def stats_request(
    config: SnapchatConfig,
    zone: str,
    start: datetime.date,
    end: datetime.date,
    cursor: str | None = None,
) -> ReportRequest:
    """``GET {ads_api_url}/v1/adaccounts/{id}/stats``: the days ``start`` .. ``end`` (the
    account's, inclusive: ``end_time`` is the midnight after ``end``) per campaign."""
    params = {
        "granularity": "DAY",
        "breakdown": "campaign",
        "fields": ",".join(FIELDS),
        "start_time": midnight(start, zone),
        "end_time": midnight(end + datetime.timedelta(days=1), zone),
        "swipe_up_attribution_window": SWIPE_WINDOW,
        "view_attribution_window": VIEW_WINDOW,
        "action_report_time": REPORT_TIME,
    }
    if cursor is not None:
        params["cursor"] = cursor
    return ReportRequest("GET", f"{_base(config)}/stats", params, _headers(config))


def day_chunks(
    since: datetime.date, until: datetime.date
) -> list[tuple[datetime.date, datetime.date]]:
    """``since`` .. ``until`` in ranges of at most :data:`MAX_DAYS_PER_REQUEST` days."""
    return reporting.day_chunks(since, until, MAX_DAYS_PER_REQUEST)


# --- answers -------------------------------------------------------------------------------


def _clip(text: str) -> str:
    value = " ".join(text.split())
    return value if len(value) <= _MAX_TEXT else value[: _MAX_TEXT - 3] + "..."


def _unexpected(what: str, detail: str) -> ReportingError:
    return ReportingError(
        f"Snap's Marketing API ({what}) answered an unexpected body ({detail})",
        f"check the option ads_api_url (`signalyard destinations show {DESTINATION}`): it"
        " must be Snap's Marketing API (https://adsapi.snapchat.com) or 'sandbox'",
    )


def _refused(
    config: SnapchatConfig, what: str, status: int, code: str, message: str
) -> ReportingError:
    ref = f"HTTP {status}" + (f", {code}" if code else "")
    said = f": {message}" if message else ""
    reason = f"Snap's Marketing API refused the {what} request ({ref}){said}"
    account = config.ad_account_id
    if status == 401:
        return ReportingError(reason, f"the token is invalid or expired; {_SET_TOKEN}")
    if status == 403:
        return ReportingError(
            reason,
            f"the token's user cannot read the ad account {account}: check the option"
            f" ad_account_id (`signalyard destinations show {DESTINATION}`) and that the user"
            " is a member of the account with a role that reads reports; else " + _SET_TOKEN,
        )
    if status == 404:
        return ReportingError(
            reason,
            f"Snap does not know the ad account {account}: check the option ad_account_id"
            f" (`signalyard destinations update {DESTINATION} --option ad_account_id=ID`) and"
            " ads_api_url",
        )
    if status == 429:
        return throttled(reason, "Snap")
    if status >= 500:
        return platform_failed(reason, "Snap")
    if status == 400:
        return ReportingError(
            reason,
            "check the option ad_account_id and the range of days asked for; if they are"
            " right, read Snap's message",
        )
    return unexplained(reason, "Snap")


def _answer(
    config: SnapchatConfig, what: str, status: int, body: bytes, secrets: tuple[str, ...]
) -> dict[str, Any]:
    """The answer Snap gave with ``request_status: SUCCESS``, else :class:`ReportingError`."""
    answer = json_or_none(body)
    if not isinstance(answer, dict):
        if 200 <= status < 300:
            raise _unexpected(what, f"HTTP {status}, not a JSON object")
        text = _clip(body_text(hide_bytes(body, secrets))) if body.strip() else ""
        raise _refused(config, what, status, "", text)
    state = str(answer.get("request_status") or "")[:40].upper()
    if not 200 <= status < 300 or state != "SUCCESS":
        if 200 <= status < 300 and state == "":
            raise _unexpected(what, "no request_status")
        raw = answer.get("debug_message") or answer.get("display_message") or answer.get("msg")
        message = _clip(scrub(hide(str(raw or ""), secrets)))
        code = answer.get("error_code")
        code_text = _clip(hide(str(code), secrets))[:40] if isinstance(code, str | int) else ""
        raise _refused(config, what, status, code_text, message)
    return answer


def _cursor(answer: dict[str, Any], what: str) -> str | None:
    """The ``cursor`` of ``paging.next_link`` (the next page is asked at our own URL with it:
    the token is never sent to a URL an answer names)."""
    paging = answer.get("paging")
    link = paging.get("next_link") if isinstance(paging, dict) else None
    if link is None or link == "":
        return None
    if not isinstance(link, str) or len(link) > 4000:
        raise _unexpected(what, "paging.next_link is not a link")
    cursors = parse_qs(urlsplit(link).query).get("cursor")
    if not cursors or not cursors[0] or len(cursors[0]) > _MAX_CURSOR:
        raise _unexpected(what, "paging.next_link without a cursor")
    return cursors[0]


def _items(answer: dict[str, Any], key: str, one: str, what: str) -> list[dict[str, Any]]:
    """The objects of Snap's list answer ``{key: [{"sub_request_status", one: {...}}]}``."""
    entries = answer.get(key)
    if not isinstance(entries, list):
        raise _unexpected(what, f"no {key} list")
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get(one), dict):
            raise _unexpected(what, f"{key}[{i}] without {one}")
        sub = str(entry.get("sub_request_status") or "SUCCESS")[:40].upper()
        if sub != "SUCCESS":
            raise _unexpected(what, f"{key}[{i}].sub_request_status is {sub}")
        out.append(entry[one])
    return out


def parse_account(
    config: SnapchatConfig, status: int, body: bytes, secrets: tuple[str, ...] = ()
) -> tuple[str, str]:
    """The account's ``(currency, IANA time zone)`` from the answer to
    :func:`account_request`."""
    what = "ad account"
    answer = _answer(config, what, status, body, secrets)
    accounts = _items(answer, "adaccounts", "adaccount", what)
    wanted = config.ad_account_id
    found = [a for a in accounts if str(a.get("id")) == wanted]
    if not found:
        raise _unexpected(what, f"the ad account {wanted} is not in the answer")
    account = found[0]
    currency = account.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise _unexpected(what, f"currency {_clip(repr(currency))}")
    zone = iana_zone(account.get("timezone"))
    if zone is None:
        raise _unexpected(what, f"timezone {_clip(repr(account.get('timezone')))}")
    return currency.upper(), zone


def parse_campaigns(
    config: SnapchatConfig, status: int, body: bytes, secrets: tuple[str, ...] = ()
) -> tuple[dict[str, str], str | None]:
    """One page of campaigns: ``{id: name}`` and the next page's cursor (``None``: the
    last)."""
    what = "campaigns"
    answer = _answer(config, what, status, body, secrets)
    names: dict[str, str] = {}
    for i, campaign in enumerate(_items(answer, "campaigns", "campaign", what)):
        campaign_id, name = campaign.get("id"), campaign.get("name")
        if not isinstance(campaign_id, str) or not campaign_id or len(campaign_id) > 200:
            raise _unexpected(what, f"campaigns[{i}] without an id")
        names[campaign_id] = name.strip() if isinstance(name, str) and name.strip() else ""
    return names, _cursor(answer, what)


def _amount(stats: dict[str, Any], name: str, where: str, scale: Decimal) -> Decimal:
    try:
        return checked_amount(stats.get(name), MAX_AMOUNT * scale) / scale
    except ValueError as error:
        raise _unexpected("stats", f"{where}.{name} is {error}") from None


def _day(value: object, zone: ZoneInfo, where: str) -> str:
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError(value)
        moment = datetime.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(value)
        return moment.astimezone(zone).date().isoformat()
    except (ValueError, OverflowError):
        raise _unexpected("stats", f"{where}.start_time is not a time with an offset") from None


def parse_stats(
    config: SnapchatConfig,
    status: int,
    body: bytes,
    zone: str,
    secrets: tuple[str, ...] = (),
) -> tuple[list[StatRow], str | None]:
    """The days of each campaign of the answer to :func:`stats_request` (days in ``zone``,
    the account's) and the next page's cursor; days with no conversion, value nor spend are
    left out."""
    what = "stats"
    answer = _answer(config, what, status, body, secrets)
    tz = ZoneInfo(zone)
    rows: list[StatRow] = []
    for i, stat in enumerate(_items(answer, "timeseries_stats", "timeseries_stat", what)):
        breakdown = stat.get("breakdown_stats")
        if breakdown is None:
            continue
        campaigns = breakdown.get("campaign") if isinstance(breakdown, dict) else None
        if campaigns is None and isinstance(breakdown, dict):
            continue
        if not isinstance(campaigns, list):
            raise _unexpected(what, f"timeseries_stats[{i}].breakdown_stats is not a list")
        for j, campaign in enumerate(campaigns):
            where = f"breakdown_stats.campaign[{j}]"
            if not isinstance(campaign, dict) or not isinstance(campaign.get("timeseries"), list):
                raise _unexpected(what, f"{where} without a timeseries")
            campaign_id = campaign.get("id")
            if not isinstance(campaign_id, str) or not campaign_id or len(campaign_id) > 200:
                raise _unexpected(what, f"{where} without an id")
            for k, entry in enumerate(campaign["timeseries"]):
                at = f"{where}.timeseries[{k}]"
                if not isinstance(entry, dict) or not isinstance(entry.get("stats"), dict):
                    raise _unexpected(what, f"{at} without stats")
                stats = entry["stats"]
                row = StatRow(
                    day=_day(entry.get("start_time"), tz, at),
                    campaign_id=campaign_id,
                    conversions=_amount(stats, "conversion_purchases", at, Decimal(1)),
                    value=_amount(stats, "conversion_purchases_value", at, _MICROS),
                    spend=_amount(stats, "spend", at, _MICROS),
                )
                if row.conversions or row.value or row.spend:
                    rows.append(row)
    return rows, _cursor(answer, what)


def claim_rows(
    stats: list[StatRow], names: dict[str, str], since: datetime.date, until: datetime.date
) -> tuple[ClaimRow, ...]:
    """One :class:`ClaimRow` per day and campaign name of ``since`` .. ``until`` (a campaign
    Snap did not list is named by its id; campaigns sharing a name on a day are summed)."""
    first, last = since.isoformat(), until.isoformat()
    totals: dict[tuple[str, str], list[Decimal]] = {}
    for row in stats:
        if not first <= row.day <= last:
            continue
        name = names.get(row.campaign_id) or row.campaign_id
        total = totals.setdefault((row.day, name), [Decimal(0), Decimal(0), Decimal(0)])
        total[0] += row.conversions
        total[1] += row.value
        total[2] += row.spend
    return tuple(ClaimRow(d, n, *t) for (d, n), t in sorted(totals.items()))


# --- sending -------------------------------------------------------------------------------


async def _send(
    client: httpx.AsyncClient, config: SnapchatConfig, request: ReportRequest, what: str
) -> tuple[int, bytes]:
    return await send(
        client,
        request,
        timeout=config.timeout_seconds,
        label=f"Snap's Marketing API ({what})",
        url_option="ads_api_url",
    )


class _Pages:
    """Counts the pages of one fetch (at most :data:`MAX_PAGES`) and refuses a cursor that
    comes back."""

    def __init__(self) -> None:
        self.count = 0
        self.seen: set[tuple[str, str]] = set()

    def next(self, what: str, cursor: str | None) -> None:
        self.count += 1
        if self.count > MAX_PAGES:
            raise ReportingError(
                f"Snap's Marketing API kept answering more pages (over {MAX_PAGES})",
                "fetch fewer days at a time",
            )
        if cursor is not None:
            if (what, cursor) in self.seen:
                raise _unexpected(what, "a page's cursor came back: paging would not end")
            self.seen.add((what, cursor))


async def fetch(
    config: object, client: httpx.AsyncClient, since: datetime.date, until: datetime.date
) -> AccountReport:
    """The claims of the ad account's days ``since`` .. ``until`` (see the module's doc)."""
    own = own_config("snapchat", config, SnapchatConfig)
    chunks = day_chunks(since, until)
    account_id = _account(own)
    secrets = (_token(own).reveal(), own.access_token.reveal())
    status, body = await _send(client, own, account_request(own), "ad account")
    currency, zone = parse_account(own, status, body, secrets)
    pages = _Pages()
    names: dict[str, str] = {}
    cursor: str | None = None
    while True:
        status, body = await _send(client, own, campaigns_request(own, cursor), "campaigns")
        page, cursor = parse_campaigns(own, status, body, secrets)
        names.update(page)
        pages.next("campaigns", cursor)
        if cursor is None:
            break
    stats: list[StatRow] = []
    for start, end in chunks:
        cursor = None
        while True:
            request = stats_request(own, zone, start, end, cursor)
            status, body = await _send(client, own, request, "stats")
            rows, cursor = parse_stats(own, status, body, zone, secrets)
            stats.extend(rows)
            pages.next("stats", cursor)
            if cursor is None:
                break
    return AccountReport(
        account_id, currency, zone, COUNTED, claim_rows(stats, names, since, until)
    )


def _scope(config: object) -> str:
    own = own_config("snapchat", config, SnapchatConfig)
    return f"adaccount {own.ad_account_id} conversion_purchases {SWIPE_WINDOW}/{VIEW_WINDOW}"


REPORTING = ReportingSpec(
    fetch=fetch,
    missing=missing,
    counted=COUNTED,
    scope=_scope,
    url_options=("ads_api_url",),
    example={"ad_account_id": "1234567890"},
)
