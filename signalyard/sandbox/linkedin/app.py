"""The LinkedIn sandbox as an ASGI app: a local emulator of the Conversions API.

``create_app()`` serves, relative to wherever it is mounted (standalone at ``/`` or under a
prefix, e.g. ``Mount("/sandbox/linkedin", app=create_app())``):

* ``POST /rest/conversionEvents`` and ``GET /rest/conversions/{id}``: behave as LinkedIn's
  REST API does (see :mod:`.endpoint`, :mod:`.validate`, :mod:`.errors`);
* ``GET /rest/adAccounts/{id}``, ``GET /rest/adAccounts/{id}/adCampaigns?q=search`` and
  ``GET /rest/adAnalytics?q=analytics&pivot=CAMPAIGN``: LinkedIn's reporting, the claims of
  the ad account of a :class:`~..reporting_common.ReportingBook` (click window 30 days) over
  the conversions received (see :mod:`.reporting`);
* ``/_sandbox/...``: inspection, reset, conversion rules, fault injection and the reporting
  book (see :mod:`.control`, :mod:`.faults`, ``/_sandbox/reporting``).

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
from .control import EVENTS_PATH, RULE_PATH, control, rules_handler
from .endpoint import Endpoints
from .recorder import SandboxState
from .reporting import ACCOUNT_PATH, ANALYTICS_PATH, CAMPAIGNS_PATH, Reporting

CLICK_WINDOW_DAYS = 30
"""LinkedIn's default post-click attribution window, the reporting book's."""


def create_app(
    *,
    state: SandboxState | None = None,
    clock: Clock | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    bodies: BodyReader | None = None,
) -> Starlette:
    """Build the sandbox app.

    ``clock`` drives the age window, the active API versions, dedup windows, fault lifetimes
    and the ``timeout`` fault's delay (default: the state's clock, else the system clock).
    ``state`` lets callers share or inspect the recordings. A request body over
    ``max_body_bytes`` gets 413. Every body is read with ``bodies`` (the gateway passes its
    own reader when it mounts the sandbox).

    The sandbox accepts any well-formed token and shows what it received at ``/_sandbox``:
    serve it on a loopback address only.
    """
    state, clock, bodies = app_defaults(state, clock, SandboxState, bodies, max_body_bytes)
    endpoints = Endpoints(state, clock, max_body_bytes, bodies)
    ctl = control(state, clock, bodies)
    book = ReportingBook(window_days=CLICK_WINDOW_DAYS)
    reporting = Reporting(state, clock, book)
    routes = [
        *control_routes(ctl),
        *reporting_routes(book, ctl),
        Route("/_sandbox/rules/{rule_id}", rules_handler(state, ctl), methods=["GET", "PUT"]),
        Route(EVENTS_PATH, endpoints.conversion_events, methods=["POST"]),
        Route(RULE_PATH, endpoints.conversion_rule, methods=["GET"]),
        Route(ACCOUNT_PATH, reporting.account, methods=["GET"]),
        Route(CAMPAIGNS_PATH, reporting.campaigns, methods=["GET"]),
        Route(ANALYTICS_PATH, reporting.analytics, methods=["GET"]),
    ]
    app = sandbox_app(routes, state=state, clock=clock)
    app.state.reporting = book
    return app
