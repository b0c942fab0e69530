"""TikTok's claims: what the advertiser's reports say its campaigns earned, per day and
campaign (``REPORTING``, the ``reporting`` part of the TikTok :class:`SinkSpec`).

Two requests of TikTok API for Business (the Marketing API, same host and version as the
Events API: ``{api_url}/open_api/v1.3/...``, header ``Access-Token``):

- ``GET /open_api/v1.3/advertiser/info/?advertiser_ids=["<id>"]&fields=[...]``: the
  account's ``currency`` and time zone. TikTok gives ``timezone`` (the account's fixed
  offset, ``Etc/GMT-8``: Ads Manager keeps no daylight saving time, and its reports' days
  are in it) and ``display_timezone`` (a region name, ``Asia/Shanghai``); the days are read
  in ``timezone`` when it is an IANA name, else in ``display_timezone``.
- ``GET /open_api/v1.3/report/integrated/get/`` with ``report_type=BASIC``,
  ``data_level=AUCTION_CAMPAIGN``, ``dimensions=["campaign_id","stat_time_day"]`` and
  ``metrics=["campaign_name","spend","complete_payment","total_complete_payment_rate"]``
  (lists JSON-encoded in the query), ``start_date``/``end_date`` (``YYYY-MM-DD``, the
  account's days, inclusive; at most :data:`MAX_DAYS_PER_REQUEST` days per request with
  ``stat_time_day``, so longer ranges are asked in pieces), ``page``/``page_size`` (at most
  1,000 rows a page; ``data.page_info.total_page`` says how many there are).

What is counted (:data:`COUNTED`): ``complete_payment``, TikTok's count of Complete Payment
(``Purchase``) events of the pixel and the Events API attributed to the campaign under the
advertiser's attribution windows (7-day click and 1-day view by default), and its value
``total_complete_payment_rate`` (TikTok's "Total complete payment value", despite the name);
``spend`` in the account's currency. TikTok's reports date a conversion by the day of the ad
click or impression it is attributed to, not the day of the purchase.

Every refusal raises :class:`~signalyard.sinks.reporting.ReportingError`: TikTok answers
HTTP 200 with a non-zero ``code`` (40001 no permission, 40002 a bad parameter, 40100
throttled, 40102/40104/40105 the token expired, missing or invalid, 5xxxx internal), which
is classified with the operator's fix. The token travels in the ``Access-Token`` header only
and is masked in every message. Building requests (:func:`account_request`,
:func:`report_request`) and reading answers (:func:`parse_account`, :func:`parse_page`) are
pure; :func:`fetch` sends.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import orjson

from signalyard.outcome import DESTINATION
from signalyard.secret import Secret
from signalyard.sinks import reporting
from signalyard.sinks.answers import body_text, code_of, json_or_none, scrub
from signalyard.sinks.exchange import hide, hide_bytes
from signalyard.sinks.reporting import (
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
from signalyard.sinks.spec import own_config
from signalyard.sinks.tiktok.config import API_VERSION, TikTokConfig

__all__ = [
    "ACCOUNT_FIELDS",
    "ADVERTISER_PATH",
    "COUNTED",
    "DIMENSIONS",
    "MAX_DAYS_PER_REQUEST",
    "METRICS",
    "PAGE_SIZE",
    "REPORTING",
    "REPORT_PATH",
    "Page",
    "ReportRequest",
    "account_request",
    "day_chunks",
    "fetch",
    "missing",
    "parse_account",
    "parse_page",
    "report_request",
]

REPORT_PATH = f"/open_api/{API_VERSION}/report/integrated/get/"
ADVERTISER_PATH = f"/open_api/{API_VERSION}/advertiser/info/"
PAGE_SIZE = 1000
"""The most rows TikTok gives in one page (``page_size`` 1-1,000)."""
MAX_DAYS_PER_REQUEST = 30
"""The longest range one day-level (``stat_time_day``) report request may ask for."""
DIMENSIONS = ("campaign_id", "stat_time_day")
METRICS = ("campaign_name", "spend", "complete_payment", "total_complete_payment_rate")
ACCOUNT_FIELDS = ("currency", "timezone", "display_timezone")
COUNTED = (
    "complete_payment (Complete Payment / Purchase events, pixel and Events API), value"
    " total_complete_payment_rate; the advertiser's attribution windows (default 7-day click,"
    " 1-day view), dated by the day of the attributed ad click or impression"
)

OK = 0
NO_PERMISSION = 40001
INVALID = 40002
THROTTLED = 40100
TOKEN_EXPIRED = 40102
TOKEN_MISSING = 40104
TOKEN_INVALID = 40105
_TOKEN_CODES = (TOKEN_EXPIRED, TOKEN_MISSING, TOKEN_INVALID)
_ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a report: its rows, and which page of how many it was."""

    rows: tuple[ClaimRow, ...]
    page: int
    total_page: int


