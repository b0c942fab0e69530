"""TikTok API for Business reporting, emulated: what the sandbox's advertiser claims.

Two routes, in TikTok's shape (HTTP 200, ``{"code", "message", "request_id", "data"}``, the
``Access-Token`` header checked as the track endpoint checks it: missing 40104, malformed
40105):

``GET /open_api/v1.3/advertiser/info/``
    ``advertiser_ids`` (a JSON list, required) and ``fields`` (a JSON list, optional:
    ``advertiser_id``, ``name``, ``currency``, ``timezone``, ``display_timezone``,
    ``status``; all by default). ``data.list`` holds the account of the sandbox's
    :class:`~signalyard.sandbox.reporting_common.ReportingBook`; its ``timezone`` and
    ``display_timezone`` are both the book's IANA zone (real TikTok gives a fixed offset such
    as ``Etc/GMT-8`` in ``timezone``). An id other than the book's: 40001.

``GET /open_api/v1.3/report/integrated/get/``
    ``advertiser_id`` (the book's, else 40001), ``report_type=BASIC``, ``service_type``
    (``AUCTION``, optional), ``data_level`` (``AUCTION_CAMPAIGN`` or
    ``AUCTION_ADVERTISER``), ``dimensions`` (JSON list: ``campaign_id`` or ``advertiser_id``
    as the level asks, and optionally ``stat_time_day``), ``metrics`` (JSON list of
    ``campaign_name``, ``spend``, ``complete_payment``, ``total_complete_payment_rate``;
    ``["spend"]`` by default), ``start_date``/``end_date`` (``YYYY-MM-DD``, the account's
    days, at most :data:`MAX_DAYS` with ``stat_time_day``), ``page`` (from 1) and
    ``page_size`` (1-1,000, default 10). ``data`` is ``{"list": [{"dimensions": {...},
    "metrics": {...}}], "page_info": {"page", "page_size", "total_number",
    "total_page"}}``; metrics are strings (``"12.50"``, ``"3"``), ``stat_time_day`` is
    ``"2026-12-01 00:00:00"``. Rows are sorted by day, then campaign id.

A broken parameter gets 40002 naming it (``start_date: Missing data for required field``;
the wording is the sandbox's, of the family TikTok uses). The claims are the book's rule
(:mod:`signalyard.sandbox.reporting_common`) applied to the events the sandbox recorded:
accepted, not deduplicated, not test events, named ``Purchase`` or ``CompletePayment`` (the
sink sends Meta's Purchase as ``Purchase``; TikTok counts both as Complete Payment), with a
``user.ttclid``; the value is ``properties.value`` (0 without one). A ``ttclid`` carries no
click time, so a click counts within the window only when the book was told its
``clicked_at``. Unlike TikTok, which dates a conversion by the day of the ad interaction,
the sandbox dates it by the event's time.

Faults: ``expired_token`` answers 40001, ``throttle`` 40100, ``server_error`` the proxy's
page (or 50000 with ``json``), as on the track endpoint; other kinds and faults scoped to an
``event_source_id`` do not apply here. Reporting requests are not logged in
``/_sandbox/requests``.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ..digest import token_digest, well_formed_token
from ..reporting_common import Conversion, ReportingBook, SandboxClaim
from . import errors
from .endpoint import TOKEN_HEADER
from .errors import TikTokError, new_request_id
from .recorder import SandboxState
from .responses import error_response, tiktok_json

__all__ = [
    "ACCOUNT_FIELDS",
    "MAX_DAYS",
    "METRICS",
    "PURCHASE_EVENTS",
    "ReportingEndpoint",
    "conversions",
]

MAX_DAYS = 30
"""The longest range of days a day-level (``stat_time_day``) report may ask for."""
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 10
MAX_ADVERTISERS = 100
PURCHASE_EVENTS = frozenset({"Purchase", "CompletePayment"})
METRICS = ("campaign_name", "spend", "complete_payment", "total_complete_payment_rate")
ACCOUNT_FIELDS = ("advertiser_id", "name", "currency", "timezone", "display_timezone", "status")
ACCOUNT_NAME = "Sandbox advertiser"
_LEVELS = {"AUCTION_CAMPAIGN": "campaign_id", "AUCTION_ADVERTISER": "advertiser_id"}
_FAULTS = frozenset({"expired_token", "throttle", "server_error"})
REQUIRED = "Missing data for required field"


def conversions(state: SandboxState) -> list[Conversion]:
    """The purchases the sandbox recorded that a TikTok click can claim (see the module's
    doc), oldest first."""
    out: list[Conversion] = []
    for rec in reversed(state.events(status="accepted", test=False)):
        if rec.dedup == "deduplicated" or rec.event_name not in PURCHASE_EVENTS:
            continue
        if rec.event_time is None:
            continue
        event = rec.event
        user = event.get("user") if isinstance(event, dict) else None
        click_id = user.get("ttclid") if isinstance(user, dict) else None
        if not isinstance(click_id, str) or not click_id:
            continue
        props = event.get("properties")
        value = props.get("value") if isinstance(props, dict) else None
        out.append(Conversion(float(rec.event_time), click_id, None, _value(value)))
    return out


def _value(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Decimal(0)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return amount if amount.is_finite() else Decimal(0)


def no_permission(advertiser_id: str) -> TikTokError:
    """TikTok's 40001 for an advertiser the token cannot operate (wording assumed, of the
    family of the track endpoint's observed one)."""
    return TikTokError(
        errors.NO_PERMISSION,
        f"No permission to operate advertiser_id: {advertiser_id}. "
        "You must be an admin or operator of this advertiser account.",
    )


