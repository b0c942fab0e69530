"""``POST /{version}/customers/{customer_id}/googleAds:searchStream``: the Google Ads API's
reporting, as far as Signalyard reads it (its claims), answered from the sandbox's
:class:`~signalyard.sandbox.reporting_common.ReportingBook` (``app.state.reporting``, set
through ``/_sandbox/reporting``) and the events ``events:ingest`` recorded.

Order of checks, as Google's front end and the API do them:

1. ``Authorization: Bearer <access token issued by /token>``: missing, unknown, expired or
   revoked (the ``expired_credential`` fault) -> 401 ``UNAUTHENTICATED``; a token without the
   scope ``https://www.googleapis.com/auth/adwords`` -> 403 ``PERMISSION_DENIED``
   (``ACCESS_TOKEN_SCOPE_INSUFFICIENT``);
2. ``developer-token``: missing -> 400 ``requestError DEVELOPER_TOKEN_PARAMETER_MISSING``;
   not a token's shape -> 401 ``authenticationError DEVELOPER_TOKEN_INVALID``;
3. the customer id of the path: not 10 digits -> 400 ``requestError INVALID_CUSTOMER_ID``;
   another account than the book's -> 403 ``authorizationError USER_PERMISSION_DENIED``;
4. the body ``{"query": "<GAQL>"}``: only the three queries Signalyard sends are understood
   (keywords in any case, any whitespace, the selected fields in any order); anything else
   -> 400 ``queryError``:

   - ``SELECT customer.currency_code, customer.time_zone FROM customer``;
   - ``SELECT segments.date, campaign.id, campaign.name, metrics.cost_micros FROM campaign
     WHERE segments.date BETWEEN 'D1' AND 'D2'``;
   - ``SELECT segments.date, campaign.id, campaign.name, metrics.all_conversions,
     metrics.all_conversions_value FROM campaign WHERE segments.conversion_action =
     'customers/C/conversionActions/A' AND segments.date BETWEEN 'D1' AND 'D2'``.

The answer is a JSON array of batches ``{"results": [...], "fieldMask": "...",
"requestId": "..."}`` of at most :attr:`SearchStream.batch_rows` rows (one batch, with an
empty ``results`` list, when there are none); rows with all their metrics zero are left out,
as Google does. The conversions are the events recorded for the conversion action of the
query (and its account) that were kept (not deduplicated, too old or without consent; a
``validateOnly`` event is never recorded) and carry a ``gclid``, ``gbraid`` or ``wbraid``;
the book's rule (:mod:`signalyard.sandbox.reporting_common`) counts them, 30-day window by
default. The sandbox dates a conversion by its own time (Google dates ``all_conversions`` by
the click's; see ``docs/destinations/google.md``). Errors are Google Ads' error model
(``GoogleAdsFailure`` in ``details``), as an array of one element, as a stream answers.
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from ..bodies import MAX_CONTROL_BODY
from ..reporting_common import Conversion, ReportingBook
from . import errors
from .body import read_body
from .errors import GoogleError
from .recorder import RecordedEvent, RequestRecord, SandboxState
from .responses import JSON_TYPE, new_request_id
from .schema import parse_timestamp

__all__ = ["ADWORDS_SCOPE", "BATCH_ROWS", "CLICK_IDS", "SearchStream", "parse_query"]

log = logging.getLogger(__name__)

ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"
SERVICE = "googleads.googleapis.com"
BATCH_ROWS = 10_000
"""Rows per batch of a ``searchStream`` answer (Google's)."""
CLICK_IDS = ("gclid", "gbraid", "wbraid")
MAX_QUERY = 4096
"""The longest query the sandbox reads (Signalyard's are a few hundred characters)."""
_VERSION = re.compile(r"v[1-9][0-9]{0,2}")
_CUSTOMER = re.compile(r"[0-9]{10}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{10,100}")
_QUERY = re.compile(
    r"\s*select\s+(?P<fields>.+?)\s+from\s+(?P<resource>[a-z_]+)"
    r"(?:\s+where\s+(?P<where>.+?))?\s*",
    re.IGNORECASE | re.DOTALL,
)
_DAY = r"""['"](\d{4}-\d{2}-\d{2})['"]"""
_BETWEEN = rf"segments\.date\s+between\s+{_DAY}\s+and\s+{_DAY}"
_ACTION = r"""segments\.conversion_action\s*=\s*['"]customers/(\d+)/conversionActions/(\d+)['"]"""
_WHERE_SPEND = re.compile(_BETWEEN, re.IGNORECASE)
_WHERE_CLAIMS = re.compile(
    rf"(?:{_ACTION}\s+and\s+{_BETWEEN})|(?:{_BETWEEN}\s+and\s+{_ACTION})", re.IGNORECASE
)
ACCOUNT_FIELDS = frozenset({"customer.currency_code", "customer.time_zone"})
SPEND_FIELDS = frozenset({"segments.date", "campaign.id", "campaign.name", "metrics.cost_micros"})
CLAIM_FIELDS = frozenset(
    {
        "segments.date",
        "campaign.id",
        "campaign.name",
        "metrics.all_conversions",
        "metrics.all_conversions_value",
    }
)
_MASKS = {
    "account": "customer.currencyCode,customer.timeZone",
    "spend": "segments.date,campaign.id,campaign.name,metrics.costMicros",
    "claims": "segments.date,campaign.id,campaign.name,metrics.allConversions,"
    "metrics.allConversionsValue",
}


class AdsError(GoogleError):
    """A Google Ads API error: ``GoogleAdsFailure`` in ``details``."""

    def __init__(self, http: int, status: str, kind: str, code: str, message: str) -> None:
        super().__init__(http, status, _TOP_MESSAGES.get(status, message))
        self.kind = kind
        self.code = code
        self.detail = message

    def failure(self, version: str, request_id: str) -> dict[str, Any]:
        body = self.body()
        body["error"]["details"] = [
            {
                "@type": f"type.googleapis.com/google.ads.googleads.{version}.errors."
                "GoogleAdsFailure",
                "errors": [{"errorCode": {self.kind: self.code}, "message": self.detail}],
                "requestId": request_id,
            }
        ]
        return body


_TOP_MESSAGES = {
    "INVALID_ARGUMENT": "Request contains an invalid argument.",
    "PERMISSION_DENIED": "The caller does not have permission",
    "UNAUTHENTICATED": "Request had invalid authentication credentials.",
}


def query_error(message: str, code: str = "QUERY_ERROR") -> AdsError:
    return AdsError(400, "INVALID_ARGUMENT", "queryError", code, message)


class Query:
    """One of the three queries the sandbox understands."""

    def __init__(
        self,
        kind: str,
        since: datetime.date | None = None,
        until: datetime.date | None = None,
        action: tuple[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.since = since
        self.until = until
        self.action = action
        """``(customer id, conversion action id)`` of the claims query."""


def _day(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise query_error(f"Invalid date literal: '{text}'.") from None


def parse_query(text: str) -> Query:
    """The query ``text`` names; :class:`AdsError` (``queryError``) for anything else. At
    most :data:`MAX_QUERY` characters, its whitespace collapsed before it is matched (the
    patterns then stay linear)."""
    if len(text) > MAX_QUERY:
        raise query_error(f"Error in query: longer than {MAX_QUERY} characters.")
    text = " ".join(text.split())
    match = _QUERY.fullmatch(text)
    if match is None:
        raise query_error("Error in query: unexpected input; expected SELECT ... FROM ....")
    fields = [f.strip().lower() for f in match.group("fields").split(",")]
    chosen = frozenset(fields)
    resource = match.group("resource").lower()
    where = match.group("where")
    if len(chosen) != len(fields) or "" in chosen:
        raise query_error("Error in SELECT clause: a field is empty or selected twice.")
    if resource == "customer" and chosen == ACCOUNT_FIELDS and where is None:
        return Query("account")
    if resource != "campaign" or chosen not in (SPEND_FIELDS, CLAIM_FIELDS):
        raise query_error(
            "The sandbox answers only Signalyard's three queries (customer currency and time"
            " zone; campaign cost per day; campaign all_conversions of one conversion action"
            " per day).",
            "UNRECOGNIZED_FIELD",
        )
    if chosen == SPEND_FIELDS:
        found = _WHERE_SPEND.fullmatch(where or "")
        if found is None:
            raise query_error(
                "Error in WHERE clause: expected segments.date BETWEEN 'YYYY-MM-DD' AND"
                " 'YYYY-MM-DD'."
            )
        return Query("spend", _day(found.group(1)), _day(found.group(2)))
    found = _WHERE_CLAIMS.fullmatch(where or "")
    if found is None:
        raise query_error(
            "Error in WHERE clause: expected segments.conversion_action ="
            " 'customers/C/conversionActions/A' AND segments.date BETWEEN 'YYYY-MM-DD' AND"
            " 'YYYY-MM-DD'."
        )
    g = found.groups()
    customer, action, first, last = (g[0], g[1], g[2], g[3]) if g[0] else (g[6], g[7], g[4], g[5])
    return Query("claims", _day(first), _day(last), (customer, action))


def _conversion(rec: RecordedEvent) -> Conversion | None:
    """The conversion a recorded event is, when it carries a click id and a time."""
    try:
        event = rec.event
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict):
        return None
    ids = event.get("adIdentifiers")
    click = None
    if isinstance(ids, dict):
        click = next((ids[k] for k in CLICK_IDS if isinstance(ids.get(k), str) and ids[k]), None)
    stamp = event.get("eventTimestamp")
    moment = parse_timestamp(stamp) if isinstance(stamp, str) else None
    if click is None or moment is None:
        return None
    raw = event.get("conversionValue", 0)
    try:
        value = Decimal(str(raw)) if isinstance(raw, int | float | str) else Decimal(0)
    except InvalidOperation:
        value = Decimal(0)
    if isinstance(raw, bool) or not value.is_finite() or value < 0:
        value = Decimal(0)
    return Conversion(moment, click, None, value)


def _micros(amount: Decimal) -> str:
    return str(int((amount * 1_000_000).to_integral_value()))


def _number(amount: Decimal) -> Any:
    """A double in the answer, as Google's JSON has it (``3``, ``42.5``)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


class SearchStream:
    """The ``searchStream`` route; ``batch_rows`` rows at most per batch."""

    def __init__(
        self,
        state: SandboxState,
        clock: Clock,
        book: ReportingBook,
        bodies: BodyReader,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self.state = state
        self.clock = clock
        self.book = book
        self.bodies = bodies
        self.batch_rows = batch_rows

    async def search_stream(self, request: Request) -> Response:
        request_id = new_request_id()
        now = self.clock.now()
        version = request.path_params["version"]
        record = RequestRecord(0, now, "searchStream", 200, None, None, None, request_id, None)
        if not _VERSION.fullmatch(version):
            error = errors.not_found(f"{request.method} {request.url.path}")
            record.status, record.reason = error.http, error.status
            self.state.log_request(record)
            return _answer(error.http, [error.body()], error.headers)
        try:
            rows, mask = await self._handle(request, version, now, record)
            batches = [
                {"results": batch, "fieldMask": mask, "requestId": request_id}
                for batch in _chunks(rows, self.batch_rows)
            ]
            response = _answer(200, batches)
        except AdsError as error:
            record.status, record.reason, record.message = error.http, error.code, error.detail
            response = _answer(error.http, [error.failure(version, request_id)], error.headers)
        except GoogleError as error:
            record.status, record.reason = error.http, error.reason or error.status
            record.message = error.message
            response = _answer(error.http, [error.body()], error.headers)
        except Exception:
            log.exception("google sandbox: unexpected error handling %s", request.url.path)
            record.status, record.reason = 500, "INTERNAL"
            response = _answer(500, [errors.server_error(500).body()])
        self.state.log_request(record)
        return response

    def _authenticate(self, request: Request, version: str, now: float) -> None:
        method = f"google.ads.googleads.{version}.services.GoogleAdsService.SearchStream"
        header = request.headers.get("authorization")
        error = None
        if not header:
            error = errors.credentials_missing(method)
        else:
            scheme, _, token = header.partition(" ")
            issued = self.state.tokens.lookup(token.strip()) if token.strip() else None
            if scheme.lower() != "bearer" or issued is None:
                error = errors.invalid_credentials(method)
            elif issued.expired(now):
                error = errors.invalid_credentials(method, expired=True)
            elif self.state.faults.take("token", now=now, credential=issued.credential):
                error = errors.invalid_credentials(method)
            elif ADWORDS_SCOPE not in issued.scopes:
                error = errors.insufficient_scope(method)
                error.metadata["scopes"] = ADWORDS_SCOPE
                error.headers["www-authenticate"] = (
                    'Bearer realm="https://accounts.google.com/", error="insufficient_scope",'
                    f' scope="{ADWORDS_SCOPE}"'
                )
            else:
                return
        error.metadata["service"] = SERVICE
        raise error

    async def _handle(
        self, request: Request, version: str, now: float, record: RequestRecord
    ) -> tuple[list[dict[str, Any]], str]:
        self._authenticate(request, version, now)
        token = request.headers.get("developer-token", "").strip()
        if not token:
            raise AdsError(
                400,
                "INVALID_ARGUMENT",
                "requestError",
                "DEVELOPER_TOKEN_PARAMETER_MISSING",
                "The developer-token parameter is required for all requests.",
            )
        if not _TOKEN.fullmatch(token):
            raise AdsError(
                401,
                "UNAUTHENTICATED",
                "authenticationError",
                "DEVELOPER_TOKEN_INVALID",
                "The developer token is not valid.",
            )
        customer = request.path_params["customer_id"]
        if not _CUSTOMER.fullmatch(customer):
            raise AdsError(
                400,
                "INVALID_ARGUMENT",
                "requestError",
                "INVALID_CUSTOMER_ID",
                "Customer ID is invalid: 10 digits, without dashes.",
            )
        if customer != self.book.account_id:
            raise AdsError(
                403,
                "PERMISSION_DENIED",
                "authorizationError",
                "USER_PERMISSION_DENIED",
                "User doesn't have permission to access customer. Note: If you're accessing a"
                " client customer, the manager's customer id must be set in the"
                " 'login-customer-id' header.",
            )
        async with read_body(self.bodies, request, MAX_CONTROL_BODY) as body:
            try:
                decoded = orjson.loads(body) if body.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise errors.invalid_payload(
                    "", f"Invalid JSON payload received. {str(exc)[:200]}"
                ) from None
        if not isinstance(decoded, dict):
            raise errors.invalid_payload("", "Invalid JSON payload received. Expected an object.")
        unknown = sorted(set(decoded) - {"query", "summaryRowSetting", "summary_row_setting"})
        if unknown:
            name = unknown[0][:64]
            raise errors.invalid_payload(
                name, f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
            )
        text = decoded.get("query")
        if not isinstance(text, str) or not text.strip():
            raise AdsError(
                400,
                "INVALID_ARGUMENT",
                "requestError",
                "REQUIRED_FIELD_MISSING",
                "The query is empty.",
            )
        query = parse_query(text)
        return self._rows(query, customer), _MASKS[query.kind]

    def _rows(self, query: Query, customer: str) -> list[dict[str, Any]]:
        book = self.book
        if query.kind == "account":
            return [
                {
                    "customer": {
                        "resourceName": f"customers/{customer}",
                        "currencyCode": book.currency,
                        "timeZone": book.time_zone,
                    }
                }
            ]
        assert query.since is not None and query.until is not None
        if query.since > query.until:
            return []
        conversions: list[Conversion] = []
        if query.action is not None and query.action[0] == customer:
            recorded = self.state.events(conversion_action=query.action[1], status="kept")
            for rec in recorded:
                if rec.operating_account != customer:
                    continue
                conversion = _conversion(rec)
                if conversion is not None:
                    conversions.append(conversion)
        out: list[dict[str, Any]] = []
        for claim in book.report(conversions, query.since, query.until):
            row: dict[str, Any] = {
                "campaign": {
                    "resourceName": f"customers/{customer}/campaigns/{claim.campaign_id}",
                    "id": claim.campaign_id,
                    "name": claim.campaign_name,
                },
                "segments": {"date": claim.day},
            }
            if query.kind == "spend":
                if not claim.spend:
                    continue
                row["metrics"] = {"costMicros": _micros(claim.spend)}
            else:
                if not claim.conversions:
                    continue
                row["metrics"] = {
                    "allConversions": claim.conversions,
                    "allConversionsValue": _number(claim.value),
                }
            out.append(row)
        return out


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    if not rows:
        yield []
        return
    size = max(1, size)
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    out = {
        "vary": "Origin, X-Origin, Referer",
        "x-content-type-options": "nosniff",
        "content-type": JSON_TYPE,
    }
    out.update(headers or {})
    return Response(orjson.dumps(body), status_code=status, headers=out)