# --- options -------------------------------------------------------------------------------


def missing(config: object) -> str | None:
    """``None`` when ``config`` names the advertiser, else which option to set."""
    own = own_config("tiktok", config, TikTokConfig)
    if own.advertiser_id is None:
        return "the option advertiser_id (TikTok Ads Manager → the ad account's id, digits)"
    return None


def _token(config: TikTokConfig) -> Secret:
    return config.reporting_access_token or config.access_token


# --- requests ------------------------------------------------------------------------------


def _list(values: tuple[str, ...] | list[str]) -> str:
    return orjson.dumps(list(values)).decode()


def _headers(config: TikTokConfig) -> dict[str, str]:
    return {"Access-Token": _token(config).reveal(), "Accept": "application/json"}


def _advertiser(config: TikTokConfig) -> str:
    if config.advertiser_id is None:
        raise ReportingError(
            "the TikTok destination names no advertiser",
            f"set the option advertiser_id: `signalyard destinations update {DESTINATION}"
            " --option advertiser_id=<the ad account's id>`",
        )
    return config.advertiser_id


def account_request(config: TikTokConfig) -> ReportRequest:
    """``GET {api_url}/open_api/v1.3/advertiser/info/``: the account's currency and time
    zone."""
    return ReportRequest(
        "GET",
        config.api_url.rstrip("/") + ADVERTISER_PATH,
        {"advertiser_ids": _list([_advertiser(config)]), "fields": _list(ACCOUNT_FIELDS)},
        _headers(config),
    )


def report_request(
    config: TikTokConfig, start: datetime.date, end: datetime.date, page: int = 1
) -> ReportRequest:
    """``GET {api_url}/open_api/v1.3/report/integrated/get/``: page ``page`` of the days
    ``start`` .. ``end`` (at most :data:`MAX_DAYS_PER_REQUEST`; see :func:`day_chunks`)."""
    return ReportRequest(
        "GET",
        config.api_url.rstrip("/") + REPORT_PATH,
        {
            "advertiser_id": _advertiser(config),
            "report_type": "BASIC",
            "data_level": "AUCTION_CAMPAIGN",
            "dimensions": _list(DIMENSIONS),
            "metrics": _list(METRICS),
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "page": str(page),
            "page_size": str(PAGE_SIZE),
        },
        _headers(config),
    )


def day_chunks(
    since: datetime.date, until: datetime.date
) -> list[tuple[datetime.date, datetime.date]]:
    """``since`` .. ``until`` in ranges of at most :data:`MAX_DAYS_PER_REQUEST` days."""
    return reporting.day_chunks(since, until, MAX_DAYS_PER_REQUEST)


# --- answers -------------------------------------------------------------------------------


def _set_token_fix(config: TikTokConfig) -> str:
    which = (
        "the reporting_access_token set"
        if config.reporting_access_token
        else "access_token (an Events API token, which usually cannot read reports)"
    )
    return (
        f"TikTok was sent {which}: create a Marketing API access token (TikTok API for"
        " Business → My Apps → an app with the Reporting and Ad Account Management scopes,"
        f" authorized by the advertiser {config.advertiser_id}) and set it with"
        f" `signalyard destinations set-secret {DESTINATION} reporting_access_token`"
    )


def _unexpected(what: str, detail: str) -> ReportingError:
    return ReportingError(
        f"TikTok's {what} answered an unexpected body ({detail})",
        f"check the destination's api_url (`signalyard destinations show {DESTINATION}`): it"
        " must be TikTok API for Business (https://business-api.tiktok.com) or 'sandbox'",
    )


