"""Reddit Ads API v3 reporting, emulated: what the sandbox's ad account claims.

Three routes, in the Ads API v3 shape (``{"data": ...}``, ``pagination.next_url``), the
``Authorization: Bearer`` header checked as the conversions endpoint checks it (none: 401
``Authorization Required``; malformed: 401 ``UNAUTHORIZED``):

``GET /api/v3/ad_accounts/{ad_account_id}``
    ``data``: ``id``, ``name``, ``currency``, ``time_zone_id`` (the book's IANA zone),
    ``click_attribution_window_days`` (the book's window).

``GET /api/v3/ad_accounts/{ad_account_id}/campaigns``
    ``data``: the book's campaigns (``id``, ``name``, ``ad_account_id``,
    ``configured_status``), by pages.

``POST /api/v3/ad_accounts/{ad_account_id}/reports``
    body ``{"data": {"starts_at", "ends_at", "time_zone_id"?, "breakdowns"?, "fields"}}``
    (at most :data:`MAX_REPORT_BODY` bytes): ``starts_at``/``ends_at`` are
    ``YYYY-MM-DDT00:00:00Z``, midnights (the sandbox reports whole days; Reddit takes any
    hour), the end exclusive, at most :data:`MAX_DAYS` days, read in the account's time
    zone (``time_zone_id``, when given, must be it); ``breakdowns`` of ``DATE``,
    ``CAMPAIGN_ID``, ``AD_ACCOUNT_ID``; ``fields`` of :data:`FIELDS`. ``data.metrics`` holds
    one row per breakdown value (keys in lower case: ``date``, ``campaign_id``, ``spend``
    in micros, ``conversion_purchase_clicks``, ``conversion_purchase_views`` (always 0:
    the sandbox knows no impressions), ``conversion_purchase_total_value`` in hundredths of
    the currency), sorted by day, then campaign id.

Pages (campaigns and reports): ``page.size`` (1 to :data:`MAX_PAGE_SIZE`, default
:data:`DEFAULT_PAGE_SIZE`) and ``page.token`` (the sandbox's tokens are offsets); an answer
with more has ``pagination.next_url``, the request's URL with the next ``page.token``.

Refusals (the shapes of :mod:`.errors`; wording assumed): an ad account other than the
book's 403 ``{"error": {"code": 403, "message": ...}}``; a bad parameter or body 400
``{"error": {"code": 400, "message": ...}}`` naming it (an unknown field of ``data``: the
decoder's ``JSON error "unknown field"``).

The claims are the book's rule (:mod:`signalyard.sandbox.reporting_common`) applied to the
events the sandbox recorded for the ad account (sent to its conversions endpoint): accepted,
not deduplicated, not test events, of ``tracking_type`` ``Purchase`` (a ``Custom`` event
named Purchase is not one), with a ``click_id`` (the sink's ``rdt_cid``); the value is
``event_metadata.value_decimal`` (0 without one, or one that is not a number from 0 to
10^12). A Reddit click id carries no click time, so a click counts within the window only
when the book was told its ``clicked_at``. Reddit's default click window is 28 days.

Faults: ``expired_token`` answers 401 ``UNAUTHORIZED``, ``throttle`` 429 with
``Retry-After``, ``server_error`` its status, as on the conversions endpoint (scoped by
token and ad account; ``timeout`` and ``invalid_event`` do not apply here). Reporting
requests are not logged in ``/_sandbox/requests``.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from ..bodies import own_reader
from ..digest import token_digest, well_formed_token
from ..reporting_common import Conversion, ReportingBook, SandboxClaim
from . import errors
from .body import read_body
from .errors import RedditError
from .recorder import SandboxState
from .responses import error_response, reddit_json

__all__ = [
    "ACCOUNT_PATH",
    "BREAKDOWNS",
    "CAMPAIGNS_PATH",
    "DEFAULT_PAGE_SIZE",
    "FIELDS",
    "MAX_DAYS",
    "MAX_PAGE_SIZE",
    "MAX_REPORT_BODY",
    "REPORTS_PATH",
    "ReportingEndpoint",
    "conversions",
]

ACCOUNT_PATH = "/api/v3/ad_accounts/{ad_account_id}"
CAMPAIGNS_PATH = ACCOUNT_PATH + "/campaigns"
REPORTS_PATH = ACCOUNT_PATH + "/reports"
MAX_REPORT_BODY = 64 * 1024
MAX_DAYS = 400
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_TOKEN_DIGITS = 9
ACCOUNT_NAME = "Sandbox ad account"
BREAKDOWNS = ("DATE", "CAMPAIGN_ID", "AD_ACCOUNT_ID")
FIELDS = (
    "SPEND",
    "CONVERSION_PURCHASE_CLICKS",
    "CONVERSION_PURCHASE_VIEWS",
    "CONVERSION_PURCHASE_TOTAL_VALUE",
)
_DATA_KEYS = frozenset({"starts_at", "ends_at", "time_zone_id", "breakdowns", "fields", "filter"})
_FAULTS = frozenset({"expired_token", "throttle", "server_error"})
_MAX_VALUE = Decimal("1e12")
_MAX_INT = 2**63 - 1
_MICROS = 10**6
_CENTS = 100


def conversions(state: SandboxState, ad_account_id: str) -> list[Conversion]:
    """The purchases the sandbox recorded for ``ad_account_id`` that a Reddit click can
    claim (see the module's doc), oldest first."""
    out: list[Conversion] = []
    for rec in reversed(state.events(ad_account_id=ad_account_id, test=False)):
        if rec.status != "accepted" or rec.dedup == "deduplicated" or rec.event_at is None:
            continue
        event = rec.event
        if not isinstance(event, dict):
            continue
        kind = event.get("event_type")
        if not isinstance(kind, dict) or kind.get("tracking_type") != "Purchase":
            continue
        click_id = event.get("click_id")
        if not isinstance(click_id, str) or not click_id:
            continue
        metadata = event.get("event_metadata")
        value = metadata.get("value_decimal") if isinstance(metadata, dict) else None
        out.append(Conversion(float(rec.event_at), click_id, None, _value(value)))
    return out


def _value(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Decimal(0)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    if not amount.is_finite() or not 0 <= amount <= _MAX_VALUE:
        return Decimal(0)
    return amount


def _units(amount: Decimal, units: int) -> int:
    """``amount`` in whole ``units`` (micros, cents), bounded for JSON."""
    whole = (amount * units).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return min(int(whole), _MAX_INT)


def bad(message: str) -> RedditError:
    """A 400 for a bad parameter (wording the sandbox's)."""
    return errors.error(400, message)


def no_access(ad_account_id: str) -> RedditError:
    """An ad account the token may not read (status and wording assumed)."""
    return errors.error(403, f"You do not have access to ad account {ad_account_id[:100]}")


def _integer(request: Request, name: str, default: int, least: int, most: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > MAX_TOKEN_DIGITS:
        raise bad(f"invalid {name}: {raw[:40]!r}")
    value = int(raw)
    if not least <= value <= most:
        raise bad(f"invalid {name}: must be between {least} and {most}")
    return value


def _page(request: Request, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Any]:
    """One page of ``rows`` and its ``pagination``."""
    size = _integer(request, "page.size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    start = _integer(request, "page.token", 0, 0, 10**MAX_TOKEN_DIGITS - 1)
    end = start + size
    next_url = None
    if end < len(rows):
        next_url = str(request.url.include_query_params(**{"page.token": str(end)}))
    return rows[start:end], {"next_url": next_url}


def _instant(data: dict[str, Any], name: str) -> datetime.date:
    """A midnight ``YYYY-MM-DDT00:00:00Z`` of ``data``, as its day."""
    value = data.get(name)
    if value is None:
        raise bad(f"{name} is required")
    if not isinstance(value, str) or len(value) != 20 or not value.endswith("Z"):
        raise bad(f"invalid {name}: want an RFC 3339 time such as 2026-12-01T00:00:00Z")
    try:
        when = datetime.datetime.fromisoformat(value[:19])
    except ValueError:
        raise bad(f"invalid {name}: want an RFC 3339 time such as 2026-12-01T00:00:00Z") from None
    if when.time() != datetime.time(0, 0):
        raise bad(f"invalid {name}: the sandbox reports whole days (T00:00:00Z)")
    return when.date()


def _names(
    data: dict[str, Any], name: str, allowed: tuple[str, ...], *, required: bool
) -> list[str]:
    value = data.get(name)
    if value is None:
        if required:
            raise bad(f"{name} is required")
        return []
    if not isinstance(value, list) or len(value) > len(allowed):
        raise bad(f"invalid {name}: want a list of {', '.join(allowed)}")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or item.upper() not in allowed:
            raise bad(f"invalid {name}: {str(item)[:40]!r} is not one of {', '.join(allowed)}")
        if item.upper() in out:
            raise bad(f"invalid {name}: {item.upper()} is given twice")
        out.append(item.upper())
    if required and not out:
        raise bad(f"{name} is required")
    return out


class ReportingEndpoint:
    """The three reporting routes of one sandbox app, answering for ``book``."""

    def __init__(
        self,
        state: SandboxState,
        clock: Clock,
        book: ReportingBook,
        bodies: BodyReader | None = None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.book = book
        self.bodies = bodies or own_reader(MAX_REPORT_BODY)

    async def account(self, request: Request) -> Response:
        return await self._answer(request, self._account)

    async def campaigns(self, request: Request) -> Response:
        return await self._answer(request, self._campaigns)

    async def reports(self, request: Request) -> Response:
        return await self._answer(request, self._reports)

    async def _answer(
        self, request: Request, handle: Callable[[Request, str], Awaitable[dict[str, Any]]]
    ) -> Response:
        request_id = secrets.token_hex(16)
        account = str(request.path_params["ad_account_id"])
        try:
            self._check_token(request, account, self.clock.now())
            body = await handle(request, account)
        except RedditError as error:
            return error_response(error, request_id)
        return reddit_json(body, request_id=request_id)

    def _check_token(self, request: Request, account: str, now: float) -> None:
        header = request.headers.get("authorization", "")
        if not header.strip():
            raise errors.missing_token()
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not well_formed_token(token):
            raise errors.unauthorized()
        if not len(self.state.faults):
            return
        digest = token_digest(token)
        fault = self.state.faults.first(
            now, lambda f: f.kind in _FAULTS and f.matches(account, digest, ())
        )
        if fault is None:
            return
        if fault.kind == "expired_token":
            raise errors.unauthorized()
        if fault.kind == "throttle":
            raise errors.throttled(fault.retry_after)
        raise errors.server_error(fault.status)

    def _own(self, account: str) -> None:
        if account != self.book.account_id:
            raise no_access(account)

    async def _account(self, request: Request, account: str) -> dict[str, Any]:
        self._own(account)
        shown = self.book.to_json()
        return {
            "data": {
                "id": shown["account"]["id"],
                "name": ACCOUNT_NAME,
                "currency": shown["account"]["currency"],
                "time_zone_id": shown["account"]["time_zone"],
                "click_attribution_window_days": shown["window_days"],
            }
        }

    async def _campaigns(self, request: Request, account: str) -> dict[str, Any]:
        self._own(account)
        rows = [
            {
                "id": c["id"],
                "name": c["name"],
                "ad_account_id": account,
                "configured_status": "ACTIVE",
            }
            for c in self.book.to_json()["campaigns"]
        ]
        page, pagination = _page(request, rows)
        return {"data": page, "pagination": pagination}

    async def _reports(self, request: Request, account: str) -> dict[str, Any]:
        async with read_body(self.bodies, request, MAX_REPORT_BODY) as raw:
            try:
                body = orjson.loads(raw) if raw.strip() else None
            except orjson.JSONDecodeError:
                raise errors.error(400, "JSON error: the request body is not valid JSON") from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise bad('the body must be {"data": {...}}')
        for key in data:
            if key not in _DATA_KEYS:
                raise errors.unknown_field(str(key)[:100])
        if data.get("filter"):
            raise bad("filter is not supported by the sandbox")
        since, end = _instant(data, "starts_at"), _instant(data, "ends_at")
        if end <= since:
            raise bad("invalid ends_at: must be after starts_at")
        if (end - since).days > MAX_DAYS:
            raise bad(f"invalid ends_at: at most {MAX_DAYS} days after starts_at")
        zone = data.get("time_zone_id")
        if zone is not None and zone != self.book.time_zone:
            if not isinstance(zone, str) or not _is_zone(zone):
                raise bad("invalid time_zone_id: want an IANA time zone such as Europe/Paris")
            raise bad(
                f"invalid time_zone_id: the sandbox reports in the account's"
                f" ({self.book.time_zone}) only"
            )
        breakdowns = _names(data, "breakdowns", BREAKDOWNS, required=False)
        fields = _names(data, "fields", FIELDS, required=True)
        self._own(account)
        until = end - datetime.timedelta(days=1)
        claims = self.book.report(conversions(self.state, account), since, until)
        rows, pagination = _page(request, _rows(claims, breakdowns, fields, account))
        return {"data": {"metrics": rows}, "pagination": pagination}


def _is_zone(value: str) -> bool:
    if len(value) > 64:
        return False
    try:
        ZoneInfo(value)
    except (KeyError, ValueError, OSError):
        return False
    return True


def _rows(
    claims: list[SandboxClaim], breakdowns: list[str], fields: list[str], account: str
) -> list[dict[str, Any]]:
    """The report's rows: ``claims`` added up by ``breakdowns``, sorted by day, then
    campaign id."""
    groups: dict[tuple[str, ...], list[Any]] = {}
    for claim in claims:
        values = {"DATE": claim.day, "CAMPAIGN_ID": claim.campaign_id, "AD_ACCOUNT_ID": account}
        key = tuple(values[b] for b in breakdowns)
        total = groups.setdefault(key, [0, Decimal(0), Decimal(0), claim.day, claim.campaign_id])
        total[0] += claim.conversions
        total[1] += claim.value
        total[2] += claim.spend
    out: list[dict[str, Any]] = []
    for key in sorted(groups, key=lambda k: (groups[k][3], groups[k][4])):
        count, value, spend, _, _ = groups[key]
        every = {
            "SPEND": _units(spend, _MICROS),
            "CONVERSION_PURCHASE_CLICKS": count,
            "CONVERSION_PURCHASE_VIEWS": 0,
            "CONVERSION_PURCHASE_TOTAL_VALUE": _units(value, _CENTS),
        }
        row: dict[str, Any] = {b.lower(): v for b, v in zip(breakdowns, key, strict=True)}
        row.update({f.lower(): every[f] for f in fields})
        out.append(row)
    return out
