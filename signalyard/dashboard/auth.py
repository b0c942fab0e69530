"""Login and logout. One admin password from the configuration, compared in constant time;
failed logins are refused per client address past a limit, and slow every login down (never
refuse it) past a limit for everyone together; logging out revokes the session in the store;
every form (the login form too) carries the session's CSRF token."""

from __future__ import annotations

import math
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from signalyard.dashboard.session import LoginLimiter, Session, passwords_match
from signalyard.dashboard.web import Web

__all__ = ["Login"]


def _safe_next(root: str, target: object) -> str:
    """Where to go after login: only a path of this dashboard (no open redirect)."""
    if (
        isinstance(target, str)
        and target.startswith((root + "/") if root else "/")
        and not target.startswith("//")
        and "\\" not in target
        and "/login" not in target
    ):
        return target
    return root + "/"


class Login:
    def __init__(
        self,
        web: Web,
        password: str,
        *,
        session_seconds: float,
        limiter: LoginLimiter,
        client_ip: Callable[[Request], str],
    ) -> None:
        self.web = web
        self._password = password
        self.session_seconds = session_seconds
        self.limiter = limiter
        self.client_ip = client_ip

    def _page(
        self,
        request: Request,
        session: Session,
        *,
        error: str = "",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        nxt = request.query_params.get("next", "")
        response = self.web.render(
            request,
            "login.html",
            {"error": error, "next": nxt},
            session=session,
            status=status,
            headers=headers,
        )
        self.web.set_session(request, response, session)
        return response

    async def form(self, request: Request) -> Response:
        now = self.web.clock.now()
        session = await self.web.session(request)
        if session is not None and session.authenticated:
            return self.web.redirect(self.web.url_maker(request)("/"))
        return self._page(request, session or Session.anonymous(now=now))

    async def submit(self, request: Request) -> Response:
        now = self.web.clock.now()
        session = await self.web.session(request)
        form = await self.web.checked_form(request, session) if session is not None else None
        if session is None or form is None:
            return self._page(
                request,
                Session.anonymous(now=now),
                error="The login form expired or was not sent from this page: try again.",
                status=403,
            )
        client = self.client_ip(request)
        wait = self.limiter.wait_seconds(client)  # this address failed too often: refused
        if wait > 0:
            minutes = max(1, round(wait / 60))
            return self._page(
                request,
                session,
                error=f"Too many failed logins: try again in {minutes} min.",
                status=429,
                headers={"Retry-After": str(math.ceil(wait))},
            )
        delay = self.limiter.delay_seconds()  # everyone failed often: slowed, not refused
        if delay > 0:
            await self.web.clock.sleep(delay)
        password = form.get("password")
        if not isinstance(password, str) or not passwords_match(password, self._password):
            self.limiter.failed(client)
            return self._page(request, session, error="Wrong password.", status=401)
        self.limiter.succeeded(client)
        root = self.web.root(request)
        response = self.web.redirect(_safe_next(root, form.get("next")))
        self.web.set_session(
            request, response, Session.logged_in(now=now, seconds=self.session_seconds)
        )
        return response

    async def logout(self, request: Request) -> Response:
        session = await self.web.session(request)
        if session is None:
            return self.web.redirect(self.web.url_maker(request)("/login"))
        if await self.web.checked_form(request, session) is None:
            return self.web.forbidden()
        if session.authenticated:  # refused everywhere from now on, copies of the cookie too
            await self.web.revoked.revoke(
                session.sid, expires=session.expires, now=self.web.clock.now()
            )
        response = self.web.redirect(self.web.url_maker(request)("/login"))
        self.web.clear_session(request, response)
        return response
