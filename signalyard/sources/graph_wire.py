"""Decoding a Graph API ``/events`` request the way Meta does.

Accepted: a JSON body; ``application/x-www-form-urlencoded``; ``multipart/form-data``; with
``data`` as a list, a JSON-encoded string, and elements that are themselves JSON strings
(the official Python SDK sends that). ``access_token`` comes from the query, the body or an
``Authorization: Bearer`` header. Pure: bytes in, :class:`GraphRequest` or ``InputError`` out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from signalyard.errors import InputError

TOP_LEVEL = frozenset(
    {
        "data",
        "access_token",
        "appsecret_proof",
        "test_event_code",
        "partner_agent",
        "namespace_id",
        "upload_id",
        "upload_tag",
        "upload_source",
        "platforms",
        "progress",
        "trace",
        "method",
        "format",
        "suppress_http_code",
        "pretty",
    }
)
_STRING_PARAMS = (
    "test_event_code",
    "partner_agent",
    "namespace_id",
    "upload_id",
    "upload_tag",
    "upload_source",
)
_VERSION = re.compile(r"v[0-9]{1,3}\.[0-9]{1,2}")


@dataclass(frozen=True, slots=True)
class GraphRequest:
    access_token: str | None
    data: list[Any]
    params: dict[str, str] = field(default_factory=dict)
    """``test_event_code``, ``partner_agent``, ``namespace_id``, ``upload_*`` when given."""


def check_version(version: str) -> None:
    if not _VERSION.fullmatch(version):
        raise InputError(
            "version",
            "unknown path components: the API version must look like v26.0",
            code=2500,
        )


def _loads(raw: bytes | str, field_name: str, rule: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InputError(field_name, rule) from None


def parse_body(
    content_type: str, body: bytes, multipart_fields: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The request's parameters from its body (multipart is decoded by the caller)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if multipart_fields is not None:
        return dict(multipart_fields)
    if not body.strip():
        return {}
    if kind == "application/json" or (kind == "" and body.lstrip()[:1] in (b"{", b"[")):
        params = _loads(body, "body", "the body is not valid JSON")
        if not isinstance(params, dict):
            raise InputError("body", "the JSON body must be an object with a data field")
        return params
    if kind in ("application/x-www-form-urlencoded", "", "text/plain"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("body", "the form body is not valid UTF-8") from None
        try:
            return dict(
                parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=200)
            )
        except ValueError:
            raise InputError("body", "the form body has too many fields") from None
    raise InputError(
        "Content-Type",
        f"unsupported content type {kind[:60]!r}: send application/json,"
        " application/x-www-form-urlencoded or multipart/form-data",
    )


def token_outside_body(query: Mapping[str, str], authorization: str | None) -> str | None:
    """The ``access_token`` of the query string, else of an ``Authorization: Bearer`` header:
    what can be checked before the body is read."""
    token = query.get("access_token")
    if not token and authorization and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
    return token or None


def decode(
    params: Mapping[str, Any],
    query: Mapping[str, str],
    authorization: str | None,
    *,
    max_events: int,
) -> GraphRequest:
    token = params.get("access_token") or token_outside_body(query, authorization)
    if token is not None and not isinstance(token, str):
        raise InputError("access_token", "must be a string")
    if "data" not in params:
        if "data" in query:
            params = {**params, "data": query["data"]}
        else:
            raise InputError("data", "the parameter data is required: a list of events")
    data = params["data"]
    if isinstance(data, str):
        data = _loads(data, "data", "data must be a JSON-encoded list of events")
    if not isinstance(data, list):
        raise InputError("data", "must be a list of events")
    if not data:
        raise InputError("data", "must hold at least one event")
    if len(data) > max_events:
        raise InputError("data", f"holds {len(data)} events; at most {max_events} per request")
    for i, item in enumerate(data):
        if isinstance(item, str):
            data[i] = _loads(item, f"data[{i}]", "an event given as a string must be JSON")
    extra: dict[str, str] = {}
    for name in _STRING_PARAMS:
        value = params.get(name)
        if value is None and query:
            value = query.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > 256:
            raise InputError(name, "must be a string of at most 256 characters")
        extra[name] = value
    return GraphRequest(access_token=token or None, data=data, params=extra)
