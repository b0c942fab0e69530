"""The dashboard's ASGI app: ``create_dashboard`` and its routes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from signalyard.clock import Clock
from signalyard.dashboard.attribution_page import AttributionPage
from signalyard.dashboard.auth import Login
from signalyard.dashboard.pages import Pages
from signalyard.dashboard.revoked import RevokedSessions
from signalyard.dashboard.session import LoginLimiter, SessionCodec, session_key
from signalyard.dashboard.web import Web, client_address
from signalyard.settings import AttributionSettings, DashboardSettings
from signalyard.sinks import REGISTRY
from signalyard.store.base import Store

__all__ = ["create_dashboard"]

STYLESHEET = Path(__file__).parent / "static" / "dashboard.css"


def create_dashboard(
    store: Store,
    clock: Clock,
    settings: DashboardSettings,
    *,
    client_ip: Callable[[Request], str] | None = None,
    on_replay: Callable[[], None] | None = None,
    limiter: LoginLimiter | None = None,
    sandbox_url: str = "",
    attribution: AttributionSettings | None = None,
) -> Starlette:
    """The dashboard, to mount under a prefix (``Mount("/dashboard", app=...)``). It neither
    opens nor closes ``store``: the gateway's lifespan does. With no password configured every
    path answers 404.

    ``client_ip`` gives the address failed logins are counted against (default: the
    connection's peer; pass the gateway's trusted-proxy aware resolver); ``on_replay`` is
    called after dead letters are queued again (wake the delivery worker); ``sandbox_url``,
    where ``graph_url = "sandbox"`` sends, tells the delivery page which destinations are
    sandboxes; ``attribution``: the attribution page's defaults (profile, lens, time zone).
    ``app.state.aclose()`` stops what its pages started in the background (call it before the
    store closes)."""
    password = settings.password.reveal()
    if not password:
        return Starlette(routes=[])
    web = Web(
        settings,
        SessionCodec(session_key(password, settings.session_secret.reveal())),
        clock,
        RevokedSessions(store),
    )
    login = Login(
        web,
        password,
        session_seconds=settings.session_hours * 3600,
        limiter=limiter or LoginLimiter(clock),
        client_ip=client_ip or client_address,
    )
    models = {kind: spec.match_model for kind, spec in REGISTRY.items() if spec.match_model}
    pages = Pages(web, store, on_replay=on_replay, sandbox_url=sandbox_url, models=models)
    attribution_page = AttributionPage(pages, attribution)
    css = STYLESHEET.read_bytes()

    async def stylesheet(request: Request) -> Response:
        return Response(
            css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    app = Starlette(
        routes=[
            Route("/", pages.overview, name="overview"),
            Route("/quality", pages.quality, name="quality"),
            Route("/dedup", pages.dedup, name="dedup"),
            Route("/attribution", attribution_page.show, name="attribution"),
            Route("/attribution/claims", attribution_page.fetch_claims, methods=["POST"]),
            Route("/delivery", pages.delivery, name="delivery"),
            Route("/delivery/replay", pages.replay, methods=["POST"], name="replay"),
            Route("/diagnostics", pages.diagnostics, name="diagnostics"),
            Route("/alerts", pages.alerts, name="alerts"),
            Route("/login", login.form, name="login"),
            Route("/login", login.submit, methods=["POST"]),
            Route("/logout", login.logout, methods=["POST"], name="logout"),
            Route("/static/dashboard.css", stylesheet, name="stylesheet"),
        ]
    )
    # What the gateway's lifespan calls before the store closes: the attribution reports
    # computing in the background stop.
    app.state.aclose = attribution_page.aclose
    return app
