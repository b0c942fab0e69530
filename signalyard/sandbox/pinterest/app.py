"""The Pinterest sandbox as an ASGI app: a local emulator of the Conversions API endpoint.

``create_app()`` serves, relative to wherever it is mounted (standalone at ``/`` or under a
prefix, e.g. ``Mount("/sandbox/pinterest", app=create_app())``):

* ``POST /v5/ad_accounts/{ad_account_id}/events``: behaves as Pinterest does (see
  :mod:`.endpoint`, :mod:`.validate`, :mod:`.errors`); any other path answers 404;
* ``/_sandbox/...``: inspection, reset and fault injection (see :mod:`.control`,
  :mod:`.faults`).

The :class:`~.recorder.SandboxState` is also on ``app.state.sandbox`` for direct inspection.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from ...clock import Clock
from ...sources.body import BodyReader
from ..app_common import ALL_METHODS, app_defaults, sandbox_app
from ..control_common import control_routes
from .body import MAX_BODY_BYTES
from .control import EVENTS_PATH, control
from .endpoint import EventsEndpoint, unknown_path
from .recorder import SandboxState


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
    routes = [
        *control_routes(control(state, clock, bodies)),
        Route(EVENTS_PATH, endpoint.events, methods=["POST"]),
        Route("/{path:path}", unknown_path, methods=ALL_METHODS),
    ]
    return sandbox_app(routes, state=state, clock=clock)
