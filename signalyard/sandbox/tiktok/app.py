"""The TikTok sandbox as an ASGI app: a local emulator of the Events API 2.0 endpoint.

``create_app()`` serves, relative to wherever it is mounted (standalone at ``/`` or under a
prefix, e.g. ``Mount("/sandbox/tiktok", app=create_app())``):

* ``POST /open_api/v1.3/event/track/`` (with or without the final slash): behaves as
  TikTok's edge does (see :mod:`.endpoint`, :mod:`.validate`, :mod:`.answer`,
  :mod:`.errors`);
* ``GET /open_api/v1.3/report/integrated/get/`` and ``GET /open_api/v1.3/advertiser/info/``
  (with or without the final slash): TikTok's reporting, the claims of the advertiser of a
  :class:`~..reporting_common.ReportingBook` (click window 7 days) over the purchases
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
from .control import ADVERTISER_PATH, REPORT_PATH, TRACK_PATH, control
from .endpoint import TrackEndpoint
from .recorder import SandboxState
from .reporting import ReportingEndpoint

CLICK_WINDOW_DAYS = 7
"""TikTok's default click-through attribution window, the reporting book's."""


def create_app(
    *,
    state: SandboxState | None = None,
    clock: Clock | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    bodies: BodyReader | None = None,
) -> Starlette:
    """Build the sandbox app.

    ``clock`` drives dedup windows, fault lifetimes, event-time diagnostics and the
    ``timeout`` fault's delay (default: the state's clock, else the system clock). ``state``
    lets callers share or inspect the recordings (default: a fresh :class:`SandboxState`). A
    request body over ``max_body_bytes`` gets the proxy's 413 page. Every body is read with
    ``bodies``: bounded in time (408) and held in its byte budget (503 when full); the
    gateway passes its own reader when it mounts the sandbox, so that the sandbox's bodies
    share the gateway's budget and timeouts (default: a reader of the sandbox's own, with
    the gateway's default limits).

    The sandbox accepts any well-formed token and shows what it received at ``/_sandbox``:
    serve it on a loopback address only.
    """
    state, clock, bodies = app_defaults(state, clock, SandboxState, bodies, max_body_bytes)
    track = TrackEndpoint(state, clock, max_body_bytes, bodies)
    book = ReportingBook(window_days=CLICK_WINDOW_DAYS)
    reporting = ReportingEndpoint(state, clock, book)
    plane = control(state, clock, bodies)
    routes = [
        *control_routes(plane),
        *reporting_routes(book, plane),
        Route(TRACK_PATH, track.track, methods=["POST"]),
        Route(TRACK_PATH.rstrip("/"), track.track, methods=["POST"]),
    ]
    for path, handler in (
        (REPORT_PATH, reporting.report),
        (ADVERTISER_PATH, reporting.advertiser_info),
    ):
        routes.append(Route(path, handler, methods=["GET"]))
        routes.append(Route(path.rstrip("/"), handler, methods=["GET"]))
    app = sandbox_app(routes, state=state, clock=clock)
    app.state.reporting = book
    return app