def _refused(
    config: TikTokConfig, what: str, status: int, code: int, message: str
) -> ReportingError:
    said = f": {message}" if message else ""
    reason = f"TikTok's {what} refused the request (HTTP {status}, code {code}{said})"
    if code == NO_PERMISSION:
        return ReportingError(
            reason,
            f"the token has no access to the advertiser {config.advertiser_id} or lacks the"
            f" Reporting scope; check advertiser_id (`signalyard destinations show"
            f" {DESTINATION}`), and {_set_token_fix(config)}",
        )
    if code in _TOKEN_CODES:
        return ReportingError(
            reason, f"the token is missing, invalid or expired; {_set_token_fix(config)}"
        )
    if code == INVALID:
        return ReportingError(
            reason,
            f"check the option advertiser_id (digits, TikTok Ads Manager → the ad account's id:"
            f" `signalyard destinations update {DESTINATION} --option advertiser_id=ID`) and"
            " the range of days asked for",
        )
    if code == THROTTLED:
        return throttled(reason, "TikTok")
    if code >= 50000:
        return platform_failed(reason, "TikTok")
    return unexplained(reason, "TikTok")


def _answer_data(
    config: TikTokConfig, what: str, status: int, body: bytes, secrets: tuple[str, ...]
) -> dict[str, Any]:
    """The ``data`` of an answer TikTok gave with code 0, else :class:`ReportingError`."""
    answer = json_or_none(hide_bytes(body, secrets))  # masked whole, before any cut
    code = code_of(answer.get("code")) if isinstance(answer, dict) else None
    if not isinstance(answer, dict) or code is None:
        if 200 <= status < 300:
            raise _unexpected(what, f"HTTP {status}, no JSON code")
        text = body_text(hide_bytes(body, secrets)) if body.strip() else ""
        said = f": {text}" if text else ""
        reason = f"TikTok's {what} answered HTTP {status} without its JSON body{said}"
        if status in (401, 403):
            raise ReportingError(reason, _set_token_fix(config))
        if status == 429:
            raise throttled(reason, "TikTok")
        if status >= 500:
            raise platform_failed(reason, "TikTok")
        raise _unexpected(what, f"HTTP {status}")
    message = scrub(hide(str(answer.get("message") or ""), secrets))
    if code != OK or not 200 <= status < 300:
        raise _refused(config, what, status, code, message)
    data = answer.get("data")
    if not isinstance(data, dict):
        raise _unexpected(what, "no data object")
    return data


def parse_account(
    config: TikTokConfig, status: int, body: bytes, secrets: tuple[str, ...] = ()
) -> tuple[str, str]:
    """The account's ``(currency, IANA time zone)`` from the answer to
    :func:`account_request`."""
    what = "advertiser/info"
    data = _answer_data(config, what, status, body, secrets)
    rows = data.get("list")
    if not isinstance(rows, list):
        raise _unexpected(what, "no data.list")
    wanted = config.advertiser_id
    found = [r for r in rows if isinstance(r, dict) and str(r.get("advertiser_id")) == wanted]
    if not found:
        raise ReportingError(
            f"TikTok's {what} did not list the advertiser {wanted}",
            f"check the option advertiser_id (`signalyard destinations show {DESTINATION}`),"
            f" and {_set_token_fix(config)}",
        )
    account = found[0]
    currency = account.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise _unexpected(what, f"currency {str(currency)[:20]!r}")
    zone = iana_zone(account.get("timezone")) or iana_zone(account.get("display_timezone"))
    if zone is None:
        shown = account.get("timezone"), account.get("display_timezone")
        raise _unexpected(
            what, f"no IANA time zone in timezone/display_timezone {str(shown)[:140]!r}"
        )
    return currency.upper(), zone


def _amount(metrics: dict[str, Any], name: str, where: str) -> Decimal:
    value = metrics.get(name)
    if value is None:
        raise _unexpected("report", f"{where}: metrics.{name} is missing")
    try:
        return checked_amount(value.strip() if isinstance(value, str) else value)
    except ValueError as error:
        raise _unexpected("report", f"{where}: metrics.{name} is {error}") from None


