"""Login and logout. One admin password from the configuration, compared in constant time;
failed logins are refused per client address past a limit; past a limit for everyone
together, passwords are checked one at a time, one a second (a small line waits its turn,
an attempt beyond it is told to come back in a few seconds and counts as a failure of its
client; a browser that logged in before, holding a known-device cookie, passes at once):
never refused for good. Logging out revokes the session in the store; every form (the login
form too) carries the session's CSRF token."""

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
        password = form.get("password")
        right: bool | None = None  # None: not checked
        busy = 0.0
        wait = self.limiter.wait_seconds(client)  # this address failed too often: refused
        if wait == 0:
            # everyone failed often: one password checked at a time, slowed, never refused
            # for good; refused for now only when the line of waiting attempts is full (and
            # counted as a failure of this client); a known device does not wait in line
            known = self.web.known_device(request)
            async with self.limiter.turn(client, known_device=known) as busy:
                wait = self.limiter.wait_seconds(client)  # again: it may have failed meanwhile
                if busy == 0 and wait == 0:
                    right = isinstance(password, str) and passwords_match(password, self._password)
                    if right:
                        self.limiter.succeeded(client)
                    else:
                        self.limiter.failed(client)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            return self._page(
                request,
                session,
                error=f"Too many failed logins: try again in {minutes} min.",
                status=429,
                headers={"Retry-After": str(math.ceil(wait))},
            )
        if right is None:
            return self._page(
                request,
                session,
                error=f"Too many login attempts right now: try again in {math.ceil(busy)} s.",
                status=429,
                headers={"Retry-After": str(math.ceil(busy))},
            )
        if not right:
            return self._page(request, session, error="Wrong password.", status=401)
        root = self.web.root(request)
        response = self.web.redirect(_safe_next(root, form.get("next")))
        self.web.set_session(
            request, response, Session.logged_in(now=now, seconds=self.session_seconds)
        )
        self.web.set_known_device(request, response)
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
