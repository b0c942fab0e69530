"""Meta's part of the sandbox's control plane under ``/_sandbox/`` (plain JSON, not
Graph-shaped; the routes all sandboxes share are :mod:`signalyard.sandbox.control_common`).

* ``GET /_sandbox/events`` filters: ``dataset_id``, ``event_name``, ``event_id``,
  ``test_event_code``, ``source`` (server/browser), ``dedup`` (kept/deduplicated/no_event_id);
* ``GET /_sandbox/summary``: per dataset and event name, counts, batch sizes, dedup pairs,
  match-quality estimate;
* ``GET /_sandbox/requests`` filter: ``dataset_id`` (no tokens shown);
* ``POST /_sandbox/browser-events`` (Meta's own): simulate Pixel events, ``{"dataset_id",
  "event_name", "event_id", "time"?}`` or a list of them, for deduplication;
* ``DELETE /_sandbox/state`` forgets events, requests, dedup keys and statistics.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from ..bodies import MAX_CONTROL_BODY
from ..control_common import (
    FAULT_ENDPOINTS,
    BadControlRequest,
    Control,
    control_json,
    error_json,
    query,
    refused_as,
)
from ..reporting_common import REPORTING_ENDPOINTS
from .parse import body_error
from .recorder import RecordedEvent, RequestRecord, SandboxState

ENDPOINTS = {
    "GET /_sandbox/events": "recorded events, newest first "
    "(dataset_id, event_name, event_id, test_event_code, source, dedup, limit)",
    "GET /_sandbox/summary": "per dataset and event name: counts, dedup, match quality",
    "GET /_sandbox/requests": "recent requests (dataset_id, limit)",
    "POST /_sandbox/browser-events": "simulate Pixel events for deduplication",
    "DELETE /_sandbox/state": "reset recordings (faults are kept)",
    **FAULT_ENDPOINTS,
    **REPORTING_ENDPOINTS,
    "POST /{version}/{dataset_id}/events": "the emulated Conversions API endpoint",
    "GET /{version}/act_{account_id}/insights": "the ad account's Ads Insights (claims)",
}
_EVENT_FILTERS = ("dataset_id", "event_name", "event_id", "test_event_code", "source", "dedup")


def control(state: SandboxState, clock: Clock, bodies: BodyReader) -> Control:
    def events(request: Request, limit: int) -> list[RecordedEvent]:
        return state.events(limit=limit, **query(request, _EVENT_FILTERS))

    def requests(request: Request, limit: int) -> list[RequestRecord]:
        return state.requests(dataset_id=request.query_params.get("dataset_id"), limit=limit)

    return Control(
        sandbox="meta",
        endpoints=ENDPOINTS,
        state=state,
        clock=clock,
        bodies=bodies,
        refuse=refused_as(lambda error: body_error(error, MAX_CONTROL_BODY)),
        find_events=events,
        find_requests=requests,
    )


class BrowserEvents:
    """``POST /_sandbox/browser-events``: simulate the Pixel sending events, for dedup."""

    def __init__(self, state: SandboxState, control: Control) -> None:
        self.state = state
        self.control = control

    async def post(self, request: Request) -> Response:
        try:
            body = await self.control.json_body(request)
            items = body if isinstance(body, list) else [body]
            parsed = [_browser_event(i, item) for i, item in enumerate(items)]
        except BadControlRequest as exc:
            return error_json(str(exc), exc.status, exc.headers)
        recorded = [self.state.record_browser_event(*args) for args in parsed]
        return control_json({"events": [r.to_json() for r in recorded]}, 201)


def _browser_event(i: int, item: Any) -> tuple[str, str, str, float | None]:
    if not isinstance(item, dict):
        raise BadControlRequest(f"[{i}] must be an object")
    fields = []
    for key in ("dataset_id", "event_name", "event_id"):
        value = item.get(key)
        if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
            raise BadControlRequest(f"[{i}].{key} is required (a string)")
        fields.append(str(value))
    when = item.get("time")
    if when is not None and (isinstance(when, bool) or not isinstance(when, int | float)):
        raise BadControlRequest(f"[{i}].time must be Unix seconds")
    return fields[0], fields[1], fields[2], None if when is None else float(when)