def _param(request: Request, name: str, *, required: bool) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        if required:
            raise errors.invalid(name, REQUIRED)
        return None
    return value


def _json_list(request: Request, name: str, *, required: bool) -> list[str] | None:
    raw = _param(request, name, required=required)
    if raw is None:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.invalid(name, "Not a valid list") from None
    if not isinstance(value, list) or not value:
        raise errors.invalid(name, "Not a valid list")
    out: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item:
            raise errors.invalid(f"{name}.{i}", "Not a valid string")
        out.append(item)
    return out


def _integer(request: Request, name: str, default: int, most: int) -> int:
    raw = _param(request, name, required=False)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise errors.invalid(name, "Not a valid integer")
    value = int(raw)
    if not 1 <= value <= most:
        rule = f"Must be greater than or equal to 1 and less than or equal to {most}"
        raise errors.invalid(name, rule)
    return value


def _date(request: Request, name: str) -> datetime.date:
    raw = _param(request, name, required=True)
    assert raw is not None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise errors.invalid(name, "Not a valid date, use YYYY-MM-DD") from None


def _one_of(request: Request, name: str, allowed: tuple[str, ...], *, required: bool) -> str | None:
    value = _param(request, name, required=required)
    if value is not None and value not in allowed:
        raise errors.invalid(name, "Must be one of: " + ", ".join(allowed))
    return value


