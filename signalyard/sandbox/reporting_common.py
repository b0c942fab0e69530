"""What a sandbox's reporting endpoint claims: the ad account it pretends to be, its
campaigns, their spend, and the conversions its clicks earned among the events it received.

Each sandbox that emulates a reporting API (Meta's Ads Insights, Google Ads reporting,
TikTok's reporting) keeps a :class:`ReportingBook` and answers its platform's reporting
requests from :meth:`ReportingBook.report`, in its platform's shape. The rule a sandbox
claims by is the platforms' click-through rule, made deterministic:

- a kept (not deduplicated, not test) purchase event that carries the platform's click id
  is a conversion of that click;
- when the click's time is known (Meta's ``fbc`` carries it; a click the book was told about
  with ``clicked_at``), the conversion counts only within ``window_days`` of the click
  (elapsed seconds, inclusive) and not before it; a click of unknown time always counts;
- it is dated by the event's time in the account's time zone (``action_report_time`` =
  conversion), and credited to the campaign the book maps the click id to (else the
  account's default campaign);
- its value is the event's value, taken as in the account's currency (the sandbox converts
  nothing).

The book is set through ``/_sandbox/reporting`` (plain JSON; :func:`reporting_routes`):

``GET`` shows it; ``POST`` merges a body into it::

    {"account": {"id": "1234", "currency": "EUR", "time_zone": "Europe/Paris"},
     "window_days": 7,
     "campaigns": [{"id": "111", "name": "Spring sale",
                    "clicks": [{"id": "IwAR...", "clicked_at": 1764000000}]}],
     "spend": [{"day": "2026-12-01", "campaign_id": "111", "amount": "12.50"}]}

(a campaign given again gets its name replaced and its clicks added; a spend of the same day
and campaign is replaced); ``DELETE`` forgets it all. Bounded: :data:`MAX_CAMPAIGNS`
campaigns, :data:`MAX_CLICKS` clicks, :data:`MAX_SPEND_ROWS` spend rows.
"""

from __future__ import annotations

import datetime
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .control_common import BadControlRequest, Control, control_json, error_json

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_CAMPAIGN",
    "MAX_CAMPAIGNS",
    "MAX_CLICKS",
    "MAX_SPEND_ROWS",
    "REPORTING_ENDPOINTS",
    "Conversion",
    "ReportingBook",
    "SandboxClaim",
    "reporting_routes",
]

MAX_CAMPAIGNS = 1000
MAX_CLICKS = 200_000
MAX_SPEND_ROWS = 100_000
DEFAULT_ACCOUNT = "1234567890"
"""The ad account id a sandbox answers for until ``/_sandbox/reporting`` says another."""
DEFAULT_CAMPAIGN = ("1", "Sandbox campaign")
"""The campaign a click the book was not told about is credited to: ``(id, name)``."""
REPORTING_ENDPOINTS = {
    "GET|POST|DELETE /_sandbox/reporting": "the ad account the reporting endpoint answers for:"
    " currency, time zone, campaigns and their clicks, spend",
}
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Conversion:
    """A purchase a sandbox received with its platform's click id."""

    event_time: float
    click_id: str
    click_time: float | None
    """When the click happened, where the event says (Meta's ``fbc``); else ``None``."""
    value: Decimal


@dataclass(frozen=True, slots=True)
class SandboxClaim:
    day: str
    campaign_id: str
    campaign_name: str
    conversions: int
    value: Decimal
    spend: Decimal


