"""What every dashboard request shares: the session cookie, the login and CSRF checks,
templates and the security headers of each answer."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from signalyard.clock import Clock
from signalyard.dashboard import format as fmt
from signalyard.dashboard.revoked import RevokedSessions
from signalyard.dashboard.session import DEVICE_SECONDS, Session, SessionCodec
from signalyard.settings import DashboardSettings

__all__ = ["COOKIE", "DEVICE_COOKIE", "Web", "client_address"]

COOKIE = "signalyard_dashboard"
DEVICE_COOKIE = "signalyard_device"
"""Set at each login: this browser logged in here before (it skips the line of a login flood)."""
MAX_FORM_BYTES = 16_384
"""The dashboard's forms are a few short fields; a bigger body is not read."""
TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def same_origin(request: Request) -> bool:
    """False for a POST a browser says came from another site: by ``Sec-Fetch-Site``, or by an
    ``Origin`` whose host is not the one the request was sent to. Browsers cannot forge these
    headers on a cross-site form post; a client without them is checked by token alone."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = urlsplit(origin).netloc.lower()
    if not host:  # "null": a sandboxed frame, a file, a redirect from elsewhere
        return False
    allowed = {
        request.headers.get("host", "").lower(),
        request.headers.get("x-forwarded-host", "").split(",")[0].strip().lower(),
    }
    return host in allowed - {""}


class Web:
    def __init__(
        self,
        settings: DashboardSettings,
        codec: SessionCodec,
        clock: Clock,
        revoked: RevokedSessions,
    ) -> None:
        self.settings = settings
        self.codec = codec
        self.clock = clock
        self.revoked = revoked
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters.update(fmt.FILTERS)

    # paths -------------------------------------------------------------------------------

    @staticmethod
    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    def url_maker(self, request: Request) -> Callable[..., str]:
        root = self.root(request)

        def url(path: str, **params: object) -> str:
            query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
            return f"{root}{path}" + (f"?{query}" if query else "")

        return url

    # sessions ----------------------------------------------------------------------------

    async def session(self, request: Request) -> Session | None:
        """The request's session, or None: no cookie, a forged, tampered or expired one, or a
        logged-in session that was logged out (in any process: the store says)."""
        session = self.codec.loads(request.cookies.get(COOKIE), now=self.clock.now())
        if (
            session is not None
            and session.authenticated
            and await self.revoked.is_revoked(session.sid)
        ):
            return None
        return session

    def set_session(self, request: Request, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self.codec.dumps(session),
            max_age=max(0, int(session.expires - self.clock.now())),
            path=self.root(request) or "/",
            secure=self.settings.secure_cookies,
            httponly=True,
            samesite="lax",
        )

    def clear_session(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            COOKIE,
            path=self.root(request) or "/",
            secure=self.settings.secure_cookies,
            httponly=True,
            samesite="lax",
        )

    def known_device(self, request: Request) -> bool:
        """The request carries a valid, unexpired known-device cookie."""
        return self.codec.known_device(request.cookies.get(DEVICE_COOKIE), now=self.clock.now())

    def set_known_device(self, request: Request, response: Response) -> None:
        """Mark this browser as one that logged in here (renewed at each login). Kept on
        logout: it grants nothing but a place ahead of the line of login attempts."""
        response.set_cookie(
            DEVICE_COOKIE,
            self.codec.dumps_device(expires=self.clock.now() + DEVICE_SECONDS),
            max_age=int(DEVICE_SECONDS),
            path=self.root(request) or "/",
            secure=self.settings.secure_cookies,
            httponly=True,
            samesite="strict",
        )

    def to_login(self, request: Request) -> Response:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return self.redirect(self.url_maker(request)("/login", next=here))

    @staticmethod
    def redirect(location: str) -> Response:
        response = RedirectResponse(location, status_code=303)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def checked_form(self, request: Request, session: Session) -> FormData | None:
        """The posted form when it comes from this site with the session's token, else None
        (the caller answers 403 and does nothing)."""
        if not same_origin(request):
            return None
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > MAX_FORM_BYTES:
            return None
        form = await request.form()
        token = form.get("csrf")
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode(), session.csrf.encode()
        ):
            return None
        return form

    def forbidden(self) -> Response:
        response = HTMLResponse(
            "<!doctype html><title>Forbidden</title><h1>Forbidden</h1>"
            "<p>This form was not sent from this dashboard or has expired: reload the page"
            " and try again.</p>",
            status_code=403,
        )
        response.headers.update(SECURITY_HEADERS)
        return response

    # rendering ---------------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        session: Session,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Render a page for ``session``. A flash message is shown once: the cookie is sent
        again without it."""
        html = self.templates.get_template(template).render(
            **context,
            url=self.url_maker(request),
            csrf=session.csrf,
            flash=session.flash,
            authenticated=session.authenticated,
        )
        response = HTMLResponse(html, status_code=status, headers=headers)
        response.headers.update(SECURITY_HEADERS)
        if session.flash:
            self.set_session(request, response, session.with_flash(""))
        return response
