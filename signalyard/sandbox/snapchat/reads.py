"""Snap's two read routes of the test facility (Snap's OpenAPI):

* ``GET /v3/{asset_id}/events/validate/logs``: the validated (test) events of the asset,
  newest first (``GetLogsResponse``: ``{"status": "SUCCESS", "reason", "logs": [...]}``, each
  log with ``event_name``, ``event_time``, ``action_source``, ``status``, ``asset_id``,
  ``error_records`` and ``warning_records``);
* ``GET /v3/{asset_id}/events/validate/stats``: per test and live, the events of the past
  hour and the time of the newest (``GetStatsResponse``).

Both want the ``access_token`` query parameter (401 otherwise) and answer Snap's shapes;
the logs show the event's name and status, never its user data.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ..digest import MIN_TOKEN_LENGTH
from . import errors
from .errors import SnapError, error_response, snap_json
from .recorder import SandboxState

MAX_LOGS = 100


def _check_token(request: Request) -> None:
    token = request.query_params.get("access_token", "")
    if not token:
        raise errors.missing_token()
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise errors.invalid_token()


class Reads:
    def __init__(self, state: SandboxState, clock: Clock) -> None:
        self.state = state
        self.clock = clock

    async def logs(self, request: Request) -> Response:
        try:
            _check_token(request)
        except SnapError as error:
            return error_response(error)
        asset_id = request.path_params["asset_id"]
        found = self.state.events(asset_id=asset_id, test=True, limit=MAX_LOGS)
        return snap_json(
            {
                "status": "SUCCESS",
                "reason": f"{len(found)} test events",
                "logs": [
                    {
                        "asset_id": e.asset_id,
                        "event_name": e.event_name,
                        "raw_event_name": e.event_name,
                        "event_time": str(e.event_time),
                        "action_source": e.action_source,
                        "status": "VALID" if e.status == "accepted" else "INVALID",
                        "error_records": [e.error] if e.error else [],
                        "warning_records": [d.message for d in e.diagnostics],
                    }
                    for e in found
                ],
            }
        )

    async def stats(self, request: Request) -> Response:
        try:
            _check_token(request)
        except SnapError as error:
            return error_response(error)
        stats = self.state.stats(request.path_params["asset_id"], self.clock.now())
        return snap_json({"status": "SUCCESS", "reason": "", "stats": stats})
