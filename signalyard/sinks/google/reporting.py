"""What Google Ads claims: the destination's conversion action's conversions, their value
and the ad spend per day and campaign, from the Google Ads API (``REPORTING``).

Three GAQL queries, each one ``POST {ads_api_url}/{ads_api_version}/customers/{operating
account}/googleAds:searchStream`` with the body ``{"query": ...}`` and the headers
``Authorization: Bearer <access token>`` (the destination's credential, for the scope
``https://www.googleapis.com/auth/adwords``), ``developer-token`` and, when the credential
reaches the account through a manager, ``login-customer-id``:

1. the account's currency and time zone (``FROM customer``);
2. the spend per day and campaign (``metrics.cost_micros``);
3. the claims of the destination's own conversion action (``metrics.all_conversions``,
   ``metrics.all_conversions_value`` with ``segments.conversion_action``): Google refuses
   cost metrics segmented by conversion action, hence a query of their own.

2 and 3 are merged by day and campaign id; campaigns sharing a name on a day are summed
(a claim row is per campaign name). ``searchStream`` answers a JSON array of batches
(``{"results": [GoogleAdsRow...], "fieldMask", "requestId"}``), the pages of one answer: at
most :data:`~signalyard.sinks.reporting.MAX_PAGES` are read. Amounts are exact: micros as
``Decimal(micros) / 10**6``, the conversion metrics (JSON numbers) through their text.

Building the requests and reading the answers are pure functions; :func:`fetch` only sends.
Everything Google refuses becomes a :class:`~signalyard.sinks.reporting.ReportingError` with
the reason (HTTP status, Google's status and error code, its message; no secret) and the fix.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import orjson

from signalyard import outbound
from signalyard.clock import SystemClock
from signalyard.outcome import DESTINATION
from signalyard.sinks.exchange import hide, hide_bytes
from signalyard.sinks.google.auth import TokenProblem, TokenSource
from signalyard.sinks.google.config import ADWORDS_SCOPE, GoogleConfig
from signalyard.sinks.reporting import (
    MAX_AMOUNT,
    MAX_PAGES,
    AccountReport,
    ClaimRow,
    ReportingError,
    ReportingSpec,
    checked_amount,
    day_range,
)

__all__ = [
    "ACCOUNT_QUERY",
    "COUNTED",
    "REPORTING",
    "AdsRequest",
    "account_of",
    "batches",
    "claims_of",
    "claims_query",
    "error_of",
    "fetch",
    "merge",
    "missing",
    "request",
    "scope",
    "spend_of",
    "spend_query",
]

COUNTED = (
    "metrics.all_conversions of the destination's conversion action"
    " (segments.conversion_action), by segments.date; the action's click-through window"
    " (30 days by default)"
)
ACCOUNT_QUERY = "SELECT customer.currency_code, customer.time_zone FROM customer"
_MICROS = Decimal(10**6)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_TEXT = 300
_SET_SECRET = f"`signalyard destinations set-secret {DESTINATION}"


@dataclass(frozen=True, slots=True)
class AdsRequest:
    """One ``searchStream`` request, ready to send."""

    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, str]

    def __repr__(self) -> str:  # the headers hold the tokens
        return f"AdsRequest({self.method} {self.url}, query={self.body.get('query')!r})"


# --- requests ---------------------------------------------------------------------------------


def _between(since: datetime.date, until: datetime.date) -> str:
    return f"segments.date BETWEEN '{since.isoformat()}' AND '{until.isoformat()}'"


def spend_query(since: datetime.date, until: datetime.date) -> str:
    """The spend per day and campaign of ``since`` .. ``until`` (the account's days)."""
    return (
        "SELECT segments.date, campaign.id, campaign.name, metrics.cost_micros FROM campaign"
        f" WHERE {_between(since, until)}"
    )


def claims_query(
    customer_id: str, conversion_action_id: str, since: datetime.date, until: datetime.date
) -> str:
    """What Google counts for one conversion action per day and campaign."""
    action = f"customers/{customer_id}/conversionActions/{conversion_action_id}"
    return (
        "SELECT segments.date, campaign.id, campaign.name, metrics.all_conversions,"
        " metrics.all_conversions_value FROM campaign"
        f" WHERE segments.conversion_action = '{action}' AND {_between(since, until)}"
    )


def request(config: GoogleConfig, access_token: str, query: str) -> AdsRequest:
    """The ``searchStream`` request of ``query`` for the destination's Ads account."""
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {access_token}",
    }
    token = config.developer_token
    if token is not None:
        headers["developer-token"] = token.reveal()
    login = config.login_account_id
    if login and login != config.operating_account_id:
        headers["login-customer-id"] = login
    return AdsRequest("POST", config.search_stream_url, headers, {"query": query})


# --- answers ----------------------------------------------------------------------------------


