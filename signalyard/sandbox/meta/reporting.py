"""The Meta sandbox's Ads Insights: the ad account object and its ``insights`` edge, answered
from the purchases the sandbox received (the claim rule: :mod:`..reporting_common`).

* ``GET /{version}/act_{account_id}?fields=...``: ``id``, ``account_id``, ``currency``,
  ``timezone_name``, ``name`` of the sandbox's ad account;
* ``GET /{version}/act_{account_id}/insights``: ``level`` (``campaign`` or ``account``),
  ``time_range`` (``{"since", "until"}``; default the 30 days before today),
  ``time_increment`` (``1`` for a row per day, else one row for the range),
  ``action_attribution_windows`` (a JSON list of ``1d_click``, ``7d_click``, ``28d_click``,
  ``1d_view``; default ``["7d_click", "1d_view"]``; the sandbox has no impressions, so view
  windows count nothing), ``action_report_time`` (``conversion``, ``impression`` or
  ``mixed``: ``impression`` dates a conversion by its click), ``limit`` and ``after``
  (cursor paging). Each row lists the purchases under ``purchase``, ``omni_purchase`` and
  ``offsite_conversion.fb_pixel_purchase`` alike, as Insights does.

A conversion is a kept, non-test ``Purchase`` whose ``user_data.fbc`` is well formed
(``fb.1.<creation ms>.<fbclid>``): its click is the fbclid, clicked at the creation time
(unless ``/_sandbox/reporting`` told the click's time); its value is ``custom_data.value``.
The token is checked as on the events edge; an account id other than the book's gets Graph's
"Unsupported get request" (code 100, subcode 33).
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ..reporting_common import Conversion, ReportingBook, SandboxClaim
from . import errors
from .endpoint import VERSION_RE, GraphEndpoint
from .errors import GraphError, new_trace_id
from .recorder import SandboxState
from .responses import graph_error, graph_json

__all__ = ["ACTION_TYPES", "Insights", "conversions"]

ACTION_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase", "purchase")
"""The action types a purchase is listed under (the same count under each)."""
WINDOWS = {"1d_click": 1, "7d_click": 7, "28d_click": 28, "1d_view": 0}
DEFAULT_WINDOWS = ("7d_click", "1d_view")
MAX_LIMIT = 5000
MAX_DAYS = 37 * 31
"""Insights keeps 37 months."""


def _fbc(user_data: object) -> tuple[str, float | None] | None:
    fbc = user_data.get("fbc") if isinstance(user_data, dict) else None
    if not isinstance(fbc, str):
        return None
    parts = fbc.split(".", 3)
    if len(parts) != 4 or parts[0] != "fb" or not parts[2].isascii() or not parts[3]:
        return None
    if not parts[2].isdigit():
        return None
    if len(parts[2]) > 16:  # not milliseconds of a real time (and int() of it may refuse)
        return parts[3], None
    return parts[3], int(parts[2]) / 1000


def _value(custom_data: object) -> Decimal:
    value = custom_data.get("value") if isinstance(custom_data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)


def conversions(state: SandboxState) -> Iterator[Conversion]:
    """The purchases of ``state`` that carry an fbclid (kept, not test events)."""
    for rec in state.events(event_name="Purchase", dedup="kept"):
        if rec.is_test or rec.event_time is None:
            continue
        event = rec.event
        if not isinstance(event, dict):
            continue
        click = _fbc(event.get("user_data"))
        if click is None:
            continue
        value = _value(event.get("custom_data"))
        yield Conversion(float(rec.event_time), click[0], click[1], value)


def _json_param(req_params: dict[str, Any], name: str) -> Any:
    raw = req_params.get(name)
    if raw is None or isinstance(raw, dict | list):
        return raw
    try:
        return orjson.loads(str(raw))
    except orjson.JSONDecodeError:
        raise errors.param_invalid(name, "must be valid JSON") from None


def _day(value: object, name: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise errors.param_invalid(name, "must be a date YYYY-MM-DD") from None


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        return int(text.removeprefix("offset:"))
    except (ValueError, UnicodeDecodeError):
        raise errors.param_invalid("after", "is not a valid cursor") from None


class Insights:
    """The ad account and its insights edge (see the module's doc)."""

    def __init__(
        self, state: SandboxState, book: ReportingBook, graph: GraphEndpoint, clock: Clock
    ) -> None:
        self.state = state
        self.book = book
        self.graph = graph
        self.clock = clock

    async def _checked(self, request: Request) -> tuple[dict[str, Any], str | None]:
        version = request.path_params["version"]
        api_version = version if VERSION_RE.fullmatch(version) else None
        account = request.path_params["account_id"]
        if api_version is None:
            raise errors.unsupported_request(
                "get", version, f"{version!r} is not a Graph API version like v26.0."
            )
        req = await self.graph.authorize(request)
        if account != self.book.account_id:
            raise errors.unsupported_request("get", f"act_{account}")
        return req.params, api_version

    async def account(self, request: Request) -> Response:
        trace_id = new_trace_id()
        try:
            _, api_version = await self._checked(request)
        except GraphError as error:
            return graph_error(error, trace_id=trace_id, api_version=None)
        book = self.book
        body = {
            "id": f"act_{book.account_id}",
            "account_id": book.account_id,
            "name": "Sandbox ad account",
            "currency": book.currency,
            "timezone_name": book.time_zone,
        }
        return graph_json(200, body, trace_id=trace_id, api_version=api_version)

    async def insights(self, request: Request) -> Response:
        trace_id = new_trace_id()
        try:
            params, api_version = await self._checked(request)
            body = self._page(params, str(request.url.remove_query_params("after")))
        except GraphError as error:
            return graph_error(error, trace_id=trace_id, api_version=None)
        return graph_json(200, body, trace_id=trace_id, api_version=api_version)

    def _range(self, params: dict[str, Any]) -> tuple[datetime.date, datetime.date]:
        time_range = _json_param(params, "time_range")
        if time_range is None:
            today = datetime.datetime.fromtimestamp(
                self.clock.now(), ZoneInfo(self.book.time_zone)
            ).date()
            return today - datetime.timedelta(days=30), today - datetime.timedelta(days=1)
        if not isinstance(time_range, dict) or not {"since", "until"} <= set(time_range):
            raise errors.param_invalid("time_range", "must be an object with since and until")
        since = _day(time_range["since"], "time_range")
        until = _day(time_range["until"], "time_range")
        if until < since or (until - since).days >= MAX_DAYS:
            raise errors.param_invalid(
                "time_range", "must have since before until, within 37 months"
            )
        return since, until

    def _windows(self, params: dict[str, Any]) -> list[str]:
        windows = _json_param(params, "action_attribution_windows")
        if windows is None:
            return list(DEFAULT_WINDOWS)
        if (
            not isinstance(windows, list)
            or not windows
            or not all(isinstance(w, str) and w in WINDOWS for w in windows)
        ):
            raise errors.param_invalid(
                "action_attribution_windows", f"must be a list of {', '.join(WINDOWS)}"
            )
        return list(dict.fromkeys(windows))

    def _page(self, params: dict[str, Any], url: str) -> dict[str, Any]:
        since, until = self._range(params)
        level = params.get("level", "account")
        if level not in ("account", "campaign"):
            raise errors.param_invalid("level", "must be account or campaign here")
        daily = str(params.get("time_increment", "all_days")) == "1"
        windows = self._windows(params)
        report_time = params.get("action_report_time", "mixed")
        if report_time not in ("conversion", "impression", "mixed"):
            raise errors.param_invalid(
                "action_report_time", "must be conversion, impression or mixed"
            )
        limit_text = str(params.get("limit", "25"))
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            raise errors.param_invalid("limit", f"must be a number from 1 to {MAX_LIMIT}")
        limit = int(limit_text)
        offset = _offset(str(params["after"])) if params.get("after") else 0
        by_click = report_time == "impression"
        # one report per click window asked; the view windows count nothing here
        reports: dict[str, list[SandboxClaim]] = {}
        for window in windows:
            days = WINDOWS[window]
            reports[window] = (
                self.book.report(
                    conversions(self.state), since, until, window_days=days, by_click=by_click
                )
                if days
                else []
            )
        spend_report = self.book.report([], since, until)
        rows = self._rows(reports, spend_report, since, until, level == "campaign", daily)
        page = rows[offset : offset + limit]
        answer: dict[str, Any] = {"data": page}
        if rows:
            after = offset + len(page)
            paging: dict[str, Any] = {
                "cursors": {"before": _cursor(offset), "after": _cursor(after)}
            }
            if after < len(rows):
                paging["next"] = f"{url}{'&' if '?' in url else '?'}after={_cursor(after)}"
            answer["paging"] = paging
        return answer

    def _rows(
        self,
        reports: dict[str, list[SandboxClaim]],
        spend_report: list[SandboxClaim],
        since: datetime.date,
        until: datetime.date,
        by_campaign: bool,
        daily: bool,
    ) -> list[dict[str, Any]]:
        book = self.book

        def key(claim: SandboxClaim) -> tuple[str, str]:
            day = claim.day if daily else since.isoformat()
            return day, claim.campaign_id if by_campaign else ""

        spend: dict[tuple[str, str], Decimal] = {}
        for claim in spend_report:
            spend[key(claim)] = spend.get(key(claim), Decimal(0)) + claim.spend
        counts: dict[tuple[str, str], dict[str, list[Any]]] = {}
        for window, claims in reports.items():
            for claim in claims:
                total = counts.setdefault(key(claim), {}).setdefault(window, [0, Decimal(0)])
                total[0] += claim.conversions
                total[1] += claim.value
        rows: list[dict[str, Any]] = []
        for day, campaign in sorted(set(spend) | set(counts)):
            row: dict[str, Any] = {"account_id": book.account_id}
            if by_campaign:
                row["campaign_id"] = campaign
                row["campaign_name"] = book.campaign_name(campaign)
            row["spend"] = str(spend.get((day, campaign), Decimal(0)))
            windows = counts.get((day, campaign), {})
            total = windows.get(next(iter(reports), ""), [0, Decimal(0)])
            if any(n for n, _ in windows.values()):
                row["actions"] = [
                    {"action_type": t, "value": str(total[0])}
                    | {w: str(c[0]) for w, c in windows.items()}
                    for t in ACTION_TYPES
                ]
                row["action_values"] = [
                    {"action_type": t, "value": str(total[1])}
                    | {w: str(c[1]) for w, c in windows.items()}
                    for t in ACTION_TYPES
                ]
            row["date_start"] = day
            row["date_stop"] = day if daily else until.isoformat()
            rows.append(row)
        return rows
