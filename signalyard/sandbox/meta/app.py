"""The Meta sandbox as an ASGI app: a local emulator of the Conversions API endpoint.

``create_app()`` serves, relative to wherever it is mounted (standalone at ``/`` or under a
prefix, e.g. ``Mount("/sandbox/meta", app=create_app())``):

* ``POST /{version}/{dataset_id}/events``: behaves as Graph's edge does (see
  :mod:`.endpoint`, :mod:`.validate`, :mod:`.errors`);
* ``GET /{version}/act_{account_id}`` and ``.../insights``: the ad account and its Ads
  Insights, claims computed from the purchases received (see :mod:`.reporting`);
* ``/_sandbox/...``: inspection, reset and fault injection (see :mod:`.control`,
  :mod:`.faults`), the ad account's settings (``/_sandbox/reporting``,
  :mod:`..reporting_common`);
* any other path: Graph's "Unknown path components" error.

The :class:`~.recorder.SandboxState` is also on ``app.state.sandbox`` for direct inspection.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from ...clock import Clock
from ...sources.body import BodyReader
from ..app_common import ALL_METHODS, app_defaults, sandbox_app
from ..control_common import control_routes
from ..reporting_common import ReportingBook, reporting_routes
from .control import BrowserEvents, control
from .endpoint import GraphEndpoint
from .parse import MAX_BODY_BYTES
from .recorder import SandboxState
from .reporting import Insights


def create_app(
    *,
    clock: Clock | None = None,
    state: SandboxState | None = None,
    app_secret: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    bodies: BodyReader | None = None,
) -> Starlette:
    """Build the sandbox app.

    ``clock`` drives event-age checks, dedup windows, fault lifetimes and the ``timeout``
    fault's delay (default: the state's clock, else the system clock). ``state`` lets callers
    share or inspect the recordings (default: a fresh :class:`SandboxState`). With
    ``app_secret``, every request must carry ``appsecret_proof`` = hex
    HMAC-SHA256(key=app_secret, msg=access_token), as Graph requires when the app enables
    "Require App Secret". A request body over ``max_body_bytes`` gets Graph's code 100 with
    HTTP 413 (see :data:`.parse.MAX_BODY_BYTES`). Every body is read with ``bodies``: bounded
    in time (408) and held in its byte budget (503 when full); the gateway passes its own
    reader when it mounts the sandbox, so that the sandbox's bodies share the gateway's
    budget and timeouts (default: a reader of the sandbox's own, with the gateway's default
    limits).

    The sandbox accepts any well-formed token and shows what it received at ``/_sandbox``:
    serve it on a loopback address only (``signalyard serve`` mounts it only there unless
    told otherwise).
    """
    state, clock, bodies = app_defaults(state, clock, SandboxState, bodies, max_body_bytes)
    graph = GraphEndpoint(state, clock, app_secret, max_body_bytes, bodies)
    plane = control(state, clock, bodies)
    browser = BrowserEvents(state, plane)
    book = ReportingBook(window_days=7)
    insights = Insights(state, book, graph, clock)
    routes = [
        *control_routes(plane),
        *reporting_routes(book, plane),
        Route("/_sandbox/browser-events", browser.post, methods=["POST"]),
        Route("/{version}/act_{account_id}", insights.account, methods=["GET"]),
        Route("/{version}/act_{account_id}/insights", insights.insights, methods=["GET"]),
        Route("/{version}/{dataset_id}/events", graph.events, methods=ALL_METHODS),
        Route("/{version}/{dataset_id:int}", graph.dataset_object, methods=["GET"]),
        Route("/{path:path}", graph.unknown_path, methods=ALL_METHODS),
    ]
    app = sandbox_app(routes, state=state, clock=clock)
    app.state.reporting = book
    return app
