"""``/collect``: events from the first-party browser script, and ``/sy.js``, the script.

- ``POST /collect/{dataset_id}``: ``{"events": [...]}`` as the script sends it (see
  docs/browser.md). The client's IP address and user agent come from the request (the
  address from ``X-Forwarded-For`` only when the peer is a trusted proxy), ``action_source``
  is ``website``; the events then take the same path as the Graph-compatible endpoint
  (:class:`~signalyard.sources.ingest.Ingestor`), with their ``consent`` and ``click_ids``.
  ``"consent_token"`` beside ``events`` is the browser's key to its own events
  (:mod:`.consent_token`); a request without one is given one in the answer.
- ``POST /collect/{dataset_id}/consent``: ``{"consent_token", "state", "source"?}``: consent
  given (or refused) later by that browser decides again for the events it sent with that
  token, and for its later ones; without a token, 403 and nothing changes.
- Only pages of the dataset's allowed origins may send (``signalyard datasets
  set-origins``): a request whose ``Origin`` (or, without one, ``Referer``) is not allowed
  gets 403 and no CORS headers. Known crawlers and HTTP libraries are ignored (202); each
  client address may send ``rate_limit_per_minute`` requests per dataset (then 429).

Errors are ``{"error": {"message", "field", "rule"}}`` with a 4xx; never the value.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response

from signalyard.clock import Clock
from signalyard.errors import InputError, TooLarge
from signalyard.event import Consent
from signalyard.settings import CollectSettings
from signalyard.sources.body import BodyReader, error_headers
from signalyard.sources.consent_token import new_token, read_token, token_key
from signalyard.sources.ingest import Ingestor
from signalyard.sources.origins import get_allowed_origins, origin_allowed
from signalyard.sources.ratelimit import RateLimiter
from signalyard.store.base import Dataset, Store
from signalyard.transforms.consent import parse_consent

__all__ = ["CollectEndpoint", "is_crawler", "parse_trusted_proxies"]

_BOT = re.compile(
    r"bot\b|bot/|crawler|spider|crawling|slurp|facebookexternalhit|facebookcatalog"
    r"|mediapartners-google|adsbot|lighthouse|pingdom|uptimerobot|statuscake|headlesschrome.*\bbot"
    r"|python-requests|python-urllib|aiohttp|httpx|curl/|wget/|go-http-client|okhttp|java/"
    r"|libwww-perl|scrapy|phantomjs|ahrefs|semrush|mj12|dotbot|petalbot|bytespider|gptbot"
    r"|ccbot|claudebot|amazonbot|applebot|yandex|baiduspider|duckduckbot|bingpreview",
    re.IGNORECASE,
)
_CACHE_SECONDS = 5.0
_RECHECK_SECONDS = 1.0
_WEBSITE_TIME_SLACK = 600


def is_crawler(user_agent: str) -> bool:
    """A user agent of a known crawler, monitor or HTTP library (never a person's browser);
    an empty one counts too."""
    return not user_agent.strip() or _BOT.search(user_agent) is not None


def parse_trusted_proxies(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` → networks; raises ``ConfigError`` naming a bad entry."""
    out = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(
                f"collect.trusted_proxies: {item!r} is not an address or CIDR"
            ) from None
    return tuple(out)


def _error(error: InputError, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": error.message, "field": error.field, "rule": error.rule}}
    return Response(
        orjson.dumps(body),
        status_code=error.status,
        media_type="application/json",
        headers=headers,
    )


class Forbidden(InputError):
    status = 403


class CollectEndpoint:
    def __init__(
        self,
        store: Store,
        ingestor: Ingestor,
        clock: Clock,
        settings: CollectSettings,
        *,
        script: bytes,
        bodies: BodyReader,
    ) -> None:
        self.bodies = bodies
        self.store = store
        self.ingestor = ingestor
        self.clock = clock
        self.settings = settings
        self.trusted = parse_trusted_proxies(settings.trusted_proxies)
        self.limiter = RateLimiter(settings.rate_limit_per_minute, monotonic=clock.monotonic)
        self.script = script
        self.script_etag = '"' + hashlib.sha256(script).hexdigest()[:32] + '"'
        self._cache: dict[str, tuple[float, Dataset | None, tuple[str, ...]]] = {}

    # the client ------------------------------------------------------------------------------

    def client_ip(self, request: Request) -> str:
        """The connection's peer; when that is a trusted proxy, the right-most address of
        ``X-Forwarded-For`` that is not itself a trusted proxy."""
        peer = request.client.host if request.client else ""
        if not self.trusted or not self._is_trusted(peer):
            return peer
        forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop if _is_address(hop) else peer
        return hops[0] if hops and _is_address(hops[0]) else peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    async def _dataset(
        self, dataset_id: str, *, max_age: float = _CACHE_SECONDS
    ) -> tuple[Dataset | None, tuple[str, ...]]:
        now = self.clock.monotonic()
        cached = self._cache.get(dataset_id)
        if cached is not None and now - cached[0] < max_age:
            return cached[1], cached[2]
        dataset = await self.store.get_dataset(dataset_id)
        origins = await get_allowed_origins(self.store, dataset_id) if dataset else ()
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[dataset_id] = (now, dataset, origins)
        return dataset, origins

    async def _check(self, request: Request) -> tuple[Dataset, dict[str, str]]:
        """The dataset and the CORS headers, or an ``InputError`` (404/403/429)."""
        dataset_id = request.path_params["dataset_id"]
        dataset, allowed = await self._dataset(dataset_id)
        origin = request.headers.get("origin")
        if dataset is None or origin is None or not origin_allowed(origin, allowed):
            # Not allowed as cached: read again (at most once a second) so that a dataset or
            # an origin just added works at once.
            dataset, allowed = await self._dataset(dataset_id, max_age=_RECHECK_SECONDS)
        if dataset is None:
            raise _NotFound("dataset_id", f"no dataset {dataset_id!r} on this gateway")
        claimed = origin
        if claimed is None or claimed == "null":
            referer = request.headers.get("referer", "")
            parts = urlsplit(referer)
            claimed = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
        if not allowed:
            raise Forbidden(
                "Origin",
                f"dataset {dataset_id} allows no page origins yet: add yours with"
                f" `signalyard datasets set-origins {dataset_id} https://your.shop`",
            )
        if claimed is None or not origin_allowed(claimed, allowed):
            raise Forbidden("Origin", f"not an allowed origin of dataset {dataset_id}")
        headers = {"Vary": "Origin"}
        if origin is not None and origin != "null":
            headers["Access-Control-Allow-Origin"] = origin
        wait = self.limiter.allow((dataset_id, self.client_ip(request)))
        if wait:
            raise _Throttled(
                "",
                f"too many requests from this address; try again in {max(1, round(wait))} s",
                retry_after=wait,
                headers=headers,
            )
        return dataset, headers

    # routes ----------------------------------------------------------------------------------

    async def preflight(self, request: Request) -> Response:
        dataset, allowed = await self._dataset(request.path_params["dataset_id"])
        origin = request.headers.get("origin", "")
        if dataset is None or not origin_allowed(origin, allowed):
            dataset, allowed = await self._dataset(
                request.path_params["dataset_id"], max_age=_RECHECK_SECONDS
            )
        if dataset is None or not origin_allowed(origin, allowed):
            return Response(status_code=403)
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "86400",
                "Vary": "Origin",
            },
        )

    async def collect(self, request: Request) -> Response:
        headers: dict[str, str] = {}
        try:
            dataset, headers = await self._check(request)
            user_agent = request.headers.get("user-agent", "")
            if self.settings.filter_bots and is_crawler(user_agent):
                return _json({"events_received": 0, "ignored": "known crawler"}, 202, headers)
            async with self.bodies.read(request, self.settings.max_body_bytes, small=True) as data:
                async with self.bodies.turns.decode(len(data)):
                    body = _json_body(data)
                events = body.get("events")
                if not isinstance(events, list) or not events:
                    raise InputError("events", "must be a non-empty list of events")
                if len(events) > self.settings.max_events:
                    raise TooLarge("events", f"at most {self.settings.max_events} per request")
                now = self.clock.now()
                ip = self.client_ip(request)
                raw = [self._server_side(i, e, ip, user_agent, now) for i, e in enumerate(events)]
                token = read_token(body.get("consent_token"))
                issued = token is None
                if token is None:
                    token = new_token()
                try:
                    result = await self.ingestor.ingest(
                        raw, dataset, source="browser", consent_token_key=token_key(token)
                    )
                except InputError as error:
                    raise _renamed(error) from None
        except InputError as error:
            return _error(error, _headers_for(error, headers))
        answer: dict[str, Any] = {
            "events_received": result.received,
            "messages": list(result.messages),
        }
        if issued:
            # This browser's key to its own events: only a page that has it may give consent
            # for them later (POST /collect/{dataset}/consent).
            answer["consent_token"] = token
        return _json(answer, 200, headers)

    async def consent(self, request: Request) -> Response:
        """Consent given later by a page, for the events its browser sent: only with the
        consent token those events carried (403 without one; see :mod:`.consent_token`), never
        by ``fbp`` (no secret) nor for the subjects servers chose. Answered 204 without saying
        what changed, whether the token is known or not: a page learns nothing about held
        events, its own or other browsers'."""
        headers: dict[str, str] = {}
        try:
            dataset, headers = await self._check(request)
            if self.settings.filter_bots and is_crawler(request.headers.get("user-agent", "")):
                return Response(status_code=204, headers=headers)
            async with self.bodies.read(request, 4096, small=True) as data:
                body = _json_body(data)
            token = read_token(body.get("consent_token"))
            if token is None:
                raise Forbidden(
                    "consent_token",
                    "is required: the consent_token this browser's /collect requests carry"
                    " (the fbp is no proof of being that browser)",
                )
            state = body.get("state")
            if state not in ("granted", "denied"):
                raise InputError("state", "must be granted or denied")
            source = body.get("source")
            given = parse_consent(
                {"state": state, "source": "script" if source in (None, "none") else source}
            )
            update = await self.store.update_consent(
                dataset.id,
                token_key(token),
                Consent(state=given.state, source=given.source),
                now=self.clock.now(),
            )
        except InputError as error:
            return _error(error, _headers_for(error, headers))
        if update.released:
            self.ingestor.wake_delivery()
        return Response(status_code=204, headers=headers)

    async def serve_script(self, request: Request) -> Response:
        headers = {
            "Cache-Control": "public, max-age=3600",
            "ETag": self.script_etag,
            "X-Content-Type-Options": "nosniff",
        }
        if self.script_etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(self.script, media_type="text/javascript; charset=utf-8", headers=headers)

    # --------------------------------------------------------------------------------------

    def _server_side(
        self, index: int, event: object, ip: str, user_agent: str, now: float
    ) -> dict[str, Any]:
        """The browser's event as a server event: its address and agent from the request,
        ``action_source`` website, a clock-skewed ``event_time`` replaced by ours."""
        if not isinstance(event, dict):
            raise InputError(f"events[{index}]", "must be an object")
        out = dict(event)
        consent = out.get("consent")
        if isinstance(consent, dict) and consent.get("subject") is not None:
            # A page speaks only for its own browser (its fbp), never for a subject a server
            # chose: that would let anyone release events held for someone else.
            raise InputError(
                f"events[{index}].consent.subject",
                "is not accepted from a browser: its consent is about its own fbp",
            )
        user_data = out.get("user_data")
        if user_data is None:
            user_data = {}
        if not isinstance(user_data, dict):
            raise InputError(f"events[{index}].user_data", "must be an object")
        user_data = {
            k: v
            for k, v in user_data.items()
            if k not in ("client_ip_address", "client_user_agent")
        }
        if ip:
            user_data["client_ip_address"] = ip
        if user_agent:
            user_data["client_user_agent"] = user_agent[:1024]
        out["user_data"] = user_data
        out["action_source"] = "website"
        event_time = out.get("event_time")
        if (
            not isinstance(event_time, int)
            or isinstance(event_time, bool)
            or not now - 7 * 86400 + _WEBSITE_TIME_SLACK < event_time < now + _WEBSITE_TIME_SLACK
        ):
            # A browser's clock may be wrong (or the value missing): the time we received it.
            out["event_time"] = int(now)
        return out


class _NotFound(InputError):
    status = 404


class _Throttled(InputError):
    status = 429

    def __init__(
        self, field: str, rule: str, *, retry_after: float, headers: dict[str, str]
    ) -> None:
        super().__init__(field, rule)
        self.retry_after = retry_after
        self.headers = headers


def _headers_for(error: InputError, headers: dict[str, str]) -> dict[str, str]:
    if isinstance(error, _Throttled):
        return {**error.headers, "Retry-After": str(max(1, math.ceil(error.retry_after)))}
    extra = error_headers(error)
    return {**headers, **extra} if extra else headers


def _renamed(error: InputError) -> InputError:
    """``data[2].user_data...`` (the ingestor's path) as ``events[2].user_data...``."""
    field = re.sub(r"^data\[", "events[", error.field)
    return type(error)(field, error.rule, code=error.code, subcode=error.subcode)


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InputError("body", "must be a JSON object (UTF-8)") from None
    if not isinstance(data, dict):
        raise InputError("body", "must be a JSON object")
    return data


def _json(body: dict[str, Any], status: int, headers: dict[str, str]) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