def _day(value: object, where: str) -> str:
    text = value.strip()[:10] if isinstance(value, str) else ""
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise _unexpected("report", f"{where}: dimensions.stat_time_day is not a day") from None


def _row(item: object, i: int) -> ClaimRow:
    where = f"row {i}"
    if not isinstance(item, dict):
        raise _unexpected("report", f"{where} is not an object")
    dimensions, metrics = item.get("dimensions"), item.get("metrics")
    if not isinstance(dimensions, dict) or not isinstance(metrics, dict):
        raise _unexpected("report", f"{where} without dimensions and metrics")
    day = _day(dimensions.get("stat_time_day"), where)
    campaign_id = dimensions.get("campaign_id")
    name = metrics.get("campaign_name")
    if not isinstance(name, str) or not name.strip() or name.strip() == "-":
        name = campaign_id
    if not isinstance(name, str | int) or isinstance(name, bool):
        raise _unexpected("report", f"{where}: no campaign_name nor campaign_id")
    return ClaimRow(
        day=day,
        campaign=str(name).strip(),
        conversions=_amount(metrics, "complete_payment", where),
        value=_amount(metrics, "total_complete_payment_rate", where),
        spend=_amount(metrics, "spend", where),
    )


def parse_page(
    config: TikTokConfig, status: int, body: bytes, secrets: tuple[str, ...] = ()
) -> Page:
    """One page of the answer to :func:`report_request`: a :class:`ClaimRow` per row that
    has a conversion, a value or spend (TikTok's all-zero rows are left out)."""
    data = _answer_data(config, "report", status, body, secrets)
    items = data.get("list")
    info = data.get("page_info")
    if not isinstance(items, list) or not isinstance(info, dict):
        raise _unexpected("report", "no data.list and data.page_info")
    page, total_page = code_of(info.get("page")), code_of(info.get("total_page"))
    if total_page is None:
        number, size = code_of(info.get("total_number")), code_of(info.get("page_size"))
        if number is None or not size:
            raise _unexpected("report", "page_info without total_page")
        total_page = math.ceil(number / size)
    rows = tuple(_row(item, i) for i, item in enumerate(items))
    kept = tuple(r for r in rows if r.conversions or r.value or r.spend)
    return Page(kept, page or 0, total_page)


# --- sending -------------------------------------------------------------------------------


async def _send(
    client: httpx.AsyncClient, config: TikTokConfig, request: ReportRequest, what: str
) -> tuple[int, bytes]:
    return await send(
        client,
        request,
        timeout=config.timeout_seconds,
        label=f"TikTok's {what}",
        url_option="api_url",
    )


async def fetch(
    config: object, client: httpx.AsyncClient, since: datetime.date, until: datetime.date
) -> AccountReport:
    """The claims of the advertiser's days ``since`` .. ``until`` (see the module's doc)."""
    own = own_config("tiktok", config, TikTokConfig)
    chunks = day_chunks(since, until)
    secrets = (_token(own).reveal(),)
    status, body = await _send(client, own, account_request(own), "advertiser/info")
    currency, zone = parse_account(own, status, body, secrets)
    rows: list[ClaimRow] = []
    pages = 0
    for start, end in chunks:
        number = 1
        while True:
            pages += 1
            if pages > MAX_PAGES:
                raise ReportingError(
                    f"TikTok's report kept answering more pages (over {MAX_PAGES})",
                    "fetch fewer days at a time",
                )
            status, body = await _send(
                client, own, report_request(own, start, end, number), "report"
            )
            page = parse_page(own, status, body, secrets)
            rows.extend(page.rows)
            if number >= page.total_page:
                break
            number += 1
    rows.sort(key=lambda r: (r.day, r.campaign))
    return AccountReport(_advertiser(own), currency, zone, COUNTED, tuple(rows))


def _scope(config: object) -> str:
    return str(own_config("tiktok", config, TikTokConfig).advertiser_id)


REPORTING = ReportingSpec(
    fetch=fetch,
    missing=missing,
    counted=COUNTED,
    scope=_scope,
    example={"advertiser_id": "1234567890"},
)
