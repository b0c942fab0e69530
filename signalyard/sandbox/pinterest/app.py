"""The Pinterest sandbox as an ASGI app: a local emulator of the Conversions API endpoint.

``create_app()`` serves, relative to wherever it is mounted (standalone at ``/`` or under a
prefix, e.g. ``Mount("/sandbox/pinterest", app=create_app())``):

* ``POST /v5/ad_accounts/{ad_account_id}/events``: behaves as Pinterest does (see
  :mod:`.endpoint`, :mod:`.validate`, :mod:`.errors`);
* ``GET /v5/ad_accounts/{ad_account_id}``, ``.../campaigns`` and
  ``.../campaigns/analytics``: Pinterest's ad account analytics, the claims of the ad
  account of a :class:`~..reporting_common.ReportingBook` (click window 30 days) over the
  checkouts received (see :mod:`.reporting`);
* ``/_sandbox/...``: inspection, reset, fault injection and the reporting book (see
  :mod:`.control`, :mod:`.faults`, ``/_sandbox/reporting``);
* any other path answers 404.

The :class:`~.recorder.SandboxState` is also on ``app.state.sandbox`` for direct inspection,
the reporting book on ``app.state.reporting``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from ...clock import Clock
from ...sources.body import BodyReader
from ..app_common import ALL_METHODS, app_defaults, sandbox_app
from ..control_common import control_routes
from ..reporting_common import ReportingBook, reporting_routes
from .body import MAX_BODY_BYTES
from .control import ACCOUNT_PATH, ANALYTICS_PATH, CAMPAIGNS_PATH, EVENTS_PATH, control
from .endpoint import EventsEndpoint, unknown_path
from .recorder import SandboxState
from .reporting import ReportingEndpoint

CLICK_WINDOW_DAYS = 30
"""Pinterest's default click-through attribution window, the reporting book's."""


def create_app(
    *,
    state: SandboxState | None = None,
    clock: Clock | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    bodies: BodyReader | None = None,
) -> Starlette:
    """Build the sandbox app (``clock``: dedup windows, fault lifetimes, the event-time rules
    and the ``timeout`` fault's delay; ``state``: shared or inspected recordings; a body over
    ``max_body_bytes`` gets the proxy's 413 page; ``bodies``: the gateway's reader when it
    mounts the sandbox).

    The sandbox accepts any well-formed token and shows what it received at ``/_sandbox``:
    serve it on a loopback address only.
    """
    state, clock, bodies = app_defaults(state, clock, SandboxState, bodies, max_body_bytes)
    endpoint = EventsEndpoint(state, clock, max_body_bytes, bodies)
    book = ReportingBook(window_days=CLICK_WINDOW_DAYS)
    reporting = ReportingEndpoint(state, clock, book)
    plane = control(state, clock, bodies)
    routes = [
        *control_routes(plane),
        *reporting_routes(book, plane),
        Route(EVENTS_PATH, endpoint.events, methods=["POST"]),
        Route(ACCOUNT_PATH, reporting.ad_account, methods=["GET"]),
        Route(CAMPAIGNS_PATH, reporting.campaigns, methods=["GET"]),
        Route(ANALYTICS_PATH, reporting.analytics, methods=["GET"]),
        Route("/{path:path}", unknown_path, methods=ALL_METHODS),
    ]
    app = sandbox_app(routes, state=state, clock=clock)
    app.state.reporting = book
    return app
