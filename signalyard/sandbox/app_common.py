"""How a sandbox's ASGI app is put together: its routes (the platform's own and the shared
``/_sandbox`` ones, :func:`~signalyard.sandbox.control_common.control_routes`), with its
state and clock on ``app.state`` for direct inspection."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from ..clock import Clock
from ..sources.body import BodyReader
from .bodies import reader_or_own

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
"""The methods a catch-all route answers (with the platform's "unknown path" error)."""


class Clocked(Protocol):
    clock: Clock


S = TypeVar("S", bound=Clocked)


def app_defaults(
    state: S | None,
    clock: Clock | None,
    new_state: Callable[..., S],
    bodies: BodyReader | None,
    max_body_bytes: int,
) -> tuple[S, Clock, BodyReader]:
    """What a ``create_app`` call left out: a fresh ``new_state(clock=clock)``, the state's
    clock, a body reader of the sandbox's own (:func:`~.bodies.reader_or_own`)."""
    if state is None:
        state = new_state(clock=clock)
    return state, state.clock if clock is None else clock, reader_or_own(bodies, max_body_bytes)


def sandbox_app(routes: Sequence[BaseRoute], *, state: object, clock: Clock) -> Starlette:
    """The app serving ``routes``, with ``app.state.sandbox`` and ``app.state.clock``."""
    app = Starlette(routes=list(routes))
    app.state.sandbox = state
    app.state.clock = clock
    return app
