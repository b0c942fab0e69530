"""How a sandbox's ASGI app is put together: its routes (the platform's own and the shared
``/_sandbox`` ones, :func:`~signalyard.sandbox.control_common.control_routes`), with its
state and clock on ``app.state`` for direct inspection."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from ..clock import Clock

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
"""The methods a catch-all route answers (with the platform's "unknown path" error)."""


def sandbox_app(routes: Sequence[BaseRoute], *, state: object, clock: Clock) -> Starlette:
    """The app serving ``routes``, with ``app.state.sandbox`` and ``app.state.clock``."""
    app = Starlette(routes=list(routes))
    app.state.sandbox = state
    app.state.clock = clock
    return app
