"""Pinterest API v5 ad account analytics, emulated: what the sandbox's ad account claims.

Three routes, in Pinterest's shape (a 2xx JSON answer, or an HTTP error status with
``{"code", "message"}``; the ``Authorization: Bearer`` token checked as the events endpoint
checks it: missing or malformed 401 code 2):

``GET /v5/ad_accounts/{ad_account_id}``
    The account of the sandbox's :class:`~signalyard.sandbox.reporting_common.ReportingBook`:
    ``{"id", "name", "owner", "country", "currency", "time_zone", "permissions",
    "created_time", "updated_time"}`` (``time_zone`` the book's IANA zone). Another id: 403
    code 29 (an account the token cannot access; code and wording assumed).

``GET /v5/ad_accounts/{ad_account_id}/campaigns``
    The book's campaigns, ``{"items": [{"id", "ad_account_id", "name", "status", ...}],
    "bookmark": ...}``, ``page_size`` 1-250 (default 25), ``bookmark`` the one the previous
    page gave (``null`` on the last page); ``entity_statuses`` (comma-separated ``ACTIVE``,
    ``PAUSED``, ``ARCHIVED``, ``DRAFT``, ``DELETED_DRAFT``) is checked and every sandbox
    campaign is ``ACTIVE``.

``GET /v5/ad_accounts/{ad_account_id}/campaigns/analytics``
    ``start_date``/``end_date`` (``YYYY-MM-DD``, the account's days, at most
    :data:`MAX_DAYS`), ``campaign_ids`` (comma-separated, 1-:data:`MAX_CAMPAIGN_IDS`),
    ``columns`` (comma-separated, of :data:`COLUMNS`), ``granularity`` (``DAY`` or
    ``TOTAL``), ``click_window_days`` (0, 1, 7, 14, 30 or 60; the book's window when absent),
    ``engagement_window_days`` and ``view_window_days`` (checked, not applied: the sandbox
    has no views), ``conversion_report_time`` (``TIME_OF_AD_ACTION``, the default: a
    conversion is dated by its click's day where the book knows it; ``TIME_OF_CONVERSION``:
    by the checkout's day). The answer is a JSON list of rows ``{"CAMPAIGN_ID", "DATE",
    <columns>}`` (``DATE`` with ``DAY`` only), sorted by day, then campaign id; amounts
    ``*_MICRO_DOLLAR`` are integers, millionths of the account's currency; campaign ids the
    book does not know get no row.

A broken parameter gets 400 code 1 naming it (the wording is the sandbox's). The claims are
the book's rule (:mod:`signalyard.sandbox.reporting_common`) applied to the events the
sandbox recorded for the account: processed, not deduplicated, not test events, named
``checkout``, with a ``user_data.click_id`` (the ``epik`` the sink sends); the value is
``custom_data.value`` (0 without one). An ``epik`` carries no click time, so a click counts
within the window only when the book was told its ``clicked_at``.

Faults: ``expired_token`` answers 401, ``throttle`` 429, ``server_error`` its status, as on
the events endpoint (scoped by ``ad_account_id`` and ``token`` alike); ``timeout`` and
``invalid_event`` do not apply here. Reporting requests are not logged in
``/_sandbox/requests``.
"""

from __future__ import annotations

import datetime
import re
import secrets
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
from .errors import PinterestError
from .recorder import SandboxState
from .responses import JSON_TYPE, error_response, pinterest_json

__all__ = [
    "COLUMNS",
    "MAX_CAMPAIGN_IDS",
    "MAX_DAYS",
    "NO_ACCESS",
    "ReportingEndpoint",
    "conversions",
]

MAX_DAYS = 90
"""The longest range of days one analytics request may ask for."""
MAX_CAMPAIGN_IDS = 250
MAX_PAGE_SIZE = 250
DEFAULT_PAGE_SIZE = 25
MAX_PARAM = 20_000
"""The longest query parameter read (250 ids of 64 characters and their commas fit)."""
COLUMNS = (
    "SPEND_IN_MICRO_DOLLAR",
    "SPEND_IN_DOLLAR",
    "TOTAL_CHECKOUT",
    "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR",
)
WINDOWS = ("0", "1", "7", "14", "30", "60")
REPORT_TIMES = ("TIME_OF_AD_ACTION", "TIME_OF_CONVERSION")
STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "DRAFT", "DELETED_DRAFT")
NO_ACCESS = 29
ACCOUNT_NAME = "Sandbox ad account"
CHECKOUT = "checkout"
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_FAULTS = frozenset({"expired_token", "throttle", "server_error"})


