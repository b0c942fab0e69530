"""LinkedIn's Marketing API reporting, emulated: what the sandbox's ad account claims.

Three routes, in LinkedIn's shape, behind the same edge checks as the Conversions API
(``Authorization: Bearer``: 401 ``EMPTY_ACCESS_TOKEN``/``INVALID_ACCESS_TOKEN``;
``LinkedIn-Version``: 400 ``VERSION_MISSING``, 426 ``NONEXISTENT_VERSION``;
``X-Restli-Protocol-Version: 2.0.0``, else 400):

``GET /rest/adAccounts/{id}``
    the account of the sandbox's :class:`~signalyard.sandbox.reporting_common.ReportingBook`
    (``id``, ``name``, ``currency``, ``status``, ``type``, ``test``); another id: 404.
``GET /rest/adAccounts/{id}/adCampaigns?q=search``
    the book's campaigns (``id``, ``name``, ``account``, ``status``), ``pageSize`` (1-1,000,
    default 100) and ``pageToken`` (the previous answer's ``metadata.nextPageToken``).
``GET /rest/adAnalytics?q=analytics&pivot=CAMPAIGN``
    ``timeGranularity`` (``DAILY`` or ``ALL``), ``dateRange=(start:(year:Y,month:M,day:D),
    end:(...))`` (Rest.li; ``end`` optional: today), ``accounts=List(urn:li:sponsoredAccount:
    <id>)`` (the book's; another account's analytics are empty, as LinkedIn answers for
    data it will not show), ``fields`` (``dateRange``, ``pivotValues``,
    ``costInLocalCurrency``, ``externalWebsiteConversions``,
    ``conversionValueInLocalCurrency``; all by default). ``elements`` per day (or for the
    range) and campaign, amounts as decimal strings, counts as numbers; no paging.

A bad parameter gets 400 ``{"status": 400, "message": ...}`` naming it (the wording is the
sandbox's). The claims are the book's rule (:mod:`signalyard.sandbox.reporting_common`)
over the elements the sandbox recorded: taken, not deduplicated (LinkedIn has no test
events), of any conversion rule, carrying a ``LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID``
(``li_fat_id``); the value is ``conversionValue.amount`` (0 without one). A ``li_fat_id``
carries no click time: a click counts within the window (30 days) only when the book was
told its ``clicked_at``. Days are the book's time zone (LinkedIn's are UTC: keep the book's
``UTC``).

Faults: ``expired_token`` (401), ``throttle`` (429) and ``server_error`` apply here as on
the events route; the others do not. Reporting requests are not logged in
``/_sandbox/requests``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ..digest import token_digest, well_formed_token
from ..reporting_common import Conversion, ReportingBook, SandboxClaim
from . import errors
from .endpoint import version_active
from .errors import LinkedInError, error_response, json_response, new_request_id
from .recorder import SandboxState

__all__ = [
    "ACCOUNT_PATH",
    "ANALYTICS_PATH",
    "CAMPAIGNS_PATH",
    "CLICK_ID",
    "FIELDS",
    "Reporting",
    "conversions",
]

ACCOUNT_PATH = "/rest/adAccounts/{account_id}"
CAMPAIGNS_PATH = "/rest/adAccounts/{account_id}/adCampaigns"
ANALYTICS_PATH = "/rest/adAnalytics"
CLICK_ID = "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID"
FIELDS = (
    "dateRange",
    "pivotValues",
    "costInLocalCurrency",
    "externalWebsiteConversions",
    "conversionValueInLocalCurrency",
)
ACCOUNT_URN = "urn:li:sponsoredAccount:"
CAMPAIGN_URN = "urn:li:sponsoredCampaign:"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_PARAM = 2000
"""The longest query parameter value read (a longer one is refused, never parsed)."""
_FAULTS = frozenset({"expired_token", "throttle", "server_error"})
_DATE = r"\(year:([0-9]{4}),month:([0-9]{1,2}),day:([0-9]{1,2})\)"
_RANGE = re.compile(rf"\(start:{_DATE}(?:,end:{_DATE})?\)")
"""No nested or overlapping repetition: matching is linear in the (bounded) input."""


def _value(element: dict[str, Any]) -> Decimal:
    value = element.get("conversionValue")
    amount = value.get("amount") if isinstance(value, dict) else None
    if not isinstance(amount, str) or len(amount) > 40:
        return Decimal(0)
    try:
        number = Decimal(amount)
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() and number >= 0 else Decimal(0)


def _click(element: dict[str, Any]) -> str | None:
    user = element.get("user")
    ids = user.get("userIds") if isinstance(user, dict) else None
    for item in ids if isinstance(ids, list) else []:
        if isinstance(item, dict) and item.get("idType") == CLICK_ID:
            value = item.get("idValue")
            if isinstance(value, str) and 0 < len(value) <= 500:
                return value
    return None


def conversions(state: SandboxState) -> Iterator[Conversion]:
    """The elements the sandbox took that a LinkedIn click can claim (see the module's
    doc)."""
    for rec in state.events(status="accepted"):
        if rec.dedup == "deduplicated":
            continue
        element = rec.event
        if not isinstance(element, dict):
            continue
        click = _click(element)
        if click is None or not 0 <= rec.happened_at < 10**14:
            continue
        yield Conversion(rec.happened_at / 1000, click, None, _value(element))


def _param(request: Request, name: str, *, required: bool = True) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        if required:
            raise errors.bad_request(f"The query parameter {name} is required")
        return None
    if len(value) > MAX_PARAM:
        raise errors.bad_request(f"The query parameter {name} is too long")
    return value


def _date(year: str, month: str, day: str) -> datetime.date:
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise errors.bad_request("Invalid value for param dateRange: not a date") from None


class Reporting:
    """The reporting routes of one sandbox app, answering for ``book``."""

    def __init__(self, state: SandboxState, clock: Clock, book: ReportingBook) -> None:
        self.state = state
        self.clock = clock
        self.book = book

    async def account(self, request: Request) -> Response:
        return self._answer(request, self._account)

    async def campaigns(self, request: Request) -> Response:
        return self._answer(request, self._campaigns)

    async def analytics(self, request: Request) -> Response:
        return self._answer(request, self._analytics)

    def _answer(self, request: Request, handle: Callable[[Request], dict[str, Any]]) -> Response:
        now = self.clock.now()
        request_id = new_request_id(now)
        try:
            self._edge(request, now)
            body = handle(request)
        except LinkedInError as error:
            return error_response(error, request_id)
        return json_response(body, 200, request_id)

    def _edge(self, request: Request, now: float) -> None:
        auth = request.headers.get("authorization", "")
        if not auth.strip():
            raise errors.empty_token()
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not well_formed_token(token):
            raise errors.invalid_token()
        version = (request.headers.get("linkedin-version") or "").strip()
        if not version:
            raise errors.version_missing()
        if not version_active(version, now):
            raise errors.nonexistent_version(version)
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            raise errors.bad_request(
                "This endpoint requires Rest.li protocol version 2.0.0: set the header"
                " X-Restli-Protocol-Version: 2.0.0"
            )
        if not len(self.state.faults):
            return
        digest = token_digest(token)
        fault = self.state.faults.first(
            now, lambda f: f.kind in _FAULTS and f.matches([], digest, [])
        )
        if fault is None:
            return
        if fault.kind == "expired_token":
            raise errors.revoked_token() if fault.revoked else errors.expired_token()
        if fault.kind == "throttle":
            raise errors.throttled(fault.retry_after)
        raise errors.server_error(fault.status)

    def _own(self, request: Request) -> str:
        account_id = str(request.path_params["account_id"])
        if account_id.startswith(ACCOUNT_URN):
            account_id = account_id[len(ACCOUNT_URN) :]
        if account_id != self.book.account_id:
            raise LinkedInError(404, f"Not found: {ACCOUNT_URN}{account_id[:40]}", code="NOT_FOUND")
        return account_id

    def _account(self, request: Request) -> dict[str, Any]:
        account_id = self._own(request)
        return {
            "id": int(account_id) if account_id.isdigit() and len(account_id) < 19 else 0,
            "name": "Sandbox ad account",
            "currency": self.book.currency,
            "status": "ACTIVE",
            "type": "BUSINESS",
            "test": True,
        }

    def _campaigns(self, request: Request) -> dict[str, Any]:
        account_id = self._own(request)
        if _param(request, "q") != "search":
            raise errors.bad_request("Invalid value for param q: the finder is search")
        size_text = _param(request, "pageSize", required=False) or str(DEFAULT_PAGE_SIZE)
        if not size_text.isascii() or not size_text.isdigit() or len(size_text) > 5:
            raise errors.bad_request("Invalid value for param pageSize")
        size = int(size_text)
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise errors.bad_request(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
        token = _param(request, "pageToken", required=False)
        start = 0
        if token is not None:
            digits = token.removeprefix("sbx-")
            if not token.startswith("sbx-") or not digits.isdigit() or len(digits) > 6:
                raise errors.bad_request("Invalid value for param pageToken")
            start = int(digits)
        campaigns = self.book.to_json()["campaigns"]
        page = campaigns[start : start + size]
        body: dict[str, Any] = {
            "elements": [
                {
                    "id": int(c["id"]) if c["id"].isdigit() and len(c["id"]) < 19 else c["id"],
                    "name": c["name"],
                    "account": f"{ACCOUNT_URN}{account_id}",
                    "status": "ACTIVE",
                }
                for c in page
            ],
            "metadata": {},
        }
        if start + size < len(campaigns):
            body["metadata"]["nextPageToken"] = f"sbx-{start + size}"
        return body

    def _range(self, request: Request) -> tuple[datetime.date, datetime.date]:
        raw = _param(request, "dateRange")
        assert raw is not None
        found = _RANGE.fullmatch(raw)
        if found is None:
            raise errors.bad_request(
                "Invalid value for param dateRange: expected"
                " (start:(year:Y,month:M,day:D),end:(year:Y,month:M,day:D))"
            )
        since = _date(*found.group(1, 2, 3))
        if found.group(4) is None:
            zone = ZoneInfo(self.book.time_zone)
            until = datetime.datetime.fromtimestamp(self.clock.now(), zone).date()
        else:
            until = _date(*found.group(4, 5, 6))
        if until < since:
            raise errors.bad_request("Invalid value for param dateRange: end is before start")
        return since, until

    def _accounts(self, request: Request) -> list[str]:
        raw = _param(request, "accounts")
        assert raw is not None
        if not raw.startswith("List(") or not raw.endswith(")"):
            raise errors.bad_request("Invalid value for param accounts: expected List(urn,...)")
        out: list[str] = []
        for urn in raw[5:-1].split(",")[:101]:
            if not urn.startswith(ACCOUNT_URN):
                raise errors.bad_request(
                    f"Invalid value for param accounts: {urn[:60]!r} is not a sponsoredAccount URN"
                )
            out.append(urn[len(ACCOUNT_URN) :])
        if len(out) > 100:
            raise errors.bad_request("Invalid value for param accounts: at most 100 accounts")
        return out

    def _fields(self, request: Request) -> list[str]:
        raw = _param(request, "fields", required=False)
        if raw is None:
            return list(FIELDS)
        names = raw.split(",")[:21]
        for name in names:
            if name not in FIELDS:
                raise errors.bad_request(f"Invalid value for param fields: {name[:60]!r}")
        return names

    def _analytics(self, request: Request) -> dict[str, Any]:
        if _param(request, "q") != "analytics":
            raise errors.bad_request("Invalid value for param q: the sandbox has analytics only")
        if _param(request, "pivot") != "CAMPAIGN":
            raise errors.bad_request("Invalid value for param pivot: the sandbox has CAMPAIGN")
        granularity = _param(request, "timeGranularity")
        if granularity not in ("DAILY", "ALL"):
            raise errors.bad_request("Invalid value for param timeGranularity: DAILY or ALL here")
        since, until = self._range(request)
        accounts = self._accounts(request)
        fields = self._fields(request)
        if (until - since).days > 3650 or self.book.account_id not in accounts:
            claims: list[SandboxClaim] = []
        else:
            claims = self.book.report(conversions(self.state), since, until)
        return {"elements": _elements(claims, granularity == "DAILY", since, until, fields)}


def _date_json(day: datetime.date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


def _elements(
    claims: list[SandboxClaim],
    daily: bool,
    since: datetime.date,
    until: datetime.date,
    fields: list[str],
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[Any]] = {}
    for claim in claims:
        key = (claim.day if daily else since.isoformat(), claim.campaign_id)
        total = groups.setdefault(key, [0, Decimal(0), Decimal(0)])
        total[0] += claim.conversions
        total[1] += claim.value
        total[2] += claim.spend
    out: list[dict[str, Any]] = []
    for (day, campaign_id), (count, value, spend) in sorted(groups.items()):
        start = datetime.date.fromisoformat(day)
        every = {
            "dateRange": {
                "start": _date_json(start),
                "end": _date_json(start if daily else until),
            },
            "pivotValues": [f"{CAMPAIGN_URN}{campaign_id}"],
            "costInLocalCurrency": str(spend),
            "externalWebsiteConversions": count,
            "conversionValueInLocalCurrency": str(value),
        }
        out.append({name: every[name] for name in fields})
    return out
