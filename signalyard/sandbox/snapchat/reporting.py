"""Snap's Marketing API reporting, emulated: what the sandbox's ad account claims.

Three routes, in the Marketing API's shape (``{"request_status": "SUCCESS", "request_id",
...}``), each wanting ``Authorization: Bearer <token>`` (missing or malformed: HTTP 401):

``GET /v1/adaccounts/{ad_account_id}``
    ``adaccounts: [{"sub_request_status": "SUCCESS", "adaccount": {"id", "name", "type",
    "status", "currency", "timezone"}}]``: the account of the sandbox's
    :class:`~signalyard.sandbox.reporting_common.ReportingBook`.

``GET /v1/adaccounts/{ad_account_id}/campaigns``
    ``campaigns: [{"sub_request_status", "campaign": {"id", "name", "ad_account_id",
    "status"}}]``, the book's campaigns, ``limit`` (50-1,000, default 1,000) a page; while
    more remain, ``paging.next_link`` is this URL with a ``cursor``.

``GET /v1/adaccounts/{ad_account_id}/stats``
    ``granularity=DAY`` (required; the sandbox has no TOTAL or HOUR), ``breakdown``
    (``campaign``, optional), ``fields`` (comma-separated: ``spend``, ``impressions``,
    ``swipes``, ``conversion_purchases``, ``conversion_purchases_value``; default ``spend``),
    ``start_time``/``end_time`` (ISO 8601 with an offset, each the start of a day in the
    account's time zone, else Snap's observed "Unsupported Stats Query" refusal; at most
    :data:`MAX_DAYS` days), ``swipe_up_attribution_window`` (``1_DAY``, ``7_DAY``, ``28_DAY``;
    default 28 days, the book's window), ``view_attribution_window`` (accepted; the sandbox has
    no impressions, so views count nothing) and ``action_report_time`` (``conversion`` or
    ``impression``: the latter dates a conversion by its click where the book knows it;
    default ``conversion``). The answer is one ``timeseries_stat`` of the account: with
    ``breakdown=campaign``, ``breakdown_stats.campaign`` lists each campaign with a
    conversion or spend in the range, a ``timeseries`` entry per day (``start_time``,
    ``end_time``, ``stats``); without it, the account's own ``timeseries``. ``spend`` and
    ``conversion_purchases_value`` are micro-currency integers.

A conversion is a kept (not deduplicated), non-test ``PURCHASE`` the sandbox recorded on
``/v3/{asset_id}/events`` whose ``user_data.sc_click_id`` is set; its value is
``custom_data.value`` (0 without one). An ``sc_click_id`` carries no click time: a click
counts within the window only when the book was told its ``clicked_at``.

Refusals are the Marketing API's error body ``{"request_status": "ERROR", "request_id",
"debug_message", "display_message", "error_code"}`` (the codes are the sandbox's, assumed):
401 ``UNAUTHORIZED`` (no, malformed or expired token), 403 ``ACCESS_DENIED`` (an ad account
other than the book's), 400 ``INVALID_PARAMETER`` naming the parameter, 429
``RATE_LIMIT_EXCEEDED``, 500 ``INTERNAL_ERROR``. Faults: ``expired_token``, ``throttle`` and
``server_error`` apply as on the events endpoint (faults scoped to an ``asset_id`` do not);
reporting requests are not logged in ``/_sandbox/requests``.
"""

from __future__ import annotations

import base64
import datetime
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ..digest import token_digest, well_formed_token
from ..reporting_common import Conversion, ReportingBook, SandboxClaim
from . import errors
from .control import ACCOUNT_PATH, CAMPAIGNS_PATH, STATS_PATH
from .errors import error_response
from .recorder import SandboxState

__all__ = [
    "ACCOUNT_PATH",
    "CAMPAIGNS_PATH",
    "FIELDS",
    "MAX_DAYS",
    "STATS_PATH",
    "AdsError",
    "ReportingEndpoint",
    "conversions",
]

