"""Canonical events -> the body of ``POST /{version}/{pixel_id}/events``. Pure; snapshot-tested.

Events arrive normalized and hashed, in Meta's own shape, so building the body is a matter of
keeping the fields Meta knows and leaving out Signalyard's own (keys starting with ``_``).
The body is compact JSON (``application/json``), as the Node Business SDK sends it:
``{"data": [...], "access_token": ..., "appsecret_proof"?, "test_event_code"?,
"partner_agent"?}``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from signalyard.event import SERVER_EVENT_FIELDS, ServerEvent

if TYPE_CHECKING:
    from signalyard.sinks.meta.config import MetaConfig

__all__ = ["EVENT_FIELDS", "appsecret_proof", "build_body", "events_url", "object_url"]

EVENT_FIELDS = SERVER_EVENT_FIELDS
"""The server-event fields Meta knows, in the order they are written."""

_CLEANED_OBJECTS = frozenset({"user_data", "custom_data", "app_data"})
"""Objects whose own ``_``-keys are Signalyard's too (Meta defines none starting with ``_``)."""


def build_body(
    events: Sequence[ServerEvent],
    *,
    access_token: str,
    appsecret_proof: str | None,
    test_event_code: str | None,
    partner_agent: str | None,
) -> bytes:
    """The request body for one batch. Raises ``orjson.JSONEncodeError`` on a value JSON lacks."""
    body: dict[str, Any] = {"data": [_event(event) for event in events]}
    body["access_token"] = access_token
    if appsecret_proof:
        body["appsecret_proof"] = appsecret_proof
    if test_event_code:
        body["test_event_code"] = test_event_code
    if partner_agent:
        body["partner_agent"] = partner_agent
    return orjson.dumps(body)


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """Hex HMAC-SHA256 of the access token keyed by the app secret (Graph "secure requests")."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def events_url(config: MetaConfig) -> str:
    """``{graph_url}/{api_version}/{pixel_id}/events``."""
    return f"{object_url(config)}/events"


def object_url(config: MetaConfig) -> str:
    """``{graph_url}/{api_version}/{pixel_id}``: the dataset itself (for the healthcheck)."""
    return f"{config.graph_url.rstrip('/')}/{config.api_version}/{config.pixel_id}"


def _event(event: ServerEvent) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in EVENT_FIELDS:
        value = event.get(name)
        if value is None:
            continue
        if name in _CLEANED_OBJECTS and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if not str(k).startswith("_")}
        out[name] = value
    return out
