"""Meta's claims, read from the Ads Insights API of the destination's ad account.

Two requests, with the destination's access token (it needs ``ads_read`` on the ad account;
a dataset-only token from Events Manager cannot read Insights) and its ``appsecret_proof``
when the app secret is set:

1. ``GET {graph_url}/{api_version}/act_{ad_account_id}?fields=currency,timezone_name``: the
   account's currency and time zone (its days);
2. ``GET {graph_url}/{api_version}/act_{ad_account_id}/insights`` with ``level=campaign``,
   ``time_increment=1``, ``time_range``, ``action_attribution_windows=[claims_window]`` and
   ``action_report_time=conversion``, fields ``campaign_id, campaign_name, spend, actions,
   action_values``, page by page (``paging.cursors.after`` while ``paging.next`` is given).

The token goes in the ``Authorization: Bearer`` header, never in a URL.

A row's claim is the entry of ``actions`` (count) and ``action_values`` (value) whose
``action_type`` is the destination's ``claims_action_type``, read under the window's key: one
action type only, since Insights lists the same purchases under several.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import httpx
import orjson

from signalyard import outbound
from signalyard.sinks.answers import scrub
from signalyard.sinks.exchange import hide, query_forms
from signalyard.sinks.meta.config import MetaConfig
from signalyard.sinks.meta.payload import appsecret_proof
from signalyard.sinks.reporting import (
    MAX_PAGES,
    AccountReport,
    ClaimRow,
    ReportingError,
    ReportingSpec,
    checked_amount,
    checked_day,
)
from signalyard.sinks.spec import own_config

__all__ = [
    "INSIGHTS_FIELDS",
    "REPORTING",
    "account_request",
    "fetch",
    "insights_request",
    "parse_account",
    "parse_insights",
]

INSIGHTS_FIELDS = "campaign_id,campaign_name,spend,actions,action_values"
PAGE_SIZE = 500
Request = tuple[str, dict[str, str], dict[str, str]]
"""``(url, query parameters, headers)`` of a GET: the token in the ``Authorization``
header (never in a URL, which logs and proxies keep), its ``appsecret_proof`` a
parameter."""

_NEW_TOKEN = (
    "create a system user token with ads_read in Business Settings → System users, with the"
    " ad account assigned, and store it with `signalyard destinations set-secret`"
)
_RATE = {4, 17, 32, 613, 80000, 80004}
_TOKEN = {102, 104, 190}
_PERMISSION = {3, 10, 200, 270, 294}


def _base(config: MetaConfig) -> str:
    return f"{config.graph_url.rstrip('/')}/{config.api_version}/act_{config.ad_account_id}"


def _proof(config: MetaConfig) -> dict[str, str]:
    if not config.app_secret:
        return {}
    token = config.access_token.reveal()
    return {"appsecret_proof": appsecret_proof(token, config.app_secret.reveal())}


def _headers(config: MetaConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {config.access_token.reveal()}"}


def account_request(config: MetaConfig) -> Request:
    """The ad account's currency and time zone."""
    params = {"fields": "currency,timezone_name", **_proof(config)}
    return _base(config), params, _headers(config)


def insights_request(
    config: MetaConfig, since: datetime.date, until: datetime.date, after: str | None = None
) -> Request:
    """One page of the account's daily insights per campaign (``after``: the next page's
    cursor)."""
    params = {
        "level": "campaign",
        "time_increment": "1",
        "time_range": orjson.dumps(
            {"since": since.isoformat(), "until": until.isoformat()}
        ).decode(),
        "fields": INSIGHTS_FIELDS,
        "action_attribution_windows": orjson.dumps([config.claims_window]).decode(),
        "action_report_time": "conversion",
        "limit": str(PAGE_SIZE),
        **_proof(config),
    }
    if after is not None:
        params["after"] = after
    return f"{_base(config)}/insights", params, _headers(config)


def _unexpected(what: str) -> ReportingError:
    return ReportingError(
        f"Meta's Ads Insights answered an unexpected body ({what})",
        "check graph_url and api_version; if they are right, try again later",
    )


def parse_account(answer: Any) -> tuple[str, str]:
    """``(currency, time_zone)`` of the ad account object."""
    if not isinstance(answer, dict):
        raise _unexpected("the ad account is not an object")
    currency, zone = answer.get("currency"), answer.get("timezone_name")
    if not isinstance(currency, str) or not isinstance(zone, str):
        raise _unexpected("the ad account has no currency or timezone_name")
    return currency, zone


def _number(value: object, where: str) -> Decimal:
    try:
        return checked_amount(value)
    except ValueError as error:
        raise _unexpected(f"{where} is {error}") from None


def _action(entries: object, action_type: str, window: str, where: str) -> Decimal:
    if entries is None:
        return Decimal(0)
    if not isinstance(entries, list):
        raise _unexpected(f"{where} is not a list")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("action_type") == action_type:
            return _number(entry.get(window), f"{where}.{window}")
    return Decimal(0)


