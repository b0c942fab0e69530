"""The Google sandbox as an ASGI app: a local emulator of the Data Manager API and of Google's
OAuth 2.0 token endpoint.

``create_app()`` serves, relative to wherever it is mounted (``/sandbox/google`` in the
gateway, or ``/`` standalone):

* ``POST /token``: the token endpoint (:mod:`.oauth`);
* ``POST /v1/events:ingest`` and ``GET /v1/requestStatus:retrieve``: the API
  (:mod:`.endpoint`, :mod:`.schema`, :mod:`.validate`);
* ``POST /{version}/customers/{customer_id}/googleAds:searchStream``: the Google Ads API's
  reporting, Signalyard's three queries of it (:mod:`.reporting`);
* ``/_sandbox/...``: inspection, reset and fault injection (:mod:`.control`, :mod:`.faults`),
  and ``/_sandbox/reporting``, the Ads account the reporting answers for;
* any other path: Google's 404 ``NOT_FOUND``.

The :class:`~.recorder.SandboxState` is also on ``app.state.sandbox``, the
:class:`~signalyard.sandbox.reporting_common.ReportingBook` on ``app.state.reporting`` and the
reporting route (its ``batch_rows``) on ``app.state.search_stream``.
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
from .control import control
from .endpoint import IngestEndpoint
from .oauth import TokenEndpoint
from .recorder import SandboxState
from .reporting import SearchStream


def create_app(
    *,
    state: SandboxState | None = None,
    clock: Clock | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    bodies: BodyReader | None = None,
) -> Starlette:
    """Build the sandbox app.

    ``clock`` drives token expiry, the quota, request statuses, fault lifetimes and the
    ``timeout`` fault's delay (default: the state's clock). ``state``: share or inspect the
    recordings (default: a fresh :class:`SandboxState`, open to any well-formed credential).
    A body over ``max_body_bytes`` gets Google's 400 "Request payload size exceeds the limit".
    Bodies are read with ``bodies`` (the gateway passes its own reader when it mounts the
    sandbox, so they share its budget and timeouts; default: a reader of the sandbox's own).

    The sandbox issues tokens to any well-formed credential and shows what it received at
    ``/_sandbox``: serve it on a loopback address only.
    """
    state, clock, bodies = app_defaults(state, clock, SandboxState, bodies, max_body_bytes)
    api = IngestEndpoint(state, clock, max_body_bytes, bodies)
    oauth = TokenEndpoint(state, clock, bodies)
    book = ReportingBook(window_days=30)
    reporting = SearchStream(state, clock, book, bodies)
    plane = control(state, clock, bodies)
    routes = [
        Route("/token", oauth.token, methods=["POST"]),
        Route("/v1/events:ingest", api.ingest, methods=["POST"]),
        Route("/v1/requestStatus:retrieve", api.request_status, methods=["GET"]),
        Route(
            "/{version}/customers/{customer_id}/googleAds:searchStream",
            reporting.search_stream,
            methods=["POST"],
        ),
        *control_routes(plane),
        *reporting_routes(book, plane),
        Route("/{path:path}", api.unknown, methods=ALL_METHODS),
    ]
    app = sandbox_app(routes, state=state, clock=clock)
    app.state.reporting = book
    app.state.search_stream = reporting
    return app
