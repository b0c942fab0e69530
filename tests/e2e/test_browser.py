"""The browser script (``sy.js``) in real headless Chromium, driven by Playwright.

The shop's pages come from a small HTTP server on ``shop.example.com`` (Chromium maps that name
to 127.0.0.1, so cookies land on ``.example.com`` with subdomain index 1); the script and
``/collect`` come from another origin: a real ``signalyard serve`` child process with its Meta
sandbox, shared by the module, whose dataset allows the shop's origins. Every test checks what
the browser sent (Playwright's request events) and what the gateway did with it: its answer
(status, CORS for the shop's origin, the events it took) and, for events it accepted, the event
its Meta sandbox received. Each test has a fresh browser context and its own event ids. Under CI
(``CI=true``) a missing Chromium or Playwright fails these tests; elsewhere they are skipped
with the reason.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from signalyard.sources.browser import SCRIPT
from tests.conftest import in_thread
from tests.e2e.browser_support import (
    SHOP_HOST,
    Site,
    chromium_path,
    documented_snippet,
    unavailable,
    wait_for,
)
from tests.e2e.server import DATASET, Server, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Request, Response, Route

pytestmark = pytest.mark.slow

NINETY_DAYS = 90 * 86400
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
QUIET_MS = 600
"""How long a test watches for requests that must not happen."""
UK_HOST = "shop.example.co.uk"
GTAG = "<script>window.dataLayer = window.dataLayer || [];\
 function gtag(){dataLayer.push(arguments);}</script>"
COLLECT_PATH = f"/collect/{DATASET}"


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    path = chromium_path()
    if path is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=path,
            headless=True,
            args=[f"--host-resolver-rules=MAP {SHOP_HOST} 127.0.0.1,MAP {UK_HOST} 127.0.0.1"],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if importlib.util.find_spec("signalyard.sources.collect") is None:
        unavailable("the /collect endpoint (signalyard/sources/collect.py) is not there yet")
    tmp: Path = tmp_path_factory.mktemp("browser-gateway")
    # Playwright's sync API keeps an event loop running in this thread, and the set-up of the
    # gateway (migrations, the dataset) uses asyncio.run: enter and leave it in another thread.
    manager = running_server(tmp)
    server = in_thread(manager.__enter__)
    try:
        yield server
    finally:
        in_thread(lambda: manager.__exit__(None, None, None))


@pytest.fixture(scope="module")
def shop(gateway: Server) -> Iterator[Site]:
    """The shop: one server for the module, its origins (under each host name the tests use)
    allowed once (the gateway caches a dataset's allowed origins for a few seconds)."""
    site = Site()
    origins = [site.url(host) for host in (SHOP_HOST, UK_HOST, "127.0.0.1")]
    done = gateway.cli("datasets", "set-origins", DATASET, *origins)
    assert done.returncode == 0, done.stdout + done.stderr
    yield site
    site.close()


class Tab:
    """A fresh browser context (no cookies, no storage) on the shop, watching /collect."""

    def __init__(self, browser: Browser, shop: Site) -> None:
        self.shop = shop
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.collect_requests: list[Request] = []
        self.errors: list[str] = []
        self.page.on("request", self._on_request)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _on_request(self, request: Request) -> None:
        if "/collect/" in request.url:
            self.collect_requests.append(request)

    def wait(self, predicate: Any, *, timeout: float = 10, what: str = "") -> Any:
        """Like :func:`wait_for`, letting Playwright deliver its events (requests) meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            self.page.wait_for_timeout(50)

    def origin(self) -> str:
        parts = urlsplit(self.page.url)
        return f"{parts.scheme}://{parts.netloc}"

    def event_requests(self) -> list[Request]:
        """The browser's ``POST /collect/{dataset}`` requests, in the order they were made."""
        return [
            r
            for r in self.collect_requests
            if r.method == "POST" and urlsplit(r.url).path == COLLECT_PATH
        ]

    def consent_requests(self) -> list[Request]:
        return [
            r for r in self.collect_requests if urlsplit(r.url).path == COLLECT_PATH + "/consent"
        ]

    def answered(self, request: Request, status: int) -> Response:
        """The gateway's answer to ``request``: ``status``, with CORS for the page's origin."""
        response = request.response()
        assert response is not None, request.failure
        assert response.status == status, (response.status, response.text())
        assert response.all_headers().get("access-control-allow-origin") == self.origin()
        return response

    def sent(self, count: int) -> list[dict[str, Any]]:
        """The events the browser sent to ``/collect`` (in the order of its requests) once it has
        sent ``count``; the gateway answered every request 200 and took all of its events."""

        def events() -> list[dict[str, Any]]:
            found = [e for r in self.event_requests() for e in body(r)["events"]]
            return found if len(found) >= count else []

        found: list[dict[str, Any]] = self.wait(events, what=f"{count} events sent to /collect")
        assert len(found) == count, [e["event_id"] for e in found]
        for request in self.event_requests():
            answer = self.answered(request, 200).json()
            assert answer["events_received"] == len(body(request)["events"]), answer
        return found

    def open(self, query: str = "", host: str = SHOP_HOST) -> tuple[int, int]:
        """Load the landing page; returns the time window (ms) around the landing."""
        before = now_ms()
        self.page.goto(f"{self.shop.url(host)}/landing.html{query}")
        self.page.wait_for_function("window.signalyard && window.signalyard.loaded === true")
        return before, now_ms()

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def cookies(self) -> dict[str, Any]:
        return {c["name"]: c for c in self.context.cookies()}

    def clicks(self) -> Any:
        raw = self.js("localStorage.getItem('_sy_clicks')")
        return None if raw is None else json.loads(raw)

    def fbq_calls(self) -> list[list[Any]]:
        return list(self.js("window.__fbqCalls"))

    def quiet(self) -> None:
        """Wait, then assert nothing was sent to /collect and the pixel was not called."""
        self.page.wait_for_timeout(QUIET_MS)
        assert self.collect_requests == [], [r.url for r in self.collect_requests]
        assert self.fbq_calls() == []

    def close(self) -> None:
        assert self.errors == []
        self.context.close()


@pytest.fixture
def tab(browser: Browser, shop: Site) -> Iterator[Tab]:
    t = Tab(browser, shop)
    yield t
    t.close()


def use_snippet(shop: Site, gateway_url: str, *, attrs: str = "", before: str = "") -> None:
    shop.head = before + documented_snippet(f"{gateway_url}/sy.js", DATASET, attrs)


def body(request: Request) -> dict[str, Any]:
    """The JSON body the browser sent."""
    data = request.post_data_json
    assert isinstance(data, dict), request.post_data
    return data


def fbp_parts(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"fb\.1\.(\d{13})\.(\d+)", value)
    assert m, value
    return int(m.group(1)), int(m.group(2))


def fbc_time(value: str, fbclid: str) -> int:
    m = re.fullmatch(r"fb\.1\.(\d{13})\." + re.escape(fbclid), value)
    assert m, value
    return int(m.group(1))


def sandbox_event(gateway: Server, event_id: str, timeout: float = 30) -> dict[str, Any]:
    found = wait_for(
        lambda: gateway.sandbox("events", event_id=event_id)["events"],
        timeout=timeout,
        what=f"event {event_id} in the sandbox",
    )
    (recorded,) = found
    return dict(recorded["event"])


def never_delivered(gateway: Server, *event_ids: str) -> None:
    for event_id in event_ids:
        assert gateway.sandbox("events", event_id=event_id)["events"] == [], event_id


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def unique(name: str) -> str:
    """An event id no other test of the module uses (the gateway is shared)."""
    return f"{name}-{uuid.uuid4().hex[:12]}"


# --- the script: cookies, click ids, the stub, consent and batches -------------------------


def test_landing_writes_fbp_fbc_and_click_ids(tab: Tab, shop: Site, gateway: Server) -> None:
    use_snippet(shop, gateway.url)
    t0, t1 = tab.open("?fbclid=abc&gclid=xyz&ScCid=S-1&utm_source=fb")

    cookies = tab.cookies()
    fbp, fbc = cookies["_fbp"], cookies["_fbc"]
    created, rand = fbp_parts(fbp["value"])
    assert t0 <= created <= t1 and 0 <= rand < 2**31
    landed = fbc_time(fbc["value"], "abc")
    assert t0 <= landed <= t1
    for c in (fbp, fbc):
        assert c["domain"] == ".example.com" and c["path"] == "/" and c["sameSite"] == "Lax"
        assert abs(c["expires"] - (time.time() + NINETY_DAYS)) < 120
    assert "_sy_probe" not in cookies
    assert tab.clicks() == {
        "fbclid": {"id": "abc", "at": landed},
        "gclid": {"id": "xyz", "at": landed},
        "ScCid": {"id": "S-1", "at": landed},
    }

    # The same click again (a reload): nothing changes.
    tab.open("?fbclid=abc&gclid=xyz")
    assert tab.cookies()["_fbc"]["value"] == fbc["value"]
    assert tab.cookies()["_fbp"]["value"] == fbp["value"]
    assert tab.clicks()["gclid"] == {"id": "xyz", "at": landed}

    # A new click: a new _fbc with the new time; _fbp stays; other click ids are kept.
    time.sleep(0.01)
    t2, t3 = tab.open("?fbclid=Def-9_X&msclkid=m1")
    relanded = fbc_time(tab.cookies()["_fbc"]["value"], "Def-9_X")
    assert t2 <= relanded <= t3 and relanded > landed
    assert tab.cookies()["_fbp"]["value"] == fbp["value"]
    clicks = tab.clicks()
    assert clicks["fbclid"] == {"id": "Def-9_X", "at": relanded}
    assert clicks["msclkid"] == {"id": "m1", "at": relanded}
    assert clicks["gclid"] == {"id": "xyz", "at": landed}

    # Landing sends nothing; an event then carries the new cookies, and the gateway takes them.
    assert tab.collect_requests == []
    event_id = tab.js("signalyard.track('PageView')")
    (sent,) = tab.sent(1)
    cookies = tab.cookies()
    assert sent["user_data"] == {"fbp": fbp["value"], "fbc": cookies["_fbc"]["value"]}
    delivered = sandbox_event(gateway, event_id)
    assert delivered["user_data"]["fbp"] == fbp["value"]
    assert delivered["user_data"]["fbc"] == cookies["_fbc"]["value"]


@pytest.mark.parametrize(
    ("host", "index", "domain"),
    [
        (UK_HOST, 2, ".example.co.uk"),  # co.uk is a public suffix: the browser refuses it
        ("127.0.0.1", 0, "127.0.0.1"),  # an IP address: host-only cookies
    ],
)
def test_cookie_domain_and_subdomain_index(
    tab: Tab, shop: Site, gateway: Server, host: str, index: int, domain: str
) -> None:
    use_snippet(shop, gateway.url)
    t0, t1 = tab.open("?fbclid=abc", host=host)
    cookies = tab.cookies()
    m = re.fullmatch(rf"fb\.{index}\.(\d{{13}})\.abc", cookies["_fbc"]["value"])
    assert m and t0 <= int(m.group(1)) <= t1
    assert cookies["_fbp"]["value"].startswith(f"fb.{index}.")
    assert cookies["_fbp"]["domain"] == cookies["_fbc"]["domain"] == domain

    # The gateway takes this origin's events, and these fbp/fbc, as they are.
    event_id = tab.js("signalyard.track('PageView')")
    (sent,) = tab.sent(1)
    assert sent["event_source_url"].startswith(f"{shop.url(host)}/")
    delivered = sandbox_event(gateway, event_id)
    assert delivered["user_data"]["fbp"] == cookies["_fbp"]["value"]
    assert delivered["user_data"]["fbc"] == cookies["_fbc"]["value"]


def test_existing_cookies_are_kept_and_expired_clicks_dropped(
    tab: Tab, shop: Site, gateway: Server
) -> None:
    use_snippet(shop, gateway.url)
    old_fbp, old_fbc = "fb.1.1596403881668.1116446470", "fb.1.1596403881000.abc"
    tab.context.add_cookies(
        [
            {"name": "_fbp", "value": old_fbp, "domain": ".example.com", "path": "/"},
            {"name": "_fbc", "value": old_fbc, "domain": ".example.com", "path": "/"},
        ]
    )
    tab.open()
    stale = {"gclid": {"id": "old", "at": now_ms() - 91 * 86400 * 1000}}
    fresh = {"ttclid": {"id": "tt", "at": now_ms() - 89 * 86400 * 1000}}
    tab.js(f"localStorage.setItem('_sy_clicks', '{json.dumps({**stale, **fresh})}')")

    tab.open("?fbclid=abc")  # the fbclid the _fbc cookie already carries
    cookies = tab.cookies()
    assert cookies["_fbp"]["value"] == old_fbp and cookies["_fbc"]["value"] == old_fbc
    assert abs(cookies["_fbp"]["expires"] - (time.time() + NINETY_DAYS)) < 120  # renewed
    assert set(tab.clicks()) == {"fbclid", "ttclid"}

    # What is sent carries the kept cookies and click ids, and the gateway delivers the fbp.
    event_id = tab.js("signalyard.track('PageView')")
    (sent,) = tab.sent(1)
    assert sent["user_data"] == {"fbp": old_fbp, "fbc": old_fbc}
    assert set(sent["click_ids"]) == {"fbclid", "ttclid"}
    assert sandbox_event(gateway, event_id)["user_data"]["fbp"] == old_fbp


def test_track_sends_the_event_and_gives_the_pixel_the_same_id(
    tab: Tab, shop: Site, gateway: Server
) -> None:
    use_snippet(shop, gateway.url)
    given = unique("order")
    # Chromium's own record of the requests it makes, CORS preflights (OPTIONS) included.
    preflights: list[str] = []

    def on_request(event: dict[str, Any]) -> None:
        if event["initiator"]["type"] == "preflight" or event["request"]["method"] == "OPTIONS":
            preflights.append(event["request"]["url"])

    cdp = tab.context.new_cdp_session(tab.page)
    cdp.on("Network.requestWillBeSent", on_request)
    cdp.send("Network.enable")
    t0, t1 = tab.open("?fbclid=abc&gclid=xyz")
    purchase_id, custom_id, given_id = tab.js(
        "[signalyard.track('Purchase', {value: 10, currency: 'USD'},"
        "   {user_data: {em: 'Jane@Example.com', external_id: 'c-1'}}),"
        " signalyard.track('WishlistShared', {list: 'summer'}),"
        f" signalyard.track('Lead', null, {{event_id: '{given}', pixel: false}})]"
    )
    assert UUID.fullmatch(purchase_id) and UUID.fullmatch(custom_id) and given_id == given

    events = tab.sent(3)
    by_name = {e["event_name"]: e for e in events}
    cookies = tab.cookies()
    landed = fbc_time(cookies["_fbc"]["value"], "abc")
    purchase = by_name["Purchase"]
    assert purchase["event_id"] == purchase_id
    assert t0 // 1000 <= purchase["event_time"] <= now_ms() // 1000
    assert purchase["event_source_url"] == tab.page.url
    assert purchase["custom_data"] == {"value": 10, "currency": "USD"}
    assert purchase["user_data"] == {
        "fbp": cookies["_fbp"]["value"],
        "fbc": cookies["_fbc"]["value"],
        "em": "Jane@Example.com",
        "external_id": "c-1",
    }
    assert purchase["click_ids"] == {
        "fbclid": {"id": "abc", "at": landed},
        "gclid": {"id": "xyz", "at": landed},
    }
    assert purchase["consent"] == {"state": "granted", "source": "none"}
    assert by_name["WishlistShared"]["event_id"] == custom_id
    assert by_name["Lead"]["event_id"] == given and "custom_data" not in by_name["Lead"]
    assert t0 <= landed <= t1

    assert tab.fbq_calls() == [
        ["track", "Purchase", {"value": 10, "currency": "USD"}, {"eventID": purchase_id}],
        ["trackCustom", "WishlistShared", {"list": "summer"}, {"eventID": custom_id}],
    ]
    # One simple text/plain request (one batch): no CORS preflight, no cookies; the gateway
    # answers it with CORS for the shop's origin.
    (post,) = tab.collect_requests
    assert post.method == "POST" and urlsplit(post.url).path == COLLECT_PATH
    headers = post.all_headers()
    assert headers["content-type"].startswith("text/plain")
    assert "cookie" not in headers
    assert headers["origin"] == shop.url(SHOP_HOST)
    assert preflights == []
    # The gateway delivers the three, the email and customer id hashed.
    delivered = sandbox_event(gateway, purchase_id)
    assert (
        delivered["event_name"] == "Purchase" and delivered["event_time"] == purchase["event_time"]
    )
    assert delivered["user_data"]["em"] == [sha256("jane@example.com")]
    assert delivered["user_data"]["external_id"] == [sha256("c-1")]
    assert delivered["user_data"]["fbc"] == cookies["_fbc"]["value"]
    assert sandbox_event(gateway, custom_id)["event_name"] == "WishlistShared"
    assert sandbox_event(gateway, given)["event_name"] == "Lead"


def test_calls_before_the_script_loads_are_kept(tab: Tab, shop: Site, gateway: Server) -> None:
    use_snippet(shop, gateway.url)
    fixed = unique("fixed")
    shop.head += (
        "<script>window.__loadedEarly = !!signalyard.loaded;"
        " window.__early = signalyard.track('AddToCart', {value: 3, currency: 'EUR'});"
        f" window.__early2 = signalyard.track('Search', {{}}, {{event_id: '{fixed}'}});</script>"
    )
    # The gateway's sy.js is held back until the page has made its calls.
    held: list[Route] = []
    tab.page.route(f"{gateway.url}/sy.js", lambda route: held.append(route))
    tab.page.goto(f"{shop.url(SHOP_HOST)}/landing.html?gclid=q1", wait_until="domcontentloaded")
    tab.wait(lambda: held, what="the request for sy.js")
    assert tab.js("window.__loadedEarly") is False
    early = tab.js("window.__early")
    assert isinstance(early, str) and early and tab.js("window.__early2") == fixed
    assert tab.js("signalyard.loaded") is not True and tab.collect_requests == []
    held[0].continue_()
    tab.page.wait_for_function("window.signalyard && window.signalyard.loaded === true")

    events = tab.sent(2)
    assert [(e["event_name"], e["event_id"]) for e in events] == [
        ("AddToCart", early),
        ("Search", fixed),
    ]
    assert events[0]["click_ids"]["gclid"]["id"] == "q1"
    assert tab.fbq_calls()[0] == [
        "track",
        "AddToCart",
        {"value": 3, "currency": "EUR"},
        {"eventID": early},
    ]
    assert sandbox_event(gateway, early)["custom_data"]["currency"] == "EUR"
    assert sandbox_event(gateway, fixed)["event_name"] == "Search"


def test_consent_required_holds_everything_until_granted(
    tab: Tab, shop: Site, gateway: Server
) -> None:
    use_snippet(shop, gateway.url, attrs=' data-consent="required"')
    t0, t1 = tab.open("?fbclid=abc&gclid=xyz")
    event_id = tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    tab.quiet()
    never_delivered(gateway, event_id)
    assert "_fbp" not in tab.cookies() and "_fbc" not in tab.cookies()
    assert tab.clicks() is None
    assert tab.js("signalyard.consent()") == {
        "state": "pending",
        "source": "none",
        "required": True,
    }

    time.sleep(0.05)
    granted_at = now_ms()
    tab.js("signalyard.consent('granted')")
    (event,) = tab.sent(1)
    assert event["event_id"] == event_id
    assert event["consent"] == {"state": "granted", "source": "api"}
    cookies = tab.cookies()
    landed = fbc_time(cookies["_fbc"]["value"], "abc")
    assert t0 <= landed <= t1 < granted_at  # the click time is the landing, not the grant
    assert fbp_parts(cookies["_fbp"]["value"])[0] >= granted_at
    assert event["user_data"] == {"fbp": cookies["_fbp"]["value"], "fbc": cookies["_fbc"]["value"]}
    assert tab.clicks()["gclid"] == {"id": "xyz", "at": landed}
    assert tab.fbq_calls() == [
        ["track", "Purchase", {"value": 10, "currency": "USD"}, {"eventID": event_id}]
    ]
    delivered = sandbox_event(gateway, event_id)
    assert delivered["user_data"]["fbc"] == cookies["_fbc"]["value"]


def test_consent_denied_drops_held_events(tab: Tab, shop: Site, gateway: Server) -> None:
    use_snippet(shop, gateway.url, attrs=' data-consent="required"')
    tab.open("?fbclid=abc")
    dropped = [tab.js("signalyard.track('Purchase', {value: 1, currency: 'USD'})")]
    tab.js("signalyard.consent('denied')")
    dropped.append(tab.js("signalyard.track('Lead')"))
    tab.quiet()
    assert tab.cookies() == {} and tab.clicks() is None

    tab.js("signalyard.consent('granted')")
    later = tab.js("signalyard.track('Contact')")
    (event,) = tab.sent(1)
    assert event["event_id"] == later and later not in dropped
    tab.page.wait_for_timeout(200)
    assert [e["event_id"] for r in tab.event_requests() for e in body(r)["events"]] == [later]
    # The later event reached Meta: the gateway had time to deliver the others, had they come.
    sandbox_event(gateway, later)
    never_delivered(gateway, *dropped)


def test_consent_required_through_the_stub(tab: Tab, shop: Site, gateway: Server) -> None:
    use_snippet(shop, gateway.url)
    shop.head += (
        "<script>signalyard.consent('required');"
        " window.__pv = signalyard.track('PageView');</script>"
    )
    tab.open("?gclid=xyz")
    tab.quiet()
    assert tab.cookies() == {}
    tab.js("signalyard.consent('granted')")
    (event,) = tab.sent(1)
    assert event["event_name"] == "PageView" and event["event_id"] == tab.js("window.__pv")
    assert sandbox_event(gateway, event["event_id"])["event_name"] == "PageView"


@pytest.mark.parametrize("decision", ["granted", "denied"])
def test_google_consent_mode(tab: Tab, shop: Site, gateway: Server, decision: str) -> None:
    # No data-consent attribute: the page's Consent Mode default alone holds events.
    use_snippet(
        shop,
        gateway.url,
        before=GTAG
        + "<script>gtag('consent', 'default', {ad_storage: 'denied', ad_user_data: 'denied',"
        " analytics_storage: 'denied'});</script>",
    )
    tab.open("?fbclid=abc")
    event_id = tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    tab.quiet()
    assert tab.cookies() == {}
    assert tab.js("signalyard.consent()")["state"] == "pending"
    # gtag.js replaces dataLayer.push when it loads; updates after that are still seen.
    tab.js(
        "dataLayer.push = function () { return Array.prototype.push.apply(dataLayer, arguments); }"
    )
    tab.js("gtag('consent', 'update', {analytics_storage: 'granted'})")  # not about ads
    tab.quiet()
    tab.js(f"gtag('consent', 'update', {{ad_storage: '{decision}', ad_user_data: '{decision}'}})")
    if decision == "granted":
        (event,) = tab.sent(1)
        assert event["event_id"] == event_id
        assert event["consent"] == {"state": "granted", "source": "gcm"}
        assert event["user_data"]["fbc"].endswith(".abc")
        assert sandbox_event(gateway, event_id)["user_data"]["fbc"] == event["user_data"]["fbc"]
    else:
        tab.quiet()
        assert tab.cookies() == {}
        assert tab.js("signalyard.consent()")["state"] == "denied"
        never_delivered(gateway, event_id)


def test_google_consent_mode_default_granted(tab: Tab, shop: Site, gateway: Server) -> None:
    use_snippet(
        shop,
        gateway.url,
        attrs=' data-consent="required"',
        before=GTAG + "<script>gtag('consent', 'default', {ad_storage: 'granted'});</script>",
    )
    tab.open()
    event_id = tab.js("signalyard.track('ViewContent')")
    (event,) = tab.sent(1)
    assert event["consent"] == {"state": "granted", "source": "gcm"}
    assert sandbox_event(gateway, event_id)["event_name"] == "ViewContent"


TCF_CMP = """<script>
window.__tcfListeners = [];
window.__tcfapi = function (command, version, callback) {
  if (command !== 'addEventListener' || version !== 2) return;
  window.__tcfListeners.push(callback);
  callback({gdprApplies: true, eventStatus: 'cmpuishown', listenerId: 7,
            purpose: {consents: {}, legitimateInterests: {}}}, true);
};
window.__tcfDecide = function (consents) {
  window.__tcfListeners.forEach(function (cb) {
    cb({gdprApplies: true, eventStatus: 'useractioncomplete', listenerId: 7, tcString: 'CQ...',
        purpose: {consents: consents, legitimateInterests: {}}}, true);
  });
};
</script>"""


@pytest.mark.parametrize(
    ("consents", "sent"),
    [
        ({"1": True, "2": True, "3": True, "4": True, "7": True}, True),
        ({"1": True, "7": True}, False),  # no ads profile: denied with the default purposes
    ],
)
def test_tcf(tab: Tab, shop: Site, gateway: Server, consents: dict[str, bool], sent: bool) -> None:
    use_snippet(shop, gateway.url, attrs=' data-consent="required"', before=TCF_CMP)
    tab.open("?fbclid=abc")
    assert tab.js("window.__tcfListeners.length") == 1
    event_id = tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    tab.quiet()
    tab.js(f"__tcfDecide({json.dumps(consents)})")
    if sent:
        (event,) = tab.sent(1)
        assert event["event_id"] == event_id
        assert event["consent"] == {"state": "granted", "source": "tcf"}
        assert sandbox_event(gateway, event_id)["event_name"] == "Purchase"
    else:
        tab.quiet()
        assert tab.js("signalyard.consent()") == {
            "state": "denied",
            "source": "tcf",
            "required": True,
        }
        assert tab.cookies() == {}
        never_delivered(gateway, event_id)


def test_tcf_purposes_are_configurable(tab: Tab, shop: Site, gateway: Server) -> None:
    use_snippet(
        shop,
        gateway.url,
        attrs=' data-consent="required" data-tcf-purposes="1,7"',
        before=TCF_CMP,
    )
    tab.open()
    event_id = tab.js("signalyard.track('Lead')")
    tab.js("__tcfDecide({1: true, 7: true})")
    (event,) = tab.sent(1)
    assert event["consent"]["source"] == "tcf"
    assert sandbox_event(gateway, event_id)["event_name"] == "Lead"


def test_a_change_of_consent_after_sending_is_reported(
    tab: Tab, shop: Site, gateway: Server
) -> None:
    use_snippet(shop, gateway.url)
    tab.open()
    page_view = tab.js("signalyard.track('PageView')")
    (sent,) = tab.sent(1)
    sandbox_event(gateway, page_view)
    tab.js("signalyard.consent('denied')")
    purchase = tab.js("signalyard.track('Purchase')")  # dropped
    (report,) = tab.wait(tab.consent_requests, what="the consent request")
    assert report.method == "POST" and urlsplit(report.url).path == f"/collect/{DATASET}/consent"
    tab.answered(report, 204)  # the real /consent took the browser's token
    # proved by the browser's consent token (first-party cookie, sent with its events too)
    token = tab.cookies()["_sy_ct"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", token["value"])
    assert token["domain"] == ".example.com" and token["sameSite"] == "Lax"
    assert token["expires"] == pytest.approx(time.time() + NINETY_DAYS, abs=60)
    (request,) = tab.event_requests()
    assert body(request)["consent_token"] == token["value"]
    assert sent["event_id"] == page_view
    assert report.post_data_json == {
        "consent_token": token["value"],
        "state": "denied",
        "source": "api",
    }
    tab.page.wait_for_timeout(300)
    assert [e["event_name"] for r in tab.event_requests() for e in body(r)["events"]] == [
        "PageView"
    ]
    never_delivered(gateway, purchase)


def test_events_are_batched_50_per_request(tab: Tab, shop: Site, gateway: Server) -> None:
    use_snippet(shop, gateway.url)
    tab.open()
    ids = tab.js("Array.from({length: 120}, (_, i) => signalyard.track('ViewContent', {n: i}))")
    events = tab.sent(120)  # every batch answered 200 by the gateway, all its events taken
    sizes = [len(body(r)["events"]) for r in tab.event_requests()]
    assert sorted(sizes) == [20, 50, 50]  # three requests in flight at once: any order
    assert sorted(e["event_id"] for e in events) == sorted(ids)
    assert len(set(ids)) == 120

    def delivered() -> set[str]:
        found = gateway.sandbox("events", event_name="ViewContent", limit=1000)["events"]
        return {e["event"]["event_id"] for e in found} & set(ids)

    wait_for(lambda: len(delivered()) == 120, timeout=30, what="the 120 events in the sandbox")


# --- end to end: a real gateway and its Meta sandbox ---------------------------------------


def test_gateway_serves_the_script(gateway: Server) -> None:
    r = httpx.get(f"{gateway.url}/sy.js", timeout=10)
    assert r.status_code == 200 and r.content == SCRIPT
    assert "javascript" in r.headers["content-type"]


def test_gateway_purchase_reaches_meta_with_the_pixel_event_id(
    tab: Tab, gateway: Server, shop: Site
) -> None:
    use_snippet(shop, gateway.url)
    t0, t1 = tab.open("?fbclid=abc&gclid=xyz")
    cookies = tab.cookies()
    landed = fbc_time(cookies["_fbc"]["value"], "abc")
    assert t0 <= landed <= t1
    fbp_parts(cookies["_fbp"]["value"])
    clicks = tab.clicks()
    assert clicks == {"fbclid": {"id": "abc", "at": landed}, "gclid": {"id": "xyz", "at": landed}}

    event_id = tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    ((name, eid),) = [(c[1], c[3]["eventID"]) for c in tab.fbq_calls()]
    assert (name, eid) == ("Purchase", event_id)
    event = sandbox_event(gateway, event_id)
    assert event["event_name"] == "Purchase" and event["event_id"] == event_id
    assert event["action_source"] == "website"
    assert event["user_data"]["fbp"] == cookies["_fbp"]["value"]
    assert event["user_data"]["fbc"] == cookies["_fbc"]["value"]
    assert event["user_data"]["client_user_agent"] == tab.js("navigator.userAgent")
    assert event["custom_data"]["value"] == 10 and event["custom_data"]["currency"] == "USD"
    assert event["event_source_url"] == tab.page.url
    (request,) = tab.collect_requests
    assert request.response() is not None and request.response().status == 200  # type: ignore[union-attr]


def test_gateway_consent_required_then_granted(tab: Tab, gateway: Server, shop: Site) -> None:
    use_snippet(shop, gateway.url, attrs=' data-consent="required"')
    tab.open("?fbclid=abc")
    event_id = tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    tab.quiet()
    assert gateway.sandbox("events", event_id=event_id)["events"] == []
    tab.js("signalyard.consent('granted')")
    event = sandbox_event(gateway, event_id)
    assert event["user_data"]["fbp"] == tab.cookies()["_fbp"]["value"]
    assert event["user_data"]["fbc"] == tab.cookies()["_fbc"]["value"]


def test_gateway_consent_mode_update_releases(tab: Tab, gateway: Server, shop: Site) -> None:
    use_snippet(
        shop,
        gateway.url,
        attrs=' data-consent="required"',
        before=GTAG
        + "<script>gtag('consent', 'default', {ad_storage: 'denied', ad_user_data: 'denied'})"
        "</script>",
    )
    tab.open("?fbclid=abc")
    event_id = tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    tab.quiet()
    tab.js("gtag('consent', 'update', {ad_storage: 'granted', ad_user_data: 'granted'})")
    event = sandbox_event(gateway, event_id)
    assert event["event_id"] == event_id


def test_gateway_consent_denied_sends_nothing(tab: Tab, gateway: Server, shop: Site) -> None:
    use_snippet(shop, gateway.url, attrs=' data-consent="required"')
    tab.open("?fbclid=abc")
    event_id = tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    tab.js("signalyard.consent('denied')")
    tab.quiet()
    # A later event that is sent shows the gateway had time to deliver the first one, had it come.
    tab.js("signalyard.consent('granted')")
    later = tab.js("signalyard.track('Lead')")
    sandbox_event(gateway, later)
    assert gateway.sandbox("events", event_id=event_id)["events"] == []


def test_gateway_accepts_a_later_change_of_consent(tab: Tab, gateway: Server, shop: Site) -> None:
    use_snippet(shop, gateway.url)
    tab.open()
    sandbox_event(gateway, tab.js("signalyard.track('PageView')"))
    tab.js("signalyard.consent('denied')")
    report = tab.wait(tab.consent_requests, what="the consent request")[0]
    response = report.response()
    assert response is not None and response.status == 204
    assert report.post_data_json == {
        "consent_token": tab.cookies()["_sy_ct"]["value"],
        "state": "denied",
        "source": "api",
    }


def test_gateway_a_held_lead_is_released_by_its_page_only(
    tab: Tab, gateway: Server, shop: Site
) -> None:
    """A page that asks nobody sends unknown, which a rule EU:unknown=hold holds at the gateway.
    A request from outside naming the browser's fbp (a spoofed Origin) releases nothing; the
    page's own consent('granted'), proved by its consent token, does."""
    done = gateway.cli("destinations", "set-consent", "meta-sandbox", "--rule", "*:unknown=hold")
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        use_snippet(shop, gateway.url)
        tab.open()
        collect_url = f"{gateway.url}/collect/{DATASET}"
        with tab.page.expect_response(collect_url) as answer:
            lead = tab.js("signalyard.track('Lead')")
        assert answer.value.status == 200
        sent = answer.value.request.post_data_json
        assert sent is not None and sent["consent_token"] == tab.cookies()["_sy_ct"]["value"]
        fbp = tab.cookies()["_fbp"]["value"]
        spoof = {"origin": shop.url(SHOP_HOST), "user-agent": "Mozilla/5.0 Firefox/128.0"}
        consent = f"{gateway.url}/collect/{DATASET}/consent"
        r = httpx.post(consent, json={"fbp": fbp, "state": "granted"}, headers=spoof, timeout=10)
        assert r.status_code == 403 and r.json()["error"]["field"] == "consent_token"
        guess = {"fbp": fbp, "consent_token": "A" * 24, "state": "granted"}
        assert httpx.post(consent, json=guess, headers=spoof, timeout=10).status_code == 204
        copy = {
            "event_name": "Lead",
            "event_id": lead,
            "event_source_url": shop.url(SHOP_HOST) + "/",
            "consent": "granted",
            "user_data": {"fbp": fbp},
        }
        r = httpx.post(
            f"{gateway.url}/collect/{DATASET}", json={"events": [copy]}, headers=spoof, timeout=10
        )
        assert r.status_code == 200, r.text
        # a later event sent in full: the gateway had time to deliver the Lead, had it been freed
        later = {
            "event_name": "PageView",
            "event_id": "after-spoof",
            "event_source_url": shop.url(SHOP_HOST) + "/",
            "consent": "granted",
        }
        httpx.post(
            f"{gateway.url}/collect/{DATASET}", json={"events": [later]}, headers=spoof, timeout=10
        )
        sandbox_event(gateway, "after-spoof")
        assert gateway.sandbox("events", event_id=lead)["events"] == []

        tab.js("signalyard.consent('granted')")
        report = tab.wait(tab.consent_requests, what="the consent request")[0]
        assert report.post_data_json["consent_token"] == tab.cookies()["_sy_ct"]["value"]
        assert sandbox_event(gateway, lead)["event_name"] == "Lead"
    finally:
        done = gateway.cli("destinations", "set-consent", "meta-sandbox", "--reset")
        assert done.returncode == 0, done.stdout + done.stderr


def test_tiktok_pixel_gets_the_same_event_id_and_its_ttp_cookie_goes_along(
    tab: Tab, shop: Site, gateway: Server
) -> None:
    """With TikTok's pixel on the page (ttq, and its _ttp cookie), the script hands ttq the
    event id it sends to the gateway (TikTok keeps one of the two), and sends the _ttp cookie
    as browser_ids.ttp, which the gateway accepts and keeps for a TikTok destination."""
    use_snippet(shop, gateway.url)
    tab.open()
    tab.js(
        "window.__ttqCalls = [];"
        " window.ttq = {track: function () { window.__ttqCalls.push([].slice.call(arguments)); }};"
        " document.cookie = '_ttp=2Qm3ttpCookieValue; path=/';"
    )
    event_id = tab.js("signalyard.track('Purchase', {value: 7, currency: 'USD'})")
    (sent,) = tab.sent(1)  # every request answered 200, its events taken
    assert sent["event_id"] == event_id
    assert sent["browser_ids"] == {"ttp": "2Qm3ttpCookieValue"}
    assert tab.js("window.__ttqCalls") == [
        ["Purchase", {"value": 7, "currency": "USD"}, {"event_id": event_id}]
    ]
    assert [c[3]["eventID"] for c in tab.fbq_calls()] == [event_id]


def test_platform_tags_cookies_go_along_as_browser_and_click_ids(
    tab: Tab, shop: Site, gateway: Server
) -> None:
    """The cookies other platforms' tags set travel with the event: Google's _ga (GA4's
    client id), Snapchat's _scid, Reddit's _rdt_uuid and Shopify's cart token as browser_ids;
    Pinterest's _epik and LinkedIn's li_fat_id as click ids when the landing URL gave none.
    The gateway accepts them (every request answered 200, its events taken)."""
    use_snippet(shop, gateway.url)
    tab.open()
    tab.js(
        "document.cookie = '_ga=GA1.1.1234567890.1700000000; path=/';"
        " document.cookie = '_scid=5d2f9a1c-scid; path=/';"
        " document.cookie = '_rdt_uuid=1700000000000.rdt-uuid; path=/';"
        " document.cookie = '_epik=dj0yJnU9epik; path=/';"
        " document.cookie = 'li_fat_id=2b7c1e2a-lifat; path=/';"
        " document.cookie = 'cart=Z2NwLXVzLWVhc3QxOjAxSk1BQ0FSVA%3Fkey%3D9f1e; path=/';"
    )
    tab.js("signalyard.track('Lead', {})")
    (sent,) = tab.sent(1)
    assert sent["browser_ids"] == {
        "ga": "GA1.1.1234567890.1700000000",
        "scid": "5d2f9a1c-scid",
        "rdt_uuid": "1700000000000.rdt-uuid",
        "cart": "Z2NwLXVzLWVhc3QxOjAxSk1BQ0FSVA?key=9f1e",  # Shopify's cart token, decoded
    }
    assert sent["click_ids"]["epik"]["id"] == "dj0yJnU9epik"
    assert sent["click_ids"]["li_fat_id"]["id"] == "2b7c1e2a-lifat"


def test_a_checkout_token_passed_to_track_goes_along_as_a_browser_id(
    tab: Tab, shop: Site, gateway: Server
) -> None:
    """`signalyard.track(name, data, {checkout: token})` (a checkout page that knows its
    token) sends it as browser_ids.checkout beside the cookies' ids; a token that is not a
    string of at most 256 characters is left out. The gateway accepts it."""
    use_snippet(shop, gateway.url)
    tab.open()
    tab.js("document.cookie = '_scid=5d2f9a1c-scid; path=/';")
    tab.js("signalyard.track('InitiateCheckout', {}, {checkout: '5f0e1a2b3c4d5e6f7a8b9c0d'})")
    (sent,) = tab.sent(1)
    assert sent["browser_ids"] == {"scid": "5d2f9a1c-scid", "checkout": "5f0e1a2b3c4d5e6f7a8b9c0d"}
    tab.js("signalyard.track('Lead', {}, {checkout: 12})")
    tab.js("signalyard.track('Lead', {}, {checkout: 'x'.repeat(257)})")
    tab.js("signalyard.track('Lead', {}, {checkout: '   '})")  # blank: the gateway refuses it
    tab.js("signalyard.track('Lead', {}, {checkout: ' tok '})")
    _, second, third, fourth, fifth = tab.sent(5)
    assert second["browser_ids"] == third["browser_ids"] == fourth["browser_ids"]
    assert fourth["browser_ids"] == {"scid": "5d2f9a1c-scid"}
    assert fifth["browser_ids"] == {"scid": "5d2f9a1c-scid", "checkout": "tok"}
