"""Every platform's sandbox, one registry line each.

``SANDBOXES`` is the only list: ``serve`` mounts each one at ``/sandbox/<kind>`` (on a
loopback address, see :mod:`signalyard.app`), ``signalyard sandbox`` serves them on their own
at the same paths, and a destination of kind *k* whose base-URL option says ``sandbox`` sends
to ``<sandbox_url>/<k>`` (``sandbox_url``: ``http://<host>:<port>/sandbox`` by default). The
kinds are the destination kinds of :data:`signalyard.sinks.REGISTRY`; a sandbox never imports
a sink, nor a sink a sandbox.

Every sandbox package exports its ``SPEC`` (:class:`~signalyard.sandbox.spec.SandboxSpec`):
``create_app(*, state, clock, max_body_bytes, bodies)`` (a Starlette app with the platform's
routes and the ``/_sandbox`` control routes) and ``SandboxState(max_events=...,
max_bytes=...)`` (its recordings, bounded in events and in bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Final

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from signalyard import gc_tuning
from signalyard.sandbox.ga4 import SPEC as GA4
from signalyard.sandbox.google import SPEC as GOOGLE
from signalyard.sandbox.linkedin import SPEC as LINKEDIN
from signalyard.sandbox.meta import SPEC as META
from signalyard.sandbox.pinterest import SPEC as PINTEREST
from signalyard.sandbox.reddit import SPEC as REDDIT
from signalyard.sandbox.snapchat import SPEC as SNAPCHAT
from signalyard.sandbox.spec import SandboxSpec
from signalyard.sandbox.tiktok import SPEC as TIKTOK

__all__ = ["MOUNT_PREFIX", "SANDBOXES", "SandboxSpec", "mount_path", "sandbox_for", "served"]

MOUNT_PREFIX: Final = "/sandbox"


SANDBOXES: dict[str, SandboxSpec] = {
    spec.kind: spec
    for spec in (
        META,  # one line per platform: its sandbox folder's SPEC
        TIKTOK,
        GOOGLE,
        SNAPCHAT,
        PINTEREST,
        REDDIT,
        GA4,
        LINKEDIN,
    )
}


def mount_path(kind: str) -> str:
    """Where ``serve`` mounts (and ``signalyard sandbox`` serves) the sandbox of ``kind``."""
    return f"{MOUNT_PREFIX}/{kind}"


def sandbox_for(kind: str) -> SandboxSpec | None:
    return SANDBOXES.get(kind)


def served(apps: Mapping[str, ASGIApp], *, tune_gc: bool = False) -> Starlette:
    """One app serving each sandbox of ``apps`` (kind -> its app) at :func:`mount_path`, as
    ``signalyard sandbox`` serves them. ``tune_gc`` (for a process of its own, not for
    tests): the garbage-collector settings of a long-running gateway process
    (:mod:`signalyard.gc_tuning`, without the gateway's lookup tables), from the app's
    start on (not undone at shutdown), and its periodic full collection while it runs. A
    sandbox keeps the entries of its dedup window and the events it shows; with the
    interpreter's default settings the collector walked them again and again as each
    request's decoded events were allocated: the Meta sandbox spent 68-72 us per event over
    100,000 events, 42-50 us tuned (client included)."""
    routes = [Mount(mount_path(kind), app=app) for kind, app in apps.items()]
    return Starlette(routes=routes, lifespan=_tuned if tune_gc else None)


@contextlib.asynccontextmanager
async def _tuned(app: Starlette) -> AsyncIterator[None]:
    gc_tuning.tune(warm=False)
    stop = asyncio.Event()
    collector = asyncio.create_task(gc_tuning.collect_periodically(stop))
    try:
        yield
    finally:
        stop.set()
        await collector
