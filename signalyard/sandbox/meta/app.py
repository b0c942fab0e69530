"""The Meta sandbox as an ASGI app: a local emulator of the Conversions API endpoint.

``create_app()`` serves, relative to wherever it is mounted (standalone at ``/`` or under a
prefix, e.g. ``Mount("/sandbox/meta", app=create_app())``):

* ``POST /{version}/{dataset_id}/events``: behaves as Graph's edge does (see
  :mod:`.endpoint`, :mod:`.validate`, :mod:`.errors`);
* ``/_sandbox/...``: inspection, reset and fault injection (see :mod:`.control`,
  :mod:`.faults`);
* any other path: Graph's "Unknown path components" error.

The :class:`~.recorder.SandboxState` is also on ``app.state.sandbox`` for direct inspection.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from ...clock import Clock
from ...sources.body import BodyReader
from .control import MAX_CONTROL_BODY, Control
from .endpoint import GraphEndpoint
from .parse import MAX_BODY_BYTES, own_reader
from .recorder import SandboxState

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


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
    if state is None:
        state = SandboxState(clock=clock)
    if clock is None:
        clock = state.clock
    if bodies is None:
        bodies = own_reader(max(max_body_bytes, MAX_CONTROL_BODY))
    graph = GraphEndpoint(state, clock, app_secret, max_body_bytes, bodies)
    control = Control(state, clock, bodies)
    routes = [
        Route("/_sandbox", control.index, methods=["GET"]),
        Route("/_sandbox/events", control.events, methods=["GET"]),
        Route("/_sandbox/summary", control.summary, methods=["GET"]),
        Route("/_sandbox/requests", control.requests, methods=["GET"]),
        Route("/_sandbox/browser-events", control.browser_events, methods=["POST"]),
        Route("/_sandbox/state", control.reset, methods=["DELETE"]),
        Route("/_sandbox/faults", control.faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/faults/{fault_id}", control.fault, methods=["GET", "DELETE"]),
        Route("/{version}/{dataset_id}/events", graph.events, methods=ALL_METHODS),
        Route("/{version}/{dataset_id:int}", graph.dataset_object, methods=["GET"]),
        Route("/{path:path}", graph.unknown_path, methods=ALL_METHODS),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = state
    app.state.clock = clock
    return app
