"""What a platform's reporting API says its ads earned: the ``reporting`` part of a
:class:`~signalyard.sinks.spec.SinkSpec` (``sinks/<platform>/reporting.py``).

A platform folder that can read its own claims (Meta's Ads Insights, Google Ads reporting,
TikTok's reporting API) declares a :class:`ReportingSpec`: which of its destination's options
must be set for it (an ad account, a developer token) and ``fetch``, which asks the platform
for one range of days and answers an :class:`AccountReport`: the account's currency and time
zone, and per day and campaign the conversions the platform counts, their value and the ad
spend. ``signalyard attribution fetch-claims`` (:mod:`signalyard.attribution.fetch`) stores
them beside the shop's own credit; they are data, never truth.

``fetch`` raises :class:`ReportingError` for anything the platform refused or answered
wrongly, with the reason and the operator's fix; never with a token in it.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson

from signalyard import outbound
from signalyard.outcome import DESTINATION

__all__ = [
    "MAX_AMOUNT",
    "MAX_DAYS",
    "MAX_PAGES",
    "AccountReport",
    "ClaimRow",
    "ReportRequest",
    "ReportingError",
    "ReportingSpec",
    "checked_amount",
    "checked_day",
    "day_chunks",
    "day_range",
    "iana_zone",
    "send",
]

MAX_DAYS = 400
"""The longest range of days one fetch asks for (attribution keeps 400 days by default)."""
MAX_AMOUNT = Decimal("1e12")
"""The largest conversions, value or spend a platform's row may hold (beyond: an answer to
refuse, not a number to add)."""
MAX_PAGES = 1000
"""The most pages one fetch follows: a platform that keeps answering "more" is stopped."""


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """One day and campaign of what a platform claims, in its account's currency."""

    day: str
    """``YYYY-MM-DD``, the ad account's day (its time zone)."""
    campaign: str
    """The campaign's name (as ``utm_campaign`` usually carries it); ``""``: the account."""
    conversions: Decimal
    value: Decimal
    spend: Decimal


@dataclass(frozen=True, slots=True)
class AccountReport:
    """What one ad account's reporting API answered for a range of days."""

    account_id: str
    currency: str
    """ISO 4217, the account's: every value and spend of ``rows`` is in it."""
    time_zone: str
    """IANA name, the account's: ``rows`` are its days."""
    counted: str
    """What the platform counted, for the report: its action type and window
    (``offsite_conversion.fb_pixel_purchase, 7d_click``)."""
    rows: tuple[ClaimRow, ...]


class ReportingError(Exception):
    """The platform did not give its claims: ``reason`` (what it answered, no secret) and
    ``fix`` (what the operator does about it)."""

    def __init__(self, reason: str, fix: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


def throttled(reason: str, platform: str) -> ReportingError:
    """The platform throttled the requests (HTTP 429, or its own code for it)."""
    return ReportingError(
        reason, f"{platform} throttled the requests: fetch again in a few minutes"
    )


def platform_failed(reason: str, platform: str) -> ReportingError:
    """The platform failed on its side (HTTP 5xx, or its own code for it)."""
    return ReportingError(reason, f"{platform} had an internal error: fetch again later")


def unexplained(reason: str, platform: str) -> ReportingError:
    """A refusal the platform folder has no better fix for."""
    return ReportingError(reason, f"fetch again later; if it persists, read {platform}'s message")


Fetch = Callable[[Any, httpx.AsyncClient, datetime.date, datetime.date], Awaitable[AccountReport]]
"""``fetch(config, client, since, until)``: the claims of the days ``since`` .. ``until``
(inclusive, the account's days) with the destination's config (its own ``Config`` class)."""


@dataclass(frozen=True, slots=True)
class ReportingSpec:
    fetch: Fetch
    missing: Callable[[Any], str | None]
    """``missing(config)``: ``None`` when the config has what reporting needs, else which
    option or secret to set and where the operator finds it (``ad_account_id: the ad
    account's id, Ads Manager → Account overview``)."""
    counted: str
    """What the platform counts as a claim (the report and the docs show it)."""
    scope: Callable[[Any], str]
    """``scope(config)``: what the config's claims are of (an ad account, and what is counted
    in it: Meta's action type and window, Google's conversion action): two destinations of
    one scope give the same claims and are fetched once."""
    url_options: tuple[str, ...] = ()
    """The base-URL options used only to read claims (a reporting API on a host of its own:
    Google Ads, Snap's Marketing API). They are among the ``SinkSpec``'s ``url_options`` too,
    so that ``sandbox`` resolves; where a destination's events go is told by the others."""
    example: Mapping[str, object] = field(default_factory=dict)
    """Options that, added to the kind's example config (``SinkSpec.example``), make it
    fetch from a fresh sandbox (whose account id is ``1234567890``): for tests and docs."""


def checked_amount(value: object, most: Decimal = MAX_AMOUNT) -> Decimal:
    """A platform's count or amount (a JSON number or its text) as an exact Decimal, 0 for
    ``None``; raises ``ValueError`` for anything else, a negative, or one over ``most``
    (:data:`MAX_AMOUNT`; an amount in micros may be a million times more)."""
    if value is None:
        return Decimal(0)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | str)
        or (isinstance(value, str) and len(value) > 40)
    ):
        raise ValueError("not a number")
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise ValueError("not a number") from None
    if not number.is_finite() or not 0 <= number <= most:
        raise ValueError(f"not a number from 0 to {most:E}")
    return number