FIELDS = ("spend", "impressions", "swipes", "conversion_purchases", "conversion_purchases_value")
SWIPE_WINDOWS = {"1_DAY": 1, "7_DAY": 7, "28_DAY": 28}
VIEW_WINDOWS = ("1_HOUR", "3_HOUR", "6_HOUR", "1_DAY", "7_DAY", "28_DAY")
REPORT_TIMES = ("conversion", "impression")
MAX_DAYS = 31
"""The longest range of one DAY stats request (assumed: the sink asks for at most this)."""
MIN_LIMIT, MAX_LIMIT = 50, 1000
MAX_QUERY = 4096
"""The longest query string read (longer: 400)."""
MAX_VALUE = Decimal("1e12")
_MAX_MICROS = 2**63 - 1
_FAULTS = frozenset({"expired_token", "throttle", "server_error"})
ACCOUNT_NAME = "Sandbox ad account"

UNAUTHORIZED = "UNAUTHORIZED"
ACCESS_DENIED = "ACCESS_DENIED"
INVALID_PARAMETER = "INVALID_PARAMETER"
RATE_LIMITED = "RATE_LIMIT_EXCEEDED"
INTERNAL = "INTERNAL_ERROR"


class AdsError(Exception):
    """A refused Marketing API request: HTTP ``status``, the error code and message."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def invalid(name: str, rule: str) -> AdsError:
    return AdsError(400, INVALID_PARAMETER, f"Invalid parameter {name}: {rule}")


def _json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        headers={"content-type": errors.JSON_TYPE, **(headers or {})},
    )


def _request_id() -> str:
    return uuid.uuid4().hex


def _error(error: AdsError) -> Response:
    body = {
        "request_status": "ERROR",
        "request_id": _request_id(),
        "debug_message": error.message,
        "display_message": "We're sorry, something went wrong with your request.",
        "error_code": error.code,
    }
    return _json(body, error.status, error.headers)


# --- the claims ----------------------------------------------------------------------------


def _value(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return Decimal(0)
    if isinstance(value, str) and len(value) > 40:
        return Decimal(0)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return amount if amount.is_finite() and 0 <= amount <= MAX_VALUE else Decimal(0)


def conversions(state: SandboxState) -> Iterator[Conversion]:
    """The purchases the sandbox recorded that a Snap click can claim (see the module's
    doc)."""
    for rec in state.events(status="accepted", test=False):
        if rec.dedup == "deduplicated" or rec.event_name != "PURCHASE":
            continue
        if rec.event_time is None:
            continue
        event = rec.event
        user = event.get("user_data") if isinstance(event, dict) else None
        click_id = user.get("sc_click_id") if isinstance(user, dict) else None
        if not isinstance(click_id, str) or not click_id:
            continue
        custom = event.get("custom_data")
        value = custom.get("value") if isinstance(custom, dict) else None
        yield Conversion(float(rec.event_time), click_id, None, _value(value))


def _micros(amount: Decimal) -> int:
    return min(int((amount * 10**6).to_integral_value()), _MAX_MICROS)


# --- parameters ----------------------------------------------------------------------------


def _param(request: Request, name: str, *, required: bool = False) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        if required:
            raise invalid(name, "is required")
        return None
    return value


def _one_of(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _param(request, name) or default
    if value not in allowed:
        raise invalid(name, "must be one of " + ", ".join(allowed))
    return value


def _time(request: Request, name: str, zone: ZoneInfo, zone_name: str) -> datetime.date:
    raw = _param(request, name, required=True)
    assert raw is not None
    try:
        if len(raw) > 40:
            raise ValueError(raw)
        moment = datetime.datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            raise ValueError(raw)
        local = moment.astimezone(zone)
        first = datetime.datetime(local.year, local.month, local.day, tzinfo=zone)
        first = first.astimezone(datetime.UTC).astimezone(zone)  # a skipped midnight: 01:00
    except (ValueError, OverflowError):
        raise invalid(name, "must be an ISO 8601 time with an offset") from None
    if local != first:
        raise AdsError(
            400,
            INVALID_PARAMETER,
            "Unsupported Stats Query: Timeseries queries with DAY granularity must have a"
            f" {name.split('_')[0]} time that is the start of day (00:00:00) for the account's"
            f" timezone. This account's timezone is: {zone_name}",
        )
    return local.date()


def _limit(request: Request) -> int:
    raw = _param(request, "limit")
    if raw is None:
        return MAX_LIMIT
    if len(raw) > 6 or not raw.isascii() or not raw.isdigit():
        raise invalid("limit", f"must be a number from {MIN_LIMIT} to {MAX_LIMIT}")
    value = int(raw)
    if not MIN_LIMIT <= value <= MAX_LIMIT:
        raise invalid("limit", f"must be a number from {MIN_LIMIT} to {MAX_LIMIT}")
    return value


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(request: Request) -> int:
    raw = _param(request, "cursor")
    if raw is None:
        return 0
    try:
        if len(raw) > 100:
            raise ValueError(raw)
        text = base64.urlsafe_b64decode(raw.encode("ascii")).decode("ascii")
        digits = text.removeprefix("offset:")
        if not text.startswith("offset:") or not digits.isdigit() or len(digits) > 9:
            raise ValueError(raw)
        return int(digits)
    except (ValueError, UnicodeError):
        raise invalid("cursor", "is not a valid cursor") from None


def _midnight(day: datetime.date, zone: ZoneInfo) -> str:
    start = datetime.datetime(day.year, day.month, day.day, tzinfo=zone)
    return start.isoformat(timespec="milliseconds")


# --- the endpoint --------------------------------------------------------------------------


class ReportingEndpoint:
    """The three reporting routes of one sandbox app, answering for ``book``."""

    def __init__(self, state: SandboxState, clock: Clock, book: ReportingBook) -> None:
        self.state = state
        self.clock = clock
        self.book = book

    async def account(self, request: Request) -> Response:
        return self._answer(request, self._account)

    async def campaigns(self, request: Request) -> Response:
        return self._answer(request, self._campaigns)

    async def stats(self, request: Request) -> Response:
        return self._answer(request, self._stats)

    def _answer(self, request: Request, handle: Callable[[Request], dict[str, Any]]) -> Response:
        try:
            self._check_token(request)
            if len(request.url.query) > MAX_QUERY:
                raise AdsError(400, INVALID_PARAMETER, "The query string is too long")
            if request.path_params["ad_account_id"] != self.book.account_id:
                raise AdsError(
                    403,
                    ACCESS_DENIED,
                    "None of the requested actions [READ_CONTAINER_ENTITY] can be authorized.",
                )
            body = handle(request)
        except AdsError as error:
            return _error(error)
        except errors.SnapError as error:  # the proxy's page of a server_error fault
            return error_response(error)
        return _json({"request_status": "SUCCESS", "request_id": _request_id(), **body})

    def _check_token(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise AdsError(401, UNAUTHORIZED, "Unauthorized: no access token")
        if scheme.lower() != "bearer" or not well_formed_token(token.strip()):
            raise AdsError(401, UNAUTHORIZED, "Unauthorized: the access token is invalid")
        if not len(self.state.faults):
            return
        digest = token_digest(token.strip())
        fault = self.state.faults.first(
            self.clock.now(), lambda f: f.kind in _FAULTS and f.matches(None, digest, ())
        )
        if fault is None:
            return
        if fault.kind == "expired_token":
            raise AdsError(401, UNAUTHORIZED, "Unauthorized: the access token is expired")
        if fault.kind == "throttle":
            raise AdsError(
                429,
                RATE_LIMITED,
                "Too many requests, please retry later",
                {"retry-after": str(fault.retry_after)},
            )
        if fault.page:
            raise errors.proxy_page(fault.status)
        raise AdsError(fault.status, INTERNAL, "Internal server error, please retry later")

    def _account(self, request: Request) -> dict[str, Any]:
        book = self.book.to_json()["account"]
        account = {
            "id": book["id"],
            "name": ACCOUNT_NAME,
            "type": "PARTNER",
            "status": "ACTIVE",
            "currency": book["currency"],
            "timezone": book["time_zone"],
        }
        return {"adaccounts": [{"sub_request_status": "SUCCESS", "adaccount": account}]}

    def _campaigns(self, request: Request) -> dict[str, Any]:
        limit, offset = _limit(request), _offset(request)
        account_id = self.book.account_id
        every = [
            {"id": c["id"], "name": c["name"], "ad_account_id": account_id, "status": "ACTIVE"}
            for c in self.book.to_json()["campaigns"]
        ]
        page = every[offset : offset + limit]
        out: dict[str, Any] = {
            "campaigns": [{"sub_request_status": "SUCCESS", "campaign": c} for c in page]
        }
        after = offset + len(page)
        if after < len(every):
            url = request.url.remove_query_params("cursor").include_query_params(
                cursor=_cursor(after), limit=str(limit)
            )
            out["paging"] = {"next_link": str(url)}
        return out

    def _stats(self, request: Request) -> dict[str, Any]:
        zone_name = self.book.time_zone
        zone = ZoneInfo(zone_name)
        _param(request, "granularity", required=True)
        _one_of(request, "granularity", ("DAY",), "DAY")
        breakdown = _param(request, "breakdown")
        if breakdown not in (None, "campaign"):
            raise invalid("breakdown", "must be campaign in the sandbox")
        raw_fields = _param(request, "fields") or "spend"
        fields = [f.strip() for f in raw_fields.split(",", 50)]
        if len(fields) > len(FIELDS) * 2 or any(f not in FIELDS for f in fields):
            raise invalid("fields", "must be a comma-separated list of " + ", ".join(FIELDS))
        swipe = _one_of(request, "swipe_up_attribution_window", tuple(SWIPE_WINDOWS), "28_DAY")
        _one_of(request, "view_attribution_window", VIEW_WINDOWS, "1_DAY")
        report_time = _one_of(request, "action_report_time", REPORT_TIMES, "conversion")
        start = _time(request, "start_time", zone, zone_name)
        end = _time(request, "end_time", zone, zone_name)
        if end <= start:
            raise invalid("end_time", "must be after start_time")
        if (end - start).days > MAX_DAYS:
            raise invalid("end_time", f"must be at most {MAX_DAYS} days after start_time")
        until = end - datetime.timedelta(days=1)
        claims = self.book.report(
            conversions(self.state),
            start,
            until,
            window_days=SWIPE_WINDOWS[swipe],
            by_click=report_time == "impression",
        )
        days = [start + datetime.timedelta(days=i) for i in range((end - start).days)]
        stat: dict[str, Any] = {
            "id": self.book.account_id,
            "type": "AD_ACCOUNT",
            "granularity": "DAY",
            "start_time": _midnight(start, zone),
            "end_time": _midnight(end, zone),
        }
        if breakdown == "campaign":
            by_campaign: dict[str, list[SandboxClaim]] = {}
            for claim in claims:
                by_campaign.setdefault(claim.campaign_id, []).append(claim)
            stat["breakdown_stats"] = {
                "campaign": [
                    {
                        "id": campaign_id,
                        "type": "CAMPAIGN",
                        "granularity": "DAY",
                        "start_time": stat["start_time"],
                        "end_time": stat["end_time"],
                        "timeseries": _series(days, own, fields, zone),
                    }
                    for campaign_id, own in sorted(by_campaign.items())
                ]
            }
        else:
            stat["timeseries"] = _series(days, claims, fields, zone)
        return {"timeseries_stats": [{"sub_request_status": "SUCCESS", "timeseries_stat": stat}]}


def _series(
    days: list[datetime.date], claims: list[SandboxClaim], fields: list[str], zone: ZoneInfo
) -> list[dict[str, Any]]:
    """One entry per day of ``days``: the sums of ``claims`` of that day (zeros else)."""
    totals: dict[str, list[Any]] = {}
    for claim in claims:
        total = totals.setdefault(claim.day, [0, Decimal(0), Decimal(0)])
        total[0] += claim.conversions
        total[1] += claim.value
        total[2] += claim.spend
    out: list[dict[str, Any]] = []
    for day in days:
        count, value, spend = totals.get(day.isoformat(), [0, Decimal(0), Decimal(0)])
        every = {
            "spend": _micros(spend),
            "impressions": 0,
            "swipes": 0,
            "conversion_purchases": count,
            "conversion_purchases_value": _micros(value),
        }
        out.append(
            {
                "start_time": _midnight(day, zone),
                "end_time": _midnight(day + datetime.timedelta(days=1), zone),
                "stats": {f: every[f] for f in dict.fromkeys(fields)},
            }
        )
    return out