def conversions(state: SandboxState, ad_account_id: str) -> list[Conversion]:
    """The checkouts the sandbox recorded for ``ad_account_id`` that a Pinterest click can
    claim (see the module's doc), oldest first."""
    out: list[Conversion] = []
    for rec in reversed(state.events(ad_account_id=ad_account_id, test=False)):
        if rec.dedup == "deduplicated" or rec.event_name != CHECKOUT or not rec.accepted:
            continue
        if rec.event_time is None:
            continue
        event = rec.event
        if not isinstance(event, dict):
            continue
        user = event.get("user_data")
        click_id = user.get("click_id") if isinstance(user, dict) else None
        if not isinstance(click_id, str) or not click_id:
            continue
        custom = event.get("custom_data")
        value = custom.get("value") if isinstance(custom, dict) else None
        out.append(Conversion(float(rec.event_time), click_id, None, _value(value)))
    return out


def _value(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return Decimal(0)
    text = str(value)
    if len(text) > 40:
        return Decimal(0)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return Decimal(0)
    return amount if amount.is_finite() and 0 <= amount <= Decimal("1e12") else Decimal(0)


def no_access(ad_account_id: str) -> PinterestError:
    """Pinterest's 403 for an ad account the token cannot read (code and wording assumed)."""
    return PinterestError(
        403,
        NO_ACCESS,
        f"You are not permitted to access that resource: ad account {ad_account_id[:40]}.",
    )


def _param(request: Request, name: str, *, required: bool) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        if required:
            raise errors.invalid(f"{name} is required")
        return None
    if len(value) > MAX_PARAM:
        raise errors.invalid(f"{name} is too long")
    return value


def _one_of(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _param(request, name, required=False)
    if value is None:
        return default
    if value not in allowed:
        raise errors.invalid(f"{name} must be one of: {', '.join(allowed)}")
    return value


def _date(request: Request, name: str) -> datetime.date:
    raw = _param(request, name, required=True)
    assert raw is not None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise errors.invalid(f"{name} must be a date YYYY-MM-DD") from None


def _list(request: Request, name: str, *, most: int) -> list[str]:
    raw = _param(request, name, required=True)
    assert raw is not None
    items = raw.split(",")
    if len(items) > most:
        raise errors.invalid(f"{name} takes at most {most} values")
    if any(not item for item in items):
        raise errors.invalid(f"{name} has an empty value")
    return items


def _page_size(request: Request) -> int:
    raw = _param(request, "page_size", required=False)
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if len(raw) > 4 or not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise errors.invalid(f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def _offset(request: Request, total: int) -> int:
    raw = _param(request, "bookmark", required=False)
    if raw is None:
        return 0
    number = raw.removeprefix("sandbox-")
    if (
        not raw.startswith("sandbox-")
        or len(number) > 7
        or not number.isascii()
        or not number.isdigit()
        or not 0 < int(number) < total
    ):
        raise errors.invalid("bookmark is not one this API gave")
    return int(number)


class ReportingEndpoint:
    """The three reporting routes of one sandbox app, answering for ``book``."""

    def __init__(self, state: SandboxState, clock: Clock, book: ReportingBook) -> None:
        self.state = state
        self.clock = clock
        self.book = book

    async def ad_account(self, request: Request) -> Response:
        return await self._answer(request, self._ad_account)

    async def campaigns(self, request: Request) -> Response:
        return await self._answer(request, self._campaigns)

    async def analytics(self, request: Request) -> Response:
        return await self._answer(request, self._analytics)

    async def _answer(self, request: Request, handle: Callable[[Request, str], Any]) -> Response:
        request_id = secrets.token_hex(8)
        try:
            account = self._check(request)
            body = handle(request, account)
        except PinterestError as error:
            return error_response(error, request_id)
        if isinstance(body, dict):
            return pinterest_json(body, request_id=request_id)
        headers = {"content-type": JSON_TYPE, "x-request-id": request_id}
        return Response(orjson.dumps(body), status_code=200, headers=headers)

    def _check(self, request: Request) -> str:
        """The token (401), the faults, the ad account (404 not digits, 403 not the book's)."""
        value = request.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if not well_formed_token(token):
            raise errors.unauthenticated()
        account = str(request.path_params.get("ad_account_id", ""))
        if len(account) > 32 or not account.isascii() or not account.isdigit():
            raise errors.not_found(request.url.path[:200])
        if len(self.state.faults):
            digest = token_digest(token)
            fault = self.state.faults.first(
                self.clock.now(), lambda f: f.kind in _FAULTS and f.matches(account, digest, ())
            )
            if fault is not None:
                if fault.kind == "expired_token":
                    raise errors.unauthenticated()
                if fault.kind == "throttle":
                    raise errors.throttled(fault.retry_after)
                raise errors.server_error(fault.status)
        if account != self.book.account_id:
            raise no_access(account)
        return account

    def _ad_account(self, request: Request, account: str) -> dict[str, Any]:
        shown = self.book.to_json()["account"]
        created = int(self.clock.now()) - 365 * 86400
        return {
            "id": account,
            "name": ACCOUNT_NAME,
            "owner": {"id": "1", "username": "sandbox"},
            "country": "US",
            "currency": shown["currency"],
            "time_zone": shown["time_zone"],
            "permissions": ["OWNER"],
            "created_time": created,
            "updated_time": created,
        }

    def _campaigns(self, request: Request, account: str) -> dict[str, Any]:
        raw = _param(request, "entity_statuses", required=False)
        if raw is not None:
            for status in raw.split(",")[:10]:
                if status not in STATUSES:
                    raise errors.invalid(f"entity_statuses must be of: {', '.join(STATUSES)}")
        size = _page_size(request)
        listed = self.book.to_json()["campaigns"]
        start = _offset(request, len(listed))
        items = [
            {
                "id": c["id"],
                "ad_account_id": account,
                "name": c["name"],
                "status": "ACTIVE",
                "objective_type": "CONSIDERATION",
            }
            for c in listed[start : start + size]
        ]
        more = start + size < len(listed)
        return {"items": items, "bookmark": f"sandbox-{start + size}" if more else None}

    def _analytics(self, request: Request, account: str) -> list[dict[str, Any]]:
        start, end = _date(request, "start_date"), _date(request, "end_date")
        if end < start:
            raise errors.invalid("end_date must not be before start_date")
        if (end - start).days + 1 > MAX_DAYS:
            raise errors.invalid(f"the date range can be at most {MAX_DAYS} days")
        campaign_ids = _list(request, "campaign_ids", most=MAX_CAMPAIGN_IDS)
        for campaign_id in campaign_ids:
            if not _ID.fullmatch(campaign_id):
                raise errors.invalid("campaign_ids must be campaign ids")
        columns = _list(request, "columns", most=len(COLUMNS) * 4)
        for column in columns:
            if column not in COLUMNS:
                raise errors.invalid(f"columns: {column[:40]!r} is not one of {', '.join(COLUMNS)}")
        granularity = _param(request, "granularity", required=True)
        if granularity not in ("DAY", "TOTAL"):
            raise errors.invalid("granularity must be DAY or TOTAL in the sandbox")
        click = _one_of(request, "click_window_days", WINDOWS, "")
        _one_of(request, "engagement_window_days", WINDOWS, "30")
        _one_of(request, "view_window_days", WINDOWS, "1")
        report_time = _one_of(request, "conversion_report_time", REPORT_TIMES, REPORT_TIMES[0])
        claims = self.book.report(
            conversions(self.state, account),
            start,
            end,
            window_days=int(click) if click else None,
            by_click=report_time == "TIME_OF_AD_ACTION",
        )
        wanted = set(campaign_ids)
        return _rows([c for c in claims if c.campaign_id in wanted], columns, granularity)


def _micros(amount: Decimal) -> int:
    """``amount`` in micro-units, at most the largest 64-bit integer (JSON's)."""
    return min(int((amount * 10**6).to_integral_value()), 2**63 - 1)


def _rows(claims: list[SandboxClaim], columns: list[str], granularity: str) -> list[dict[str, Any]]:
    """The answer's rows: ``claims`` by day and campaign (``DAY``) or by campaign
    (``TOTAL``), with ``columns``."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for claim in claims:
        key = (claim.day if granularity == "DAY" else "", claim.campaign_id)
        total = groups.setdefault(key, [0, Decimal(0), Decimal(0)])
        total[0] += claim.conversions
        total[1] += claim.value
        total[2] += claim.spend
    out: list[dict[str, Any]] = []
    for (day, campaign_id), (count, value, spend) in sorted(groups.items()):
        every: dict[str, Any] = {
            "SPEND_IN_MICRO_DOLLAR": _micros(spend),
            "SPEND_IN_DOLLAR": float(spend),
            "TOTAL_CHECKOUT": count,
            "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR": _micros(value),
        }
        row: dict[str, Any] = {"CAMPAIGN_ID": campaign_id}
        if day:
            row["DATE"] = day
        row.update({c: every[c] for c in columns})
        out.append(row)
    return out