def checked_day(value: object) -> str:
    """A platform's day as ``YYYY-MM-DD``; raises ``ValueError`` for anything else."""
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("not a day YYYY-MM-DD")
    return datetime.date.fromisoformat(value).isoformat()


def day_range(since: datetime.date, until: datetime.date) -> list[str]:
    """The days ``since`` .. ``until`` as ``YYYY-MM-DD``; raises ``ValueError`` for a range
    backwards or over :data:`MAX_DAYS`."""
    days = (until - since).days + 1
    if days < 1:
        raise ValueError(f"until ({until}) is before since ({since})")
    if days > MAX_DAYS:
        raise ValueError(f"{days} days: fetch at most {MAX_DAYS} at a time")
    return [(since + datetime.timedelta(days=i)).isoformat() for i in range(days)]


def day_chunks(
    since: datetime.date, until: datetime.date, most: int
) -> list[tuple[datetime.date, datetime.date]]:
    """``since`` .. ``until`` cut into ranges of at most ``most`` days (a platform's limit
    per request); ``ValueError`` for a range backwards or too long (:func:`day_range`)."""
    day_range(since, until)
    chunks: list[tuple[datetime.date, datetime.date]] = []
    start = since
    while start <= until:
        end = min(until, start + datetime.timedelta(days=most - 1))
        chunks.append((start, end))
        start = end + datetime.timedelta(days=1)
    return chunks


def iana_zone(value: object) -> str | None:
    """``value`` when it is an IANA time zone name this machine knows, else ``None``."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        ZoneInfo(value)
    except (KeyError, ValueError, OSError):
        return None
    return value


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """One request of a claims fetch: its method, URL, query, headers (the token is in
    ``headers`` only, and never in a repr) and JSON body, if any."""

    method: str
    url: str
    params: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    body: dict[str, Any] | None = None


async def send(
    client: httpx.AsyncClient,
    request: ReportRequest,
    *,
    timeout: float,
    label: str,
    url_option: str = "api_url",
) -> tuple[int, bytes]:
    """Send ``request``: the answer's status and body, or :class:`ReportingError` when none
    came (``label`` names the API in the message: "TikTok's advertiser/info";
    ``url_option``: the destination's option that says where it is)."""
    try:
        reply = await outbound.request(
            client,
            request.method,
            request.url,
            params=request.params,
            headers=request.headers,
            content=None if request.body is None else orjson.dumps(request.body),
            timeout=timeout,
        )
    except httpx.TimeoutException:
        raise ReportingError(
            f"no answer from {label} within {timeout:g}s",
            "fetch again later, or raise the option timeout_seconds",
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise ReportingError(
            f"{label} could not be reached ({type(error).__name__})",
            f"check the network and the option {url_option} (`signalyard destinations show"
            f" {DESTINATION}`)",
        ) from None
    return reply.status, reply.body