def _clip(text: object) -> str:
    value = " ".join(str(text).split())
    return value if len(value) <= _MAX_TEXT else value[: _MAX_TEXT - 3] + "..."


def _unexpected(what: str) -> ReportingError:
    return ReportingError(
        f"the Google Ads API answered an unexpected body ({what})",
        "check that ads_api_url points at the Google Ads API (https://googleads.googleapis.com)"
        " or its sandbox, and that ads_api_version is a current version",
    )


def batches(status: int, body: bytes) -> list[dict[str, Any]]:
    """The rows (``GoogleAdsRow`` objects) of a ``searchStream`` answer; raises
    :class:`ReportingError` for an error answer (:func:`error_of`) or an unexpected body."""
    if not 200 <= status < 300:
        raise error_of(status, body)
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _unexpected("not JSON") from None
    if not isinstance(answer, list):
        raise _unexpected("not a JSON array of batches")
    if len(answer) > MAX_PAGES:
        raise ReportingError(
            f"the Google Ads API answered {len(answer)} batches, more than {MAX_PAGES}",
            "fetch fewer days at a time",
        )
    rows: list[dict[str, Any]] = []
    for batch in answer:
        if not isinstance(batch, dict):
            raise _unexpected("a batch is not an object")
        if "error" in batch:
            raise error_of(status, orjson.dumps(batch))
        results = batch.get("results", [])
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise _unexpected("results is not a list of objects")
        rows.extend(results)
    return rows