def _text(body: dict[str, Any], name: str, pattern: re.Pattern[str], example: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadControlRequest(f"{name} must be a string such as {example!r}")
    return value


def _zone(value: object) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise BadControlRequest("account.time_zone must be an IANA time zone such as Europe/Paris")
    try:
        ZoneInfo(value)
    except (KeyError, ValueError, OSError):
        raise BadControlRequest(
            "account.time_zone must be an IANA time zone such as Europe/Paris"
        ) from None
    return value


def _amount(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadControlRequest(f'{where} must be a number such as "12.50"')
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise BadControlRequest(f'{where} must be a number such as "12.50"') from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e12"):
        raise BadControlRequest(f"{where} must be between 0 and 10^12")
    return amount


def _list(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name, [])
    if not isinstance(value, list):
        raise BadControlRequest(f"{name} must be a list")
    return value


class ReportingBook:
    """The ad account one sandbox reports for (see the module's doc). Thread-safe."""

    def __init__(self, *, window_days: int = 7, currency: str = "USD") -> None:
        self._lock = threading.Lock()
        self._default_window = window_days
        self._default_currency = currency
        self._reset()

    def _reset(self) -> None:
        self.account_id = DEFAULT_ACCOUNT
        self.currency = self._default_currency
        self.time_zone = "UTC"
        self.window_days = self._default_window
        self._names: dict[str, str] = {DEFAULT_CAMPAIGN[0]: DEFAULT_CAMPAIGN[1]}
        self._clicks: dict[str, tuple[str, float | None]] = {}
        self._spend: dict[tuple[str, str], Decimal] = {}

    def reset(self) -> None:
        with self._lock:
            self._reset()

    def configure(self, body: Any) -> None:
        """Merge ``body`` (see the module's doc) in; raises :class:`BadControlRequest` naming
        the field, having changed nothing."""
        if not isinstance(body, dict):
            raise BadControlRequest("the body must be a JSON object")
        account = body.get("account", {})
        if not isinstance(account, dict):
            raise BadControlRequest("account must be an object")
        window = body.get("window_days", self.window_days)
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 90:
            raise BadControlRequest("window_days must be a whole number of days, 1 to 90")
        account_id = _text(account, "id", _ID, "1234567890") if "id" in account else self.account_id
        currency = (
            _text(account, "currency", _CURRENCY, "EUR") if "currency" in account else self.currency
        )
        zone = _zone(account["time_zone"]) if "time_zone" in account else self.time_zone
        names: dict[str, str] = {}
        clicks: dict[str, tuple[str, float | None]] = {}
        for i, campaign in enumerate(_list(body, "campaigns")):
            if not isinstance(campaign, dict):
                raise BadControlRequest(f"campaigns[{i}] must be an object")
            campaign_id = _text(campaign, "id", _ID, "111")
            name = campaign.get("name", campaign_id)
            if not isinstance(name, str) or not 0 < len(name) <= 200:
                raise BadControlRequest(f"campaigns[{i}].name must be a string of 1-200 chars")
            names[campaign_id] = name
            for j, click in enumerate(_list(campaign, "clicks")):
                where = f"campaigns[{i}].clicks[{j}]"
                if not isinstance(click, dict):
                    raise BadControlRequest(f"{where} must be an object")
                click_id = click.get("id")
                if not isinstance(click_id, str) or not 0 < len(click_id) <= 500:
                    raise BadControlRequest(f"{where}.id must be a string of 1-500 chars")
                at = click.get("clicked_at")
                if at is not None and (
                    isinstance(at, bool) or not isinstance(at, int | float) or not 0 <= at < 1e11
                ):
                    raise BadControlRequest(f"{where}.clicked_at must be Unix seconds")
                clicks[click_id] = (campaign_id, None if at is None else float(at))
        spend: dict[tuple[str, str], Decimal] = {}
        for i, row in enumerate(_list(body, "spend")):
            if not isinstance(row, dict):
                raise BadControlRequest(f"spend[{i}] must be an object")
            day = _text(row, "day", _DAY, "2026-12-01")
            try:
                datetime.date.fromisoformat(day)
            except ValueError:
                raise BadControlRequest(f"spend[{i}].day must be a day YYYY-MM-DD") from None
            campaign_id = _text(row, "campaign_id", _ID, "111")
            spend[(day, campaign_id)] = _amount(row.get("amount"), f"spend[{i}].amount")
        with self._lock:
            unknown = {c for _, c in spend} - set(names) - set(self._names)
            if unknown:
                raise BadControlRequest(
                    f"spend names campaign(s) not given: {', '.join(sorted(unknown)[:5])}"
                )
            if len(set(self._names) | set(names)) > MAX_CAMPAIGNS:
                raise BadControlRequest(f"at most {MAX_CAMPAIGNS} campaigns")
            if len(set(self._clicks) | set(clicks)) > MAX_CLICKS:
                raise BadControlRequest(f"at most {MAX_CLICKS} clicks")
            if len(set(self._spend) | set(spend)) > MAX_SPEND_ROWS:
                raise BadControlRequest(f"at most {MAX_SPEND_ROWS} spend rows")
            self.account_id, self.currency, self.time_zone = account_id, currency, zone
            self.window_days = window
            self._names.update(names)
            self._clicks.update(clicks)
            self._spend.update(spend)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            clicks = Counter(campaign for campaign, _ in self._clicks.values())
            return {
                "account": {
                    "id": self.account_id,
                    "currency": self.currency,
                    "time_zone": self.time_zone,
                },
                "window_days": self.window_days,
                "campaigns": [
                    {"id": c, "name": n, "clicks": clicks[c]} for c, n in self._names.items()
                ],
                "spend": [
                    {"day": d, "campaign_id": c, "amount": str(a)}
                    for (d, c), a in sorted(self._spend.items())
                ],
            }

    def campaign_name(self, campaign_id: str) -> str:
        return self._names.get(campaign_id, campaign_id)

    def report(
        self,
        conversions: Iterable[Conversion],
        since: datetime.date,
        until: datetime.date,
        *,
        window_days: int | None = None,
        by_click: bool = False,
    ) -> list[SandboxClaim]:
        """Per day of ``since`` .. ``until`` (the account's days) and campaign: the
        conversions the rule of the module's doc counts, their value, and the spend; rows
        with neither a conversion nor spend are left out. Sorted by day, then campaign id.

        ``window_days`` overrides the book's window (a request that names its window);
        ``by_click`` dates a conversion by its click's time where known (Meta's
        ``action_report_time=impression``) instead of its own."""
        with self._lock:
            zone = ZoneInfo(self.time_zone)
            window = (self.window_days if window_days is None else window_days) * 86400
            first, last = since.isoformat(), until.isoformat()
            counts: dict[tuple[str, str], list[Any]] = {}
            for conversion in conversions:
                campaign, clicked_at = self._clicks.get(
                    conversion.click_id, (DEFAULT_CAMPAIGN[0], None)
                )
                if clicked_at is None:
                    clicked_at = conversion.click_time
                if clicked_at is not None and not (
                    0 <= conversion.event_time - clicked_at <= window
                ):
                    continue
                dated = clicked_at if by_click and clicked_at is not None else None
                day = datetime.datetime.fromtimestamp(
                    conversion.event_time if dated is None else dated, zone
                ).date()
                key = (day.isoformat(), campaign)
                if not first <= key[0] <= last:
                    continue
                total = counts.setdefault(key, [0, Decimal(0)])
                total[0] += 1
                total[1] += conversion.value
            for day_text, campaign in self._spend:
                if first <= day_text <= last:
                    counts.setdefault((day_text, campaign), [0, Decimal(0)])
            return [
                SandboxClaim(
                    day_text,
                    campaign,
                    self._names.get(campaign, campaign),
                    int(total[0]),
                    total[1],
                    self._spend.get((day_text, campaign), Decimal(0)),
                )
                for (day_text, campaign), total in sorted(counts.items())
            ]


def reporting_routes(book: ReportingBook, control: Control) -> list[Route]:
    """``/_sandbox/reporting``: show (GET), merge into (POST) or forget (DELETE) ``book``."""

    async def reporting(request: Request) -> Response:
        if request.method == "DELETE":
            book.reset()
        elif request.method == "POST":
            try:
                book.configure(await control.json_body(request))
            except BadControlRequest as exc:
                return error_json(str(exc), exc.status, exc.headers)
        return control_json(book.to_json())

    return [Route("/_sandbox/reporting", reporting, methods=["GET", "POST", "DELETE"])]