def parse_insights(answer: Any, config: MetaConfig) -> tuple[list[ClaimRow], str | None]:
    """One page's rows and the next page's cursor (``None``: the last page)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
        raise _unexpected("no data list")
    rows: list[ClaimRow] = []
    for i, row in enumerate(answer["data"]):
        if not isinstance(row, dict):
            raise _unexpected(f"data[{i}] is not an object")
        try:
            day = checked_day(row.get("date_start"))
        except ValueError:
            raise _unexpected(f"data[{i}].date_start is not a day YYYY-MM-DD") from None
        name = row.get("campaign_name") or row.get("campaign_id") or ""
        rows.append(
            ClaimRow(
                day=day,
                campaign=str(name),
                conversions=_action(
                    row.get("actions"),
                    config.claims_action_type,
                    config.claims_window,
                    f"data[{i}].actions",
                ),
                value=_action(
                    row.get("action_values"),
                    config.claims_action_type,
                    config.claims_window,
                    f"data[{i}].action_values",
                ),
                spend=_number(row.get("spend"), f"data[{i}].spend"),
            )
        )
    paging = answer.get("paging")
    after = None
    if isinstance(paging, dict) and paging.get("next"):
        cursors = paging.get("cursors")
        cursor = cursors.get("after") if isinstance(cursors, dict) else None
        if not isinstance(cursor, str) or not cursor:
            raise _unexpected("paging.next without a cursor")
        after = cursor
    return rows, after


def refusal(
    status: int, answer: Any, account: str | None, secrets: Sequence[str] = ()
) -> ReportingError:
    """What Meta's error answer (HTTP ``status``) means for the operator; ``secrets`` (the
    token, its proof, in every form a URL carries them) are masked in Meta's message."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        if status >= 500:
            return ReportingError(f"Meta answered HTTP {status}", "try again later")
        return _unexpected(f"HTTP {status} without a Graph error")
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    message = scrub(hide(str(error.get("message") or ""), secrets))
    ref = f"code {code}" + (f", subcode {subcode}" if subcode is not None else "")
    said = f"Meta refused the Insights request ({ref}): {message}"
    act = f"act_{account}" if account else "the ad account"
    if code in _TOKEN:
        return ReportingError(said, _NEW_TOKEN)
    if code in _PERMISSION:
        return ReportingError(
            said,
            f"the token needs ads_read on {act}: assign the ad account to the system user"
            f" (Business Settings → Ad accounts) and {_NEW_TOKEN}",
        )
    if code == 100 and subcode == 33:
        return ReportingError(
            said, f"check ad_account_id ({act}) and that the token's user can see it"
        )
    if code in _RATE:
        return ReportingError(said, "Meta's Insights rate limit: fetch again in an hour")
    if status >= 500 or error.get("is_transient") is True:
        return ReportingError(said, "try again later")
    return ReportingError(said, "check the destination's claims options")


def _secrets(config: MetaConfig) -> list[str]:
    token = config.access_token.reveal()
    found = list(query_forms(token))
    if config.app_secret:
        found += [config.app_secret.reveal(), appsecret_proof(token, config.app_secret.reveal())]
    return found


async def _get(client: httpx.AsyncClient, request: Request, config: MetaConfig) -> Any:
    url, params, headers = request
    try:
        reply = await outbound.request(
            client, "GET", url, params=params, headers=headers, timeout=config.timeout_seconds
        )
    except httpx.HTTPError as error:
        raise ReportingError(
            f"no answer from Meta's Ads Insights ({type(error).__name__})",
            "check graph_url and the network, then try again",
        ) from None
    try:
        answer = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        answer = None
    if reply.status != 200:
        raise refusal(reply.status, answer, config.ad_account_id, _secrets(config))
    if answer is None:
        raise _unexpected("not JSON")
    return answer


async def fetch(
    config: object, client: httpx.AsyncClient, since: datetime.date, until: datetime.date
) -> AccountReport:
    """The claims of ``since`` .. ``until`` (the account's days); see the module's doc."""
    meta = own_config("meta", config, MetaConfig)
    if meta.ad_account_id is None:
        raise ReportingError("no ad account", "set the option ad_account_id")
    currency, zone = parse_account(await _get(client, account_request(meta), meta))
    rows: list[ClaimRow] = []
    after: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page, after = parse_insights(
            await _get(client, insights_request(meta, since, until, after), meta), meta
        )
        rows.extend(page)
        if after is None:
            break
        if after in seen:
            raise _unexpected("a page's cursor came back: paging would not end")
        seen.add(after)
    else:
        raise _unexpected(f"more than {MAX_PAGES} pages")
    return AccountReport(
        account_id=meta.ad_account_id,
        currency=currency,
        time_zone=zone,
        counted=f"{meta.claims_action_type}, {meta.claims_window}",
        rows=tuple(rows),
    )


def _missing(config: object) -> str | None:
    meta = own_config("meta", config, MetaConfig)
    if meta.ad_account_id is None:
        return "the option ad_account_id (Ads Manager → the account menu shows its id)"
    return None


def _scope(config: object) -> str:
    meta = own_config("meta", config, MetaConfig)
    return f"act_{meta.ad_account_id} {meta.claims_action_type} {meta.claims_window}"


REPORTING = ReportingSpec(
    fetch=fetch,
    missing=_missing,
    scope=_scope,
    counted="the claims_action_type (offsite_conversion.fb_pixel_purchase) in claims_window",
    example={"ad_account_id": "1234567890"},
)