def _field(row: Mapping[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _text(row: Mapping[str, Any], path: str) -> str:
    value = _field(row, path)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise _unexpected(f"a row without {path}")
    return value


def _day(row: Mapping[str, Any]) -> str:
    day = _text(row, "segments.date")
    try:
        if not _DAY.fullmatch(day):
            raise ValueError(day)
        datetime.date.fromisoformat(day)
    except ValueError:
        raise _unexpected(f"segments.date {_clip(day)!r} is not a day") from None
    return day


def _decimal(row: Mapping[str, Any], path: str, scale: Decimal = Decimal(1)) -> Decimal:
    """A metric, exactly: a JSON number by its text, an int64 (a string) as it is; an
    absent metric is 0 (Google leaves zero values out); divided by ``scale`` (micros)."""
    try:
        return checked_amount(_field(row, path), MAX_AMOUNT * scale) / scale
    except ValueError as error:
        raise _unexpected(f"{path} is {error}") from None


def account_of(rows: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """``(currency, time zone)`` from the answer to :data:`ACCOUNT_QUERY`."""
    if not rows:
        raise _unexpected("no customer row")
    return _text(rows[0], "customer.currencyCode"), _text(rows[0], "customer.timeZone")


Key = tuple[str, str]
"""``(day, campaign id)``."""


def spend_of(rows: Sequence[Mapping[str, Any]]) -> dict[Key, tuple[str, Decimal]]:
    """``(day, campaign id) -> (campaign name, spend)`` from the answer to
    :func:`spend_query`."""
    out: dict[Key, tuple[str, Decimal]] = {}
    for row in rows:
        key = (_day(row), _text(row, "campaign.id"))
        name = str(_field(row, "campaign.name") or "")
        spend = _decimal(row, "metrics.costMicros", _MICROS)
        before = out.get(key, (name, Decimal(0)))[1]
        out[key] = (name, before + spend)
    return out


def claims_of(rows: Sequence[Mapping[str, Any]]) -> dict[Key, tuple[str, Decimal, Decimal]]:
    """``(day, campaign id) -> (campaign name, conversions, value)`` from the answer to
    :func:`claims_query`."""
    out: dict[Key, tuple[str, Decimal, Decimal]] = {}
    for row in rows:
        key = (_day(row), _text(row, "campaign.id"))
        name = str(_field(row, "campaign.name") or "")
        conversions = _decimal(row, "metrics.allConversions")
        value = _decimal(row, "metrics.allConversionsValue")
        _, c0, v0 = out.get(key, (name, Decimal(0), Decimal(0)))
        out[key] = (name, c0 + conversions, v0 + value)
    return out


def merge(
    spend: Mapping[Key, tuple[str, Decimal]],
    claims: Mapping[Key, tuple[str, Decimal, Decimal]],
) -> tuple[ClaimRow, ...]:
    """One row per day and campaign name, sorted; a campaign without a name is named by its
    id, rows with nothing in them are left out."""
    totals: dict[tuple[str, str], list[Decimal]] = {}
    for key in sorted(set(spend) | set(claims)):
        name_spend = spend.get(key)
        name_claims = claims.get(key)
        name = (name_claims[0] if name_claims else "") or (name_spend[0] if name_spend else "")
        total = totals.setdefault((key[0], name or key[1]), [Decimal(0)] * 3)
        if name_claims is not None:
            total[0] += name_claims[1]
            total[1] += name_claims[2]
        if name_spend is not None:
            total[2] += name_spend[1]
    return tuple(
        ClaimRow(day, campaign, c, v, s)
        for (day, campaign), (c, v, s) in sorted(totals.items())
        if c or v or s
    )


# --- errors -----------------------------------------------------------------------------------


def _error_object(body: bytes) -> dict[str, Any] | None:
    """Google's ``{"error": {...}}``, alone or as the first element of the array a stream
    answers."""
    try:
        answer = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    if isinstance(answer, list) and answer and isinstance(answer[0], dict):
        answer = answer[0]
    error = answer.get("error") if isinstance(answer, dict) else None
    return error if isinstance(error, dict) else None


def _codes(error: Mapping[str, Any]) -> tuple[list[tuple[str, str, str]], str | None]:
    """The ``GoogleAdsFailure`` errors as ``(kind, code, message)`` and the ``ErrorInfo``
    reason, from ``error.details``."""
    codes: list[tuple[str, str, str]] = []
    reason = None
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        kind = str(detail.get("@type") or "")
        if kind.endswith("GoogleAdsFailure"):
            errors = detail.get("errors")
            for item in errors if isinstance(errors, list) else []:
                code = item.get("errorCode") if isinstance(item, dict) else None
                if isinstance(code, dict):
                    for name, value in code.items():
                        codes.append((str(name), str(value), str(item.get("message") or "")))
        elif kind.endswith("google.rpc.ErrorInfo") and reason is None:
            reason = str(detail.get("reason") or "") or None
    return codes, reason


_SCOPE_FIX = (
    "the credential is not authorized for the Google Ads API: a refresh token must be"
    " authorized for https://www.googleapis.com/auth/adwords too (authorize again with both"
    " scopes, datamanager and adwords, then"
    f" {_SET_SECRET} refresh_token`); a service account needs access to the Google Ads"
    " account (Google Ads → Admin → Access and security)"
)
_TOKEN_FIX = (
    "set the Google Ads API developer token (Google Ads → Tools → Setup → API Center of the"
    f" manager account): {_SET_SECRET} developer_token`"
)


def _fix(
    status: int, codes: Sequence[tuple[str, str, str]], info: str | None, customer: str
) -> str:
    found = {code for _, code, _ in codes}
    kinds = {kind for kind, _, _ in codes}
    if info == "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
        return _SCOPE_FIX
    if found & {"DEVELOPER_TOKEN_PARAMETER_MISSING", "DEVELOPER_TOKEN_INVALID"}:
        return _TOKEN_FIX
    if "DEVELOPER_TOKEN_NOT_APPROVED" in found:
        return (
            "the developer token has test-account access only: apply for Basic access in the"
            " API Center (Google Ads → Tools → Setup → API Center), or read a test account"
        )
    if "DEVELOPER_TOKEN_PROHIBITED" in found:
        return (
            "the developer token belongs to another Google Cloud project than the credential's"
            " OAuth client: use a client (or service account) of the project the token was"
            " first used with, or a new project"
        )
    if found & {"USER_PERMISSION_DENIED", "CUSTOMER_NOT_ENABLED", "CUSTOMER_NOT_FOUND"}:
        return (
            f"the credential's user has no access to the Google Ads account {customer}: give it"
            " access (Google Ads → Admin → Access and security), or, when it reaches the account"
            " through a manager account, set that manager's id: `signalyard destinations update"
            f" {DESTINATION} --option login_account_id=MANAGER_ID`"
        )
    if "LOGIN_CUSTOMER_ID_PARAMETER_MISSING" in found:
        return (
            "set the manager account the credential signs in with: `signalyard destinations"
            f" update {DESTINATION} --option login_account_id=MANAGER_ID`"
        )
    if status == 401 or "authenticationError" in kinds:
        return (
            "the credential was refused by the Google Ads API: authorize again (a refresh token"
            " for the scopes datamanager and adwords) and set it with"
            f" {_SET_SECRET} refresh_token` (or service_account_key)"
        )
    if status == 403:
        return _SCOPE_FIX
    if status == 429 or "quotaError" in kinds:
        return (
            "the developer token's quota is used up for now: fetch again later (or fewer days"
            " at a time)"
        )
    if "queryError" in kinds or status == 400:
        return (
            "Google refused Signalyard's query: the Google Ads API version may not support it;"
            " set a current one with `signalyard destinations update"
            f" {DESTINATION} --option ads_api_version=vNN`"
        )
    if status == 404:
        return (
            "no such method: check the options ads_api_url (https://googleads.googleapis.com)"
            " and ads_api_version (a version Google still serves)"
        )
    if status >= 500:
        return "Google's side failed: fetch again later"
    return "check the destination's Google Ads account, credential and developer token"


def error_of(status: int, body: bytes, customer: str = "") -> ReportingError:
    """A refused ``searchStream``: the reason (HTTP status, Google's status, error codes and
    message; the body must already be free of secrets) and the operator's fix."""
    error = _error_object(body)
    if error is None:
        reason = f"the Google Ads API answered HTTP {status} with an unexpected body"
        return ReportingError(reason, _fix(status, (), None, customer))
    codes, info = _codes(error)
    parts = [f"the Google Ads API answered HTTP {status}"]
    state = error.get("status")
    if isinstance(state, str) and state:
        parts.append(_clip(state))
    if codes:
        parts.append(", ".join(f"{kind} {code}" for kind, code, _ in codes[:3]))
    elif info:
        parts.append(_clip(info))
    message = codes[0][2] if codes and codes[0][2] else error.get("message")
    reason = " ".join(parts[:1]) + (f" ({'; '.join(parts[1:])})" if parts[1:] else "")
    if message:
        reason += f": {_clip(message)}"
    return ReportingError(reason, _fix(status, codes, info, customer))


def _token_error(problem: TokenProblem) -> ReportingError:
    reason = str(getattr(problem.outcome, "reason", "") or "no access token")
    if problem.status is None:
        return ReportingError(reason, "no answer from Google's token endpoint: fetch again later")
    if problem.status >= 500 or problem.status in (408, 429):
        return ReportingError(reason, "Google's token endpoint failed: fetch again later")
    if "invalid_scope" in reason:
        return ReportingError(reason, _SCOPE_FIX)
    return ReportingError(
        reason,
        "the credential was refused: authorize again (a refresh token for the scopes"
        " datamanager and adwords) and set it with"
        f" {_SET_SECRET} refresh_token` (or service_account_key)",
    )


# --- the reporting spec -----------------------------------------------------------------------


def missing(config: GoogleConfig) -> str | None:
    """What reporting still needs: the developer token (the rest is the destination's)."""
    if config.developer_token is None:
        return (
            "the secret developer_token (Google Ads → Tools → Setup → API Center of the"
            " manager account)"
        )
    return None


async def fetch(
    config: GoogleConfig,
    client: httpx.AsyncClient,
    since: datetime.date,
    until: datetime.date,
) -> AccountReport:
    """Google Ads' claims of the days ``since`` .. ``until`` (the account's days)."""
    try:
        day_range(since, until)
    except ValueError as error:
        raise ReportingError(str(error), "ask for a shorter range of days") from None
    why = missing(config)
    if why is not None:
        raise ReportingError(f"reporting needs {why}", _TOKEN_FIX)
    tokens = TokenSource(
        config.credential,
        token_endpoint=config.token_endpoint,
        client=client,
        clock=SystemClock(),
        timeout=config.timeout_seconds,
        scope=ADWORDS_SCOPE,
    )
    try:
        access_token = await tokens.get()
    except TokenProblem as problem:
        raise _token_error(problem) from None
    secrets = [s for s in [*tokens.secrets(), access_token] if len(s) >= 4]
    if config.developer_token is not None:
        secrets.append(config.developer_token.reveal())
    customer = config.operating_account_id

    async def search(query: str) -> list[dict[str, Any]]:
        ask = request(config, access_token, query)
        try:
            reply = await outbound.request(
                client,
                ask.method,
                ask.url,
                content=orjson.dumps(ask.body),
                headers=ask.headers,
                timeout=config.timeout_seconds,
            )
        except httpx.HTTPError as error:
            raise ReportingError(
                hide(
                    f"no answer from the Google Ads API at {ask.url}: {type(error).__name__}",
                    secrets,
                ),
                "check ads_api_url and the network, then fetch again",
            ) from None
        body = hide_bytes(reply.body, secrets)
        if not 200 <= reply.status < 300:
            raise error_of(reply.status, body, customer)
        return batches(reply.status, body)

    currency, zone = account_of(await search(ACCOUNT_QUERY))
    spend = spend_of(await search(spend_query(since, until)))
    claims = claims_of(
        await search(claims_query(customer, config.conversion_action_id, since, until))
    )
    return AccountReport(
        account_id=customer,
        currency=currency,
        time_zone=zone,
        counted=COUNTED,
        rows=merge(spend, claims),
    )


def scope(config: GoogleConfig) -> str:
    """The account and the conversion action whose claims the config reads."""
    return f"{config.operating_account_id}/conversionActions/{config.conversion_action_id}"


REPORTING = ReportingSpec(
    fetch=fetch,
    missing=missing,
    counted=COUNTED,
    scope=scope,
    url_options=("ads_api_url",),
    example={},
)
"""No option to add for a fresh sandbox: the operating account is the Ads account, and the
example config has a developer token."""