class ReportingEndpoint:
    """The two reporting routes of one sandbox app, answering for ``book``."""

    def __init__(self, state: SandboxState, clock: Clock, book: ReportingBook) -> None:
        self.state = state
        self.clock = clock
        self.book = book

    async def advertiser_info(self, request: Request) -> Response:
        return await self._answer(request, self._advertiser_info)

    async def report(self, request: Request) -> Response:
        return await self._answer(request, self._report)

    async def _answer(
        self, request: Request, handle: Callable[[Request], dict[str, Any]]
    ) -> Response:
        now = self.clock.now()
        request_id = new_request_id(now)
        try:
            self._check_token(request, now)
            data = handle(request)
        except TikTokError as error:
            return error_response(error, request_id)
        return tiktok_json(errors.OK, "OK", request_id=request_id, data=data)

    def _check_token(self, request: Request, now: float) -> None:
        token = request.headers.get(TOKEN_HEADER, "")
        if not token:
            raise errors.missing_token()
        if not well_formed_token(token):
            raise errors.malformed_token()
        if not len(self.state.faults):
            return
        digest = token_digest(token)
        fault = self.state.faults.first(
            now, lambda f: f.kind in _FAULTS and f.matches(None, digest, ())
        )
        if fault is None:
            return
        if fault.kind == "expired_token":
            advertiser = request.query_params.get("advertiser_id") or self.book.account_id
            raise no_permission(advertiser)
        if fault.kind == "throttle":
            raise errors.throttled(fault.status)
        if fault.json:
            raise errors.internal_error(fault.status)
        raise errors.proxy_page(fault.status)

    def _own(self, advertiser_id: str) -> None:
        if advertiser_id != self.book.account_id:
            raise no_permission(advertiser_id)

    def _advertiser_info(self, request: Request) -> dict[str, Any]:
        ids = _json_list(request, "advertiser_ids", required=True)
        assert ids is not None
        if len(ids) > MAX_ADVERTISERS:
            raise errors.invalid(
                "advertiser_ids", f"Length must be between 1 and {MAX_ADVERTISERS}"
            )
        fields = _json_list(request, "fields", required=False) or list(ACCOUNT_FIELDS)
        for name in fields:
            if name not in ACCOUNT_FIELDS:
                raise errors.invalid("fields", f"Invalid field: {name}")
        for advertiser_id in ids:
            self._own(advertiser_id)
        account = self.book.to_json()["account"]
        full = {
            "advertiser_id": account["id"],
            "name": ACCOUNT_NAME,
            "currency": account["currency"],
            "timezone": account["time_zone"],
            "display_timezone": account["time_zone"],
            "status": "STATUS_ENABLE",
        }
        row = {k: v for k, v in full.items() if k in fields or k == "advertiser_id"}
        return {"list": [row]}

    def _report(self, request: Request) -> dict[str, Any]:
        advertiser_id = _param(request, "advertiser_id", required=True)
        assert advertiser_id is not None
        _one_of(request, "report_type", ("BASIC",), required=True)
        _one_of(request, "service_type", ("AUCTION",), required=False)
        level = _one_of(request, "data_level", tuple(_LEVELS), required=True)
        assert level is not None
        id_dimension = _LEVELS[level]
        dimensions = _json_list(request, "dimensions", required=True)
        assert dimensions is not None
        allowed = (id_dimension, "stat_time_day")
        for name in dimensions:
            if name not in allowed:
                raise errors.invalid("dimensions", f"Invalid dimension for {level}: {name}")
        if id_dimension not in dimensions:
            raise errors.invalid("dimensions", f"{level} needs the dimension {id_dimension}")
        metrics = _json_list(request, "metrics", required=False) or ["spend"]
        for name in metrics:
            if name not in METRICS or (name == "campaign_name" and id_dimension != "campaign_id"):
                raise errors.invalid("metrics", f"Invalid metric for {level}: {name}")
        lifetime = request.query_params.get("query_lifetime", "false").lower()
        if lifetime not in ("false", "0", ""):
            raise errors.invalid("query_lifetime", "Not supported by the sandbox")
        start, end = _date(request, "start_date"), _date(request, "end_date")
        if end < start:
            raise errors.invalid("end_date", "Must be later than or equal to start_date")
        if "stat_time_day" in dimensions and (end - start).days + 1 > MAX_DAYS:
            raise errors.invalid(
                "end_date",
                f"The time span between start_date and end_date can be up to {MAX_DAYS} days",
            )
        page = _integer(request, "page", 1, 10**6)
        size = _integer(request, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        self._own(advertiser_id)
        claims = self.book.report(conversions(self.state), start, end)
        rows = _rows(claims, dimensions, metrics, advertiser_id)
        total = len(rows)
        return {
            "list": rows[(page - 1) * size : page * size],
            "page_info": {
                "page": page,
                "page_size": size,
                "total_number": total,
                "total_page": math.ceil(total / size),
            },
        }


def _rows(
    claims: list[SandboxClaim], dimensions: list[str], metrics: list[str], advertiser_id: str
) -> list[dict[str, Any]]:
    """The report's rows: ``claims`` added up by ``dimensions``, in order."""
    groups: dict[tuple[str, ...], list[Any]] = {}
    names: dict[tuple[str, ...], str] = {}
    order: dict[tuple[str, ...], tuple[str, str]] = {}
    for claim in claims:
        values = {
            "campaign_id": claim.campaign_id,
            "advertiser_id": advertiser_id,
            "stat_time_day": f"{claim.day} 00:00:00",
        }
        key = tuple(values[d] for d in dimensions)
        total = groups.setdefault(key, [0, Decimal(0), Decimal(0)])
        total[0] += claim.conversions
        total[1] += claim.value
        total[2] += claim.spend
        names[key] = claim.campaign_name
        order[key] = (
            values["stat_time_day"] if "stat_time_day" in dimensions else "",
            claim.campaign_id if "campaign_id" in dimensions else "",
        )
    out: list[dict[str, Any]] = []
    for key in sorted(groups, key=lambda k: order[k]):
        count, value, spend = groups[key]
        every = {
            "campaign_name": names[key],
            "spend": str(spend),
            "complete_payment": str(count),
            "total_complete_payment_rate": str(value),
        }
        out.append(
            {
                "dimensions": dict(zip(dimensions, key, strict=True)),
                "metrics": {m: every[m] for m in metrics},
            }
        )
    return out
