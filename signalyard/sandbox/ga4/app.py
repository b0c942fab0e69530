"""The GA4 sandbox as an ASGI app: a local emulator of the Measurement Protocol.

``create_app()`` serves, relative to wherever it is mounted (standalone at ``/`` or under a
prefix, e.g. ``Mount("/sandbox/ga4", app=create_app())``):

* ``POST /mp/collect`` and ``POST /debug/mp/collect``: as GA4 does (see :mod:`.endpoint`,
  :mod:`.validate`);
* ``/_sandbox/...``: inspection, reset and fault injection (see :mod:`.control`,
  :mod:`.faults`).

The :class:`~.recorder.SandboxState` is also on ``app.state.sandbox``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from ...clock import Clock
from ...sources.body import BodyReader
from ..app_common import app_defaults, sandbox_app
from ..control_common import control_routes
from .control import COLLECT_PATH, DEBUG_PATH, control
from .endpoint import MAX_READ_BYTES, Endpoint
from .recorder import SandboxState


def create_app(
    *,
    state: SandboxState | None = None,
    clock: Clock | None = None,
    max_body_bytes: int = MAX_READ_BYTES,
    bodies: BodyReader | None = None,
) -> Starlette:
    """Build the sandbox app (``clock``: fault lifetimes and the 72-hour rule; ``state``:
    shared recordings; ``bodies``: the gateway's body reader when it mounts the sandbox).
    It accepts any API secret and shows what it received at ``/_sandbox``: serve it on a
    loopback address only."""
    state, clock, bodies = app_defaults(state, clock, SandboxState, bodies, max_body_bytes)
    endpoint = Endpoint(state, clock, max_body_bytes, bodies)
    routes = [
        *control_routes(control(state, clock, bodies)),
        Route(COLLECT_PATH, endpoint.collect, methods=["POST"]),
        Route(DEBUG_PATH, endpoint.debug, methods=["POST"]),
    ]
    return sandbox_app(routes, state=state, clock=clock)
