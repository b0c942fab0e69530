"""The Reddit sandbox as an ASGI app: a local emulator of the Conversions API v2.0.

``create_app()`` serves, relative to wherever it is mounted (standalone at ``/`` or under a
prefix, e.g. ``Mount("/sandbox/reddit", app=create_app())``):

* ``POST /api/v2.0/conversions/events/{ad_account_id}``: behaves as Reddit's API does (see
  :mod:`.endpoint`, :mod:`.validate`, :mod:`.errors`);
* ``GET /api/v3/ad_accounts/{ad_account_id}``, ``GET .../campaigns`` and
  ``POST .../reports``: the Ads API v3 reporting, the claims of the ad account of a
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
from .body import MAX_BODY_BYTES
from .control import EVENTS_PATH, control
from .endpoint import EventsEndpoint
from .recorder import SandboxState
from .reporting import ACCOUNT_PATH, CAMPAIGNS_PATH, REPORTS_PATH, ReportingEndpoint

CLICK_WINDOW_DAYS = 28
"""Reddit's default click-through attribution window, the reporting book's."""


def create_app(
    *,
    state: SandboxState | None = None,
    clock: Clock | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    bodies: BodyReader | None = None,
) -> Starlette:
    """Build the sandbox app.

    ``clock`` drives dedup windows, fault lifetimes, the age rule and the ``timeout``
    fault's delay (default: the state's clock, else the system clock). ``state`` lets
    callers share or inspect the recordings (default: a fresh :class:`SandboxState`). A
    request body over ``max_body_bytes`` gets a 413. Every body is read with ``bodies``:
    bounded in time (408) and held in its byte budget (503 when full); the gateway passes its
    own reader when it mounts the sandbox (default: a reader of the sandbox's own).

    The sandbox accepts any well-formed token and shows what it received at ``/_sandbox``:
    serve it on a loopback address only.
    """
    state, clock, bodies = app_defaults(state, clock, SandboxState, bodies, max_body_bytes)
    endpoint = EventsEndpoint(state, clock, max_body_bytes, bodies)
    book = ReportingBook(window_days=CLICK_WINDOW_DAYS)
    reporting = ReportingEndpoint(state, clock, book, bodies)
    plane = control(state, clock, bodies)
    routes = [
        *control_routes(plane),
        *reporting_routes(book, plane),
        Route(EVENTS_PATH, endpoint.events, methods=["POST"]),
        Route(EVENTS_PATH + "/", endpoint.events, methods=["POST"]),
        Route(ACCOUNT_PATH, reporting.account, methods=["GET"]),
        Route(CAMPAIGNS_PATH, reporting.campaigns, methods=["GET"]),
        Route(REPORTS_PATH, reporting.reports, methods=["POST"]),
    ]
    app = sandbox_app(routes, state=state, clock=clock)
    app.state.reporting = book
    return app
