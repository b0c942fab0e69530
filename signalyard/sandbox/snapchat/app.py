"""The Snapchat sandbox as an ASGI app: a local emulator of the Conversions API v3.

``create_app()`` serves, relative to wherever it is mounted (standalone at ``/`` or under a
prefix, e.g. ``Mount("/sandbox/snapchat", app=create_app())``):

* ``POST /v3/{asset_id}/events`` and ``POST /v3/{asset_id}/events/validate``: behave as
  Snap's edge does (see :mod:`.endpoint`, :mod:`.validate`, :mod:`.errors`);
* ``GET /v3/{asset_id}/events/validate/logs`` and ``.../validate/stats`` (:mod:`.reads`);
* ``GET /v1/adaccounts/{ad_account_id}``, ``.../campaigns`` and ``.../stats``: Snap's
  Marketing API reporting, the claims of the ad account of a
  :class:`~..reporting_common.ReportingBook` (click window 28 days) over the purchases
  received (see :mod:`.reporting`);
* ``/_sandbox/...``: inspection, reset, fault injection and the reporting book (see
  :mod:`.control`, :mod:`.faults`, ``/_sandbox/reporting``).

The :class:`~.recorder.SandboxState` is also on ``app.state.sandbox`` for direct inspection,
the reporting book on ``app.state.reporting``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from ...clock import Clock
from ...sources.body import BodyReader
from ..app_common import app_defaults, sandbox_app
from ..control_common import control_routes
from ..reporting_common import ReportingBook, reporting_routes
from .control import ACCOUNT_PATH, CAMPAIGNS_PATH, EVENTS_PATH, STATS_PATH, control
from .endpoint import MAX_BODY_BYTES, EventsEndpoint
from .reads import Reads
from .recorder import SandboxState
from .reporting import ReportingEndpoint

CLICK_WINDOW_DAYS = 28
"""Snap's default swipe-up (click) attribution window, the reporting book's."""


def create_app(
    *,
    state: SandboxState | None = None,
    clock: Clock | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    bodies: BodyReader | None = None,
) -> Starlette:
    """Build the sandbox app (the arguments are those of every sandbox: see
    :func:`signalyard.sandbox.tiktok.app.create_app`). The sandbox accepts any well-formed
    token and shows what it received at ``/_sandbox``: serve it on a loopback address only."""
    state, clock, bodies = app_defaults(state, clock, SandboxState, bodies, max_body_bytes)
    endpoint = EventsEndpoint(state, clock, max_body_bytes, bodies)
    reads = Reads(state, clock)
    book = ReportingBook(window_days=CLICK_WINDOW_DAYS)
    reporting = ReportingEndpoint(state, clock, book)
    plane = control(state, clock, bodies)
    routes = [
        *control_routes(plane),
        *reporting_routes(book, plane),
        Route(EVENTS_PATH, endpoint.events, methods=["POST"]),
        Route(f"{EVENTS_PATH}/validate", endpoint.validate, methods=["POST"]),
        Route(f"{EVENTS_PATH}/validate/logs", reads.logs, methods=["GET"]),
        Route(f"{EVENTS_PATH}/validate/stats", reads.stats, methods=["GET"]),
        Route(ACCOUNT_PATH, reporting.account, methods=["GET"]),
        Route(CAMPAIGNS_PATH, reporting.campaigns, methods=["GET"]),
        Route(STATS_PATH, reporting.stats, methods=["GET"]),
    ]
    app = sandbox_app(routes, state=state, clock=clock)
    app.state.reporting = book
    return app
