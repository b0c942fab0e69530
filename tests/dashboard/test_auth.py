"""Login, the session cookie, CSRF and the switch that turns the dashboard off."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.clock import FrozenClock
from signalyard.dashboard import create_dashboard
from signalyard.dashboard.revoked import RevokedSessions
from signalyard.dashboard.session import Session, SessionCodec, session_key
from signalyard.secret import Secret
from signalyard.settings import DashboardSettings
from signalyard.store.dual import fetch
from signalyard.store.sqlite import SQLiteStore

from .conftest import (
    DATASET,
    PAGES,
    PASSWORD,
    Seeded,
    app_for,
    client_for,
    csrf_of,
    login,
)

pytestmark = pytest.mark.anyio


async def test_no_password_means_no_dashboard(store: SQLiteStore, clock: FrozenClock) -> None:
    async with client_for(app_for(store, clock, password="")) as client:
        for path in (*PAGES, "/login", "/static/dashboard.css"):
            assert (await client.get("/dashboard" + path)).status_code == 404
        r = await client.post("/dashboard/login", data={"password": ""})
        assert r.status_code == 404


async def test_every_page_asks_to_log_in_first(client: httpx.AsyncClient) -> None:
    for path in PAGES:
        r = await client.get(f"/dashboard{path}?dataset={DATASET}")
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/dashboard/login?next=%2Fdashboard")
    r = await client.get("/dashboard")
    assert r.status_code in (307, 308)
    assert r.headers["location"] == "http://dash.test/dashboard/"
    r = await client.get("/dashboard/login")
    assert r.status_code == 200
    assert '<h1 id="page-title">Log in</h1>' in r.text
    assert "nav-overview" not in r.text


async def test_login_sets_a_signed_http_only_cookie(client: httpx.AsyncClient) -> None:
    r = await login(client)
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("signalyard_dashboard=v1.")
    for attribute in ("HttpOnly", "Path=/dashboard", "SameSite=lax", "Max-Age=43200"):
        assert attribute in cookie
    assert "Secure" not in cookie
    page = await client.get("/dashboard/")
    assert page.status_code == 200
    assert '<h1 id="page-title">Overview</h1>' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


async def test_secure_cookies_when_configured(store: SQLiteStore, clock: FrozenClock) -> None:
    async with client_for(app_for(store, clock, secure_cookies=True, session_hours=1)) as client:
        r = await login(client)
        assert "Secure" in r.headers["set-cookie"]
        assert "Max-Age=3600" in r.headers["set-cookie"]


async def test_a_wrong_password_is_refused(client: httpx.AsyncClient) -> None:
    r = await login(client, "guess")
    assert r.status_code == 401
    assert "Wrong password." in r.text
    assert (await client.get("/dashboard/")).status_code == 303


async def test_a_login_without_its_token_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post("/dashboard/login", data={"password": PASSWORD})
    assert r.status_code == 403
    await client.get("/dashboard/login")  # a session cookie, but the wrong token
    r = await client.post("/dashboard/login", data={"password": PASSWORD, "csrf": "x" * 43})
    assert r.status_code == 403
    assert (await client.get("/dashboard/")).status_code == 303


async def test_an_oversized_form_is_not_read(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard/login")
    data = {"csrf": csrf_of(page.text), "password": PASSWORD, "padding": "x" * 20_000}
    r = await client.post("/dashboard/login", data=data)
    assert r.status_code == 403
    assert (await client.get("/dashboard/")).status_code == 303


async def test_a_login_from_another_site_is_refused(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard/login")
    r = await client.post(
        "/dashboard/login",
        data={"csrf": csrf_of(page.text), "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    r = await client.post(
        "/dashboard/login",
        data={"csrf": csrf_of(r.text), "password": PASSWORD},  # the refusal's fresh form
        headers={"Origin": "http://dash.test", "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 303


async def test_failed_logins_are_limited(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    for _ in range(5):
        assert (await login(client, "guess")).status_code == 401
    r = await login(client)  # even the right password, while the limit holds
    assert r.status_code == 429
    assert "Too many failed logins: try again in 5 min." in r.text
    assert r.headers["retry-after"] == "300"
    clock.advance(301)
    assert (await login(client)).status_code == 303


async def test_sessions_expire(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    await login(client)
    clock.advance(12 * 3600 - 1)
    assert (await client.get("/dashboard/")).status_code == 200
    clock.advance(2)
    assert (await client.get("/dashboard/")).status_code == 303


async def test_cookies_are_shared_by_processes_and_end_with_the_password(
    store: SQLiteStore, clock: FrozenClock
) -> None:
    async with client_for(app_for(store, clock)) as first:
        await login(first)
        cookies = dict(first.cookies)
    # another process with the same configuration accepts the cookie
    async with client_for(app_for(store, clock)) as second:
        second.cookies.update(cookies)
        assert (await second.get("/dashboard/")).status_code == 200
        tampered = cookies["signalyard_dashboard"][:-2] + "AA"
        second.cookies.clear()
        second.cookies.set("signalyard_dashboard", tampered)
        assert (await second.get("/dashboard/")).status_code == 303
    # a new password ends every session
    async with client_for(app_for(store, clock, password="a new password")) as third:
        third.cookies.update(cookies)
        assert (await third.get("/dashboard/")).status_code == 303
    # an explicit session secret signs differently from the derived one
    async with client_for(app_for(store, clock, session_secret=Secret("k" * 32))) as fourth:
        fourth.cookies.update(cookies)
        assert (await fourth.get("/dashboard/")).status_code == 303


async def test_after_login_back_to_the_page_asked_for_and_only_there(
    client: httpx.AsyncClient,
) -> None:
    for target, expected in (
        ("/dashboard/quality?window=24h", "/dashboard/quality?window=24h"),
        ("https://evil.example/", "/dashboard/"),
        ("//evil.example/", "/dashboard/"),
        ("/elsewhere", "/dashboard/"),
    ):
        client.cookies.clear()
        page = await client.get("/dashboard/login")
        r = await client.post(
            "/dashboard/login",
            data={"csrf": csrf_of(page.text), "password": PASSWORD, "next": target},
        )
        assert r.headers["location"] == expected


async def test_logout_needs_the_token_and_ends_the_session(authed: httpx.AsyncClient) -> None:
    page = await authed.get("/dashboard/")
    assert (await authed.post("/dashboard/logout", data={})).status_code == 403
    assert (await authed.get("/dashboard/")).status_code == 200
    r = await authed.post("/dashboard/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard/login"
    assert (await authed.get("/dashboard/")).status_code == 303


async def test_replay_without_a_valid_token_replays_nothing(
    authed: httpx.AsyncClient, store: SQLiteStore, seeded: Seeded
) -> None:
    page = await authed.get("/dashboard/delivery")
    token = csrf_of(page.text)
    form = {"dataset": DATASET, "destination_id": str(seeded.meta)}
    for data, headers in (
        (form, {}),
        ({**form, "csrf": "wrong"}, {}),
        ({**form, "csrf": token[:-1]}, {}),
        ({**form, "csrf": token}, {"Origin": "https://evil.example"}),
        ({**form, "csrf": token}, {"Origin": "null"}),
        ({**form, "csrf": token}, {"Sec-Fetch-Site": "cross-site"}),
    ):
        r = await authed.post("/dashboard/delivery/replay", data=data, headers=headers)
        assert r.status_code == 403, (data, headers)
    assert len(await store.dead_letters()) == 2


async def test_replay_when_logged_out_goes_to_login(
    client: httpx.AsyncClient, store: SQLiteStore, seeded: Seeded
) -> None:
    r = await client.post(
        "/dashboard/delivery/replay",
        data={"dataset": DATASET, "destination_id": str(seeded.meta), "csrf": "x"},
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith("/dashboard/login")
    assert len(await store.dead_letters()) == 2


def _app_with_client_header(store: SQLiteStore, clock: FrozenClock) -> Starlette:
    """The dashboard, counting failed logins against the address in ``X-Client``."""
    settings = DashboardSettings(password=Secret(PASSWORD))
    dashboard = create_dashboard(
        store, clock, settings, client_ip=lambda r: r.headers.get("x-client", "none")
    )
    return Starlette(routes=[Mount("/dashboard", app=dashboard)])


async def _login_from(
    client: httpx.AsyncClient, address: str, password: str = PASSWORD
) -> httpx.Response:
    page = await client.get("/dashboard/login")
    return await client.post(
        "/dashboard/login",
        data={"csrf": csrf_of(page.text), "password": password, "next": ""},
        headers={"X-Client": address},
    )


async def test_failures_from_many_addresses_slow_logins_but_never_lock_the_admin_out(
    store: SQLiteStore, clock: FrozenClock
) -> None:
    async with client_for(_app_with_client_header(store, clock)) as client:
        # 120 failures from 30 addresses, 4 each: under the limit of each address, past the
        # limit for everyone together (100 in 5 minutes)
        for i in range(120):
            r = await _login_from(client, f"198.51.100.{i % 30}", "guess")
            assert r.status_code == 401, (i, r.status_code)
        # the admin, from another address, still gets in: after a short wait
        before = clock.monotonic()
        r = await _login_from(client, "203.0.113.1")
        assert r.status_code == 303
        assert clock.monotonic() - before == 1.0  # slowed down by one second, not refused
        assert (await client.get("/dashboard/")).status_code == 200
        # one address past its own limit is still refused, even with the right password
        client.cookies.clear()
        assert (await _login_from(client, "198.51.100.0", "guess")).status_code == 401
        r = await _login_from(client, "198.51.100.0")
        assert r.status_code == 429
        assert "Too many failed logins" in r.text
        # once the failures leave the window, logins are no longer slowed down
        clock.advance(301)
        before = clock.monotonic()
        assert (await _login_from(client, "203.0.113.1")).status_code == 303
        assert clock.monotonic() == before


async def test_logout_revokes_the_session_in_every_process(
    store: SQLiteStore, clock: FrozenClock
) -> None:
    async with client_for(app_for(store, clock)) as first:
        await login(first)
        copied = dict(first.cookies)
        async with client_for(app_for(store, clock)) as other:
            await login(other)  # another session, which logging the first out leaves alone
            page = await first.get("/dashboard/")
            r = await first.post("/dashboard/logout", data={"csrf": csrf_of(page.text)})
            assert r.status_code == 303
            # the copied cookie is refused, here and by another process sharing the store
            first.cookies.clear()
            first.cookies.update(copied)
            assert (await first.get("/dashboard/")).status_code == 303
            async with client_for(app_for(store, clock)) as second_process:
                second_process.cookies.update(copied)
                for path in PAGES:
                    r = await second_process.get("/dashboard" + path)
                    assert r.status_code == 303, path
                    assert r.headers["location"].startswith("/dashboard/login")
                r = await second_process.post(
                    "/dashboard/delivery/replay",
                    data={"dataset": DATASET, "destination_id": "1", "csrf": "x"},
                )
                assert r.headers["location"].startswith("/dashboard/login")
            assert (await other.get("/dashboard/")).status_code == 200
    # the revocation is kept until the session would have expired, then pruned
    revoked = RevokedSessions(store)
    assert await _revoked_rows(store) == 1
    clock.advance(12 * 3600 + 1)
    assert await revoked.prune(now=clock.now()) == 1
    assert await _revoked_rows(store) == 0


async def _revoked_rows(store: SQLiteStore) -> int:
    rows = await fetch(store, "SELECT COUNT(*) FROM dashboard_revoked_sessions")
    return int(rows[0][0])


async def test_a_logged_in_cookie_without_a_session_id_is_refused(
    store: SQLiteStore, clock: FrozenClock
) -> None:
    """A session that could not be logged out (no id: signed before ids existed) is not
    accepted."""
    codec = SessionCodec(session_key(PASSWORD, ""))
    legacy = codec.dumps(Session("t" * 43, True, clock.now() + 3600))
    async with client_for(app_for(store, clock)) as client:
        client.cookies.set("signalyard_dashboard", legacy)
        assert (await client.get("/dashboard/")).status_code == 303
