"""Request decoding: every encoding Meta's ``/events`` edge accepts (reference §1.2).

* ``application/json``: ``{"data": [...], "access_token": "...", ...}`` (Node SDK, curl);
* ``application/x-www-form-urlencoded`` and ``multipart/form-data``: ``data`` is a JSON string
  (Meta's curl samples; the Python SDK, whose ``data`` is a JSON list of JSON *strings*);
* parameters in the query string (the Python SDK puts ``access_token`` and
  ``appsecret_proof`` there; Graph reads any parameter from the query);
* ``Authorization: Bearer <token>`` (or ``OAuth <token>``).

Body parameters win over query parameters of the same name. ``data`` may be a list or a
JSON string of one; each element may be an object or a JSON string of one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

from ...errors import InputError, TooLarge
from ...sources.body import BodyReader, Busy, Disconnected, SlowBody, error_headers
from ..bodies import DEFAULT_MAX_BODY_BYTES, HeldBody
from ..bodies import read_body as shared_read_body
from . import errors
from .errors import GraphError

MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES
"""The largest request body accepted (a larger one gets Graph's code 100, HTTP 413). Meta
publishes no byte limit for the events edge, only 1,000 events per request; this is the
gateway's own limit for its Graph-compatible ingest (``max_body_bytes``), which a mounted
sandbox takes from the settings."""
MAX_EVENTS = 1000

#: Top-level parameters the edge knows (reference §1.3); all are strings on the wire.
STRING_PARAMS = (
    "test_event_code",
    "partner_agent",
    "namespace_id",
    "upload_id",
    "upload_tag",
    "upload_source",
    "appsecret_proof",
)


@dataclass(slots=True)
class GraphRequest:
    """A decoded request: merged parameters, where the token came from, the encoding."""

    encoding: str
    params: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    token_source: str | None = None

    def string_param(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise errors.param_invalid(name, "must be a string")
        return str(value)


def body_error(error: InputError, limit: int) -> GraphError:
    """Graph's answer to a body the reader refused: too large (413), malformed
    ``Content-Length`` (400), too slow (408, connection closed), no room (503,
    ``Retry-After``), or a client gone before sending it all (answered to no one)."""
    if isinstance(error, TooLarge):
        return errors.body_too_large(limit)
    if isinstance(error, Busy | SlowBody | Disconnected):
        return GraphError(
            f"(#{error.code}) {error.message}",
            code=error.code,
            status=error.status,
            title=error.title or "Temporary error",
            transient=True,
            headers=error_headers(error),
        )
    return errors.param_invalid(error.field, error.rule)


def read_body(bodies: BodyReader, request: Request, limit: int = MAX_BODY_BYTES) -> HeldBody:
    """``async with read_body(bodies, request, limit) as body``: the body, held in the
    reader's budget until the block ends; a refused body raises :class:`GraphError`."""
    return shared_read_body(bodies, request, limit, lambda error: body_error(error, limit))


def _encoding(content_type: str, body: bytes) -> str:
    ct = content_type.split(";", 1)[0].strip().lower()
    if not body.strip():
        return "query"
    if ct.endswith("json"):
        return "json"
    if ct == "application/x-www-form-urlencoded":
        return "form"
    if ct == "multipart/form-data":
        return "multipart"
    # Graph is lenient about content types; sniff like it.
    return "json" if body.lstrip()[:1] in (b"{", b"[") else "form"


def _form_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.param_invalid("body", "must be UTF-8 form data") from None
    return parse_qsl(text, keep_blank_values=True)


async def _multipart_pairs(request: Request, body: bytes) -> list[tuple[str, str]]:
    # Every part is within the body, which read_body has already bounded.
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(
            max_files=10, max_fields=1000, max_part_size=max(len(body), 1)
        )
    except Exception as exc:  # multipart errors come in several classes
        raise errors.param_invalid("body", f"must be valid multipart/form-data ({exc})") from None
    pairs: list[tuple[str, str]] = []
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                raw = await value.read()
                try:
                    pairs.append((key, raw.decode("utf-8")))
                except UnicodeDecodeError:
                    raise errors.param_invalid(key, "must be UTF-8 text") from None
            else:
                pairs.append((key, value))
    finally:
        await form.close()
    return pairs


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth is None:
        return None
    scheme, _, value = auth.partition(" ")
    if scheme.lower() in ("bearer", "oauth"):
        return value.strip()
    return None


async def parse_request(request: Request, body: bytes) -> GraphRequest:
    """Decode the body (read with :func:`read_body`) and query into a :class:`GraphRequest`.
    Raises :class:`GraphError`."""
    encoding = _encoding(request.headers.get("content-type", ""), body)
    params: dict[str, Any] = dict(request.query_params.items())
    if encoding == "json":
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise errors.param_invalid("body", f"must be valid JSON ({exc})") from None
        if not isinstance(decoded, dict):
            raise errors.param_invalid("body", "must be a JSON object with a data array")
        params.update(decoded)
    elif encoding == "form":
        params.update(_form_pairs(body))
    elif encoding == "multipart":
        params.update(await _multipart_pairs(request, body))

    req = GraphRequest(encoding=encoding, params=params)
    token = params.get("access_token")
    if token is not None:
        req.token = token if isinstance(token, str) else ""
        req.token_source = "query" if "access_token" in request.query_params else encoding
    else:
        bearer = _bearer(request)
        if bearer is not None:
            req.token, req.token_source = bearer, "header"
    return req


def _decode_event(index: int, element: Any) -> Any:
    if isinstance(element, str | bytes):
        try:
            element = orjson.loads(element)
        except orjson.JSONDecodeError as exc:
            raise errors.param_invalid(
                f"data[{index}]", f"must be a JSON object or a JSON-encoded object ({exc})"
            ) from None
    if not isinstance(element, dict):
        raise errors.param_invalid(f"data[{index}]", "must be a JSON object")
    return element


def decode_data(req: GraphRequest, limit: int = MAX_EVENTS) -> list[dict[str, Any]]:
    """``data`` as a list of event objects. Raises :class:`GraphError` (code 100)."""
    raw = req.params.get("data")
    if raw is None or raw == "":
        raise errors.param_required("data")
    if isinstance(raw, str | bytes):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise errors.param_invalid(
                "data", f"must be a JSON-encoded array of events ({exc})"
            ) from None
    if not isinstance(raw, list):
        raise errors.param_invalid("data", "must be an array of events")
    if not raw:
        raise errors.param_invalid("data", "must contain at least one event")
    if len(raw) > limit:
        raise errors.too_many_events(len(raw), limit)
    return [_decode_event(i, element) for i, element in enumerate(raw)]


def event_id_of(event: dict[str, Any]) -> str | None:
    value = event.get("event_id")
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int):
        return str(value)
    return None
