"""The browser script (``sy.js``) in real headless Chromium, driven by Playwright.

The shop's pages come from a small HTTP server on ``shop.example.com`` (Chromium maps that name
to 127.0.0.1, so cookies land on ``.example.com`` with subdomain index 1); the script and
``/collect`` come from another origin: a stand-in that records requests for the script-level
tests, and a real ``signalyard serve`` child process with its Meta sandbox for the end-to-end
ones. Under CI (``CI=true``) a missing Chromium or Playwright fails these tests; elsewhere they
are skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    from playwright.sync_api import Browser, Request

pytestmark = pytest.mark.slow

NINETY_DAYS = 90 * 86400
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
QUIET_MS = 600
"""How long a test watches for requests that must not happen."""
UK_HOST = "shop.example.co.uk"
GTAG = "<script>window.dataLayer = window.dataLayer || [];\
 function gtag(){dataLayer.push(arguments);}</script>"


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


@pytest.fixture
def shop() -> Iterator[Site]:
    site = Site()
    yield site
    site.close()


@pytest.fixture
def fake_gateway() -> Iterator[Site]:
    site = Site()
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


def fbp_parts(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"fb\.1\.(\d{13})\.(\d+)", value)
    assert m, value
    return int(m.group(1)), int(m.group(2))


def fbc_time(value: str, fbclid: str) -> int:
    m = re.fullmatch(r"fb\.1\.(\d{13})\." + re.escape(fbclid), value)
    assert m, value
    return int(m.group(1))


# --- the script against a recording stand-in for the gateway ---------------------------------


def test_landing_writes_fbp_fbc_and_click_ids(tab: Tab, shop: Site, fake_gateway: Site) -> None:
    use_snippet(shop, fake_gateway.url())
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


@pytest.mark.parametrize(
    ("host", "index", "domain"),
    [
        (UK_HOST, 2, ".example.co.uk"),  # co.uk is a public suffix: the browser refuses it
        ("127.0.0.1", 0, "127.0.0.1"),  # an IP address: host-only cookies
    ],
)
def test_cookie_domain_and_subdomain_index(
    tab: Tab, shop: Site, fake_gateway: Site, host: str, index: int, domain: str
) -> None:
    use_snippet(shop, fake_gateway.url())
    t0, t1 = tab.open("?fbclid=abc", host=host)
    cookies = tab.cookies()
    m = re.fullmatch(rf"fb\.{index}\.(\d{{13}})\.abc", cookies["_fbc"]["value"])
    assert m and t0 <= int(m.group(1)) <= t1
    assert cookies["_fbp"]["value"].startswith(f"fb.{index}.")
    assert cookies["_fbp"]["domain"] == cookies["_fbc"]["domain"] == domain


def test_existing_cookies_are_kept_and_expired_clicks_dropped(
    tab: Tab, shop: Site, fake_gateway: Site
) -> None:
    use_snippet(shop, fake_gateway.url())
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


def test_track_sends_the_event_and_gives_the_pixel_the_same_id(
    tab: Tab, shop: Site, fake_gateway: Site
) -> None:
    use_snippet(shop, fake_gateway.url())
    t0, t1 = tab.open("?fbclid=abc&gclid=xyz")
    purchase_id, custom_id, given_id = tab.js(
        "[signalyard.track('Purchase', {value: 10, currency: 'USD'},"
        "   {user_data: {em: 'Jane@Example.com', external_id: 'c-1'}}),"
        " signalyard.track('WishlistShared', {list: 'summer'}),"
        " signalyard.track('Lead', null, {event_id: 'order-77', pixel: false})]"
    )
    assert UUID.fullmatch(purchase_id) and UUID.fullmatch(custom_id) and given_id == "order-77"

    events = wait_for(lambda: len(fake_gateway.collected()) == 3 and fake_gateway.collected())
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
    assert by_name["Lead"]["event_id"] == "order-77" and "custom_data" not in by_name["Lead"]
    assert t0 <= landed <= t1

    assert tab.fbq_calls() == [
        ["track", "Purchase", {"value": 10, "currency": "USD"}, {"eventID": purchase_id}],
        ["trackCustom", "WishlistShared", {"list": "summer"}, {"eventID": custom_id}],
    ]
    # One simple text/plain request (one batch): no CORS preflight, no cookies.
    (post,) = fake_gateway.requests()
    assert post.method == "POST" and post.path == f"/collect/{DATASET}"
    assert post.headers["content-type"].startswith("text/plain")
    assert "cookie" not in post.headers
    assert post.headers["origin"] == shop.url(SHOP_HOST)


def test_calls_before_the_script_loads_are_kept(tab: Tab, shop: Site, fake_gateway: Site) -> None:
    fake_gateway.script_delay = 0.5
    use_snippet(shop, fake_gateway.url())
    shop.head += (
        "<script>window.__loadedEarly = !!signalyard.loaded;"
        " window.__early = signalyard.track('AddToCart', {value: 3, currency: 'EUR'});"
        " window.__early2 = signalyard.track('Search', {}, {event_id: 'fixed-1'});</script>"
    )
    tab.open("?gclid=q1")
    assert tab.js("window.__loadedEarly") is False
    early = tab.js("window.__early")
    assert isinstance(early, str) and early and tab.js("window.__early2") == "fixed-1"
    events = wait_for(lambda: len(fake_gateway.collected()) == 2 and fake_gateway.collected())
    assert [(e["event_name"], e["event_id"]) for e in events] == [
        ("AddToCart", early),
        ("Search", "fixed-1"),
    ]
    assert events[0]["click_ids"]["gclid"]["id"] == "q1"
    assert tab.fbq_calls()[0] == [
        "track",
        "AddToCart",
        {"value": 3, "currency": "EUR"},
        {"eventID": early},
    ]


def test_consent_required_holds_everything_until_granted(
    tab: Tab, shop: Site, fake_gateway: Site
) -> None:
    use_snippet(shop, fake_gateway.url(), attrs=' data-consent="required"')
    t0, t1 = tab.open("?fbclid=abc&gclid=xyz")
    event_id = tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    tab.quiet()
    assert fake_gateway.requests() == []
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
    (event,) = wait_for(fake_gateway.collected, what="the held event")
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


def test_consent_denied_drops_held_events(tab: Tab, shop: Site, fake_gateway: Site) -> None:
    use_snippet(shop, fake_gateway.url(), attrs=' data-consent="required"')
    tab.open("?fbclid=abc")
    dropped = [tab.js("signalyard.track('Purchase', {value: 1, currency: 'USD'})")]
    tab.js("signalyard.consent('denied')")
    dropped.append(tab.js("signalyard.track('Lead')"))
    tab.quiet()
    assert fake_gateway.requests() == [] and tab.cookies() == {} and tab.clicks() is None

    tab.js("signalyard.consent('granted')")
    later = tab.js("signalyard.track('Contact')")
    (event,) = wait_for(fake_gateway.collected)
    assert event["event_id"] == later and later not in dropped
    tab.page.wait_for_timeout(200)
    assert [e["event_id"] for e in fake_gateway.collected()] == [later]


def test_consent_required_through_the_stub(tab: Tab, shop: Site, fake_gateway: Site) -> None:
    use_snippet(shop, fake_gateway.url())
    shop.head += "<script>signalyard.consent('required'); signalyard.track('PageView');</script>"
    tab.open("?gclid=xyz")
    tab.quiet()
    assert tab.cookies() == {}
    tab.js("signalyard.consent('granted')")
    (event,) = wait_for(fake_gateway.collected)
    assert event["event_name"] == "PageView"


@pytest.mark.parametrize("decision", ["granted", "denied"])
def test_google_consent_mode(tab: Tab, shop: Site, fake_gateway: Site, decision: str) -> None:
    # No data-consent attribute: the page's Consent Mode default alone holds events.
    use_snippet(
        shop,
        fake_gateway.url(),
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
        (event,) = wait_for(fake_gateway.collected)
        assert event["event_id"] == event_id
        assert event["consent"] == {"state": "granted", "source": "gcm"}
        assert event["user_data"]["fbc"].endswith(".abc")
    else:
        tab.quiet()
        assert fake_gateway.requests() == [] and tab.cookies() == {}
        assert tab.js("signalyard.consent()")["state"] == "denied"


def test_google_consent_mode_default_granted(tab: Tab, shop: Site, fake_gateway: Site) -> None:
    use_snippet(
        shop,
        fake_gateway.url(),
        attrs=' data-consent="required"',
        before=GTAG + "<script>gtag('consent', 'default', {ad_storage: 'granted'});</script>",
    )
    tab.open()
    tab.js("signalyard.track('ViewContent')")
    (event,) = wait_for(fake_gateway.collected)
    assert event["consent"] == {"state": "granted", "source": "gcm"}


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
def test_tcf(
    tab: Tab, shop: Site, fake_gateway: Site, consents: dict[str, bool], sent: bool
) -> None:
    use_snippet(shop, fake_gateway.url(), attrs=' data-consent="required"', before=TCF_CMP)
    tab.open("?fbclid=abc")
    assert tab.js("window.__tcfListeners.length") == 1
    event_id = tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    tab.quiet()
    tab.js(f"__tcfDecide({json.dumps(consents)})")
    if sent:
        (event,) = wait_for(fake_gateway.collected)
        assert event["event_id"] == event_id
        assert event["consent"] == {"state": "granted", "source": "tcf"}
    else:
        tab.quiet()
        assert tab.js("signalyard.consent()") == {
            "state": "denied",
            "source": "tcf",
            "required": True,
        }
        assert tab.cookies() == {}


def test_tcf_purposes_are_configurable(tab: Tab, shop: Site, fake_gateway: Site) -> None:
    use_snippet(
        shop,
        fake_gateway.url(),
        attrs=' data-consent="required" data-tcf-purposes="1,7"',
        before=TCF_CMP,
    )
    tab.open()
    tab.js("signalyard.track('Lead')")
    tab.js("__tcfDecide({1: true, 7: true})")
    (event,) = wait_for(fake_gateway.collected)
    assert event["consent"]["source"] == "tcf"


def test_a_change_of_consent_after_sending_is_reported(
    tab: Tab, shop: Site, fake_gateway: Site
) -> None:
    use_snippet(shop, fake_gateway.url())
    tab.open()
    tab.js("signalyard.track('PageView')")
    wait_for(fake_gateway.collected)
    tab.js("signalyard.consent('denied')")
    tab.js("signalyard.track('Purchase')")  # dropped
    (report,) = wait_for(lambda: fake_gateway.requests(lambda r: r.path.endswith("/consent")))
    assert report.path == f"/collect/{DATASET}/consent"
    # proved by the browser's consent token (first-party cookie, sent with its events too)
    token = tab.cookies()["_sy_ct"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", token["value"])
    assert token["domain"] == ".example.com" and token["sameSite"] == "Lax"
    assert token["expires"] == pytest.approx(time.time() + NINETY_DAYS, abs=60)
    (sent,) = fake_gateway.requests(lambda r: r.path == f"/collect/{DATASET}")
    assert sent.json()["consent_token"] == token["value"]
    assert report.json() == {"consent_token": token["value"], "state": "denied", "source": "api"}
    tab.page.wait_for_timeout(300)
    assert [e["event_name"] for e in fake_gateway.collected()] == ["PageView"]


def test_events_are_batched_50_per_request(tab: Tab, shop: Site, fake_gateway: Site) -> None:
    use_snippet(shop, fake_gateway.url())
    tab.open()
    ids = tab.js("Array.from({length: 120}, (_, i) => signalyard.track('ViewContent', {n: i}))")
    wait_for(lambda: len(fake_gateway.collected()) == 120)
    sizes = [len(r.json()["events"]) for r in fake_gateway.requests()]
    assert sorted(sizes) == [20, 50, 50]  # three requests in flight at once: any order
    assert sorted(e["event_id"] for e in fake_gateway.collected()) == sorted(ids)
    assert len(set(ids)) == 120


# --- end to end: a real gateway and its Meta sandbox ---------------------------------------


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
def gateway_shop(gateway: Server) -> Iterator[Site]:
    """The shop of the end-to-end tests: one origin for the module, allowed once (the gateway
    caches a dataset's allowed origins for a few seconds)."""
    site = Site()
    done = gateway.cli("datasets", "set-origins", DATASET, site.url(SHOP_HOST))
    assert done.returncode == 0, done.stdout + done.stderr
    yield site
    site.close()


@pytest.fixture
def gateway_tab(browser: Browser, gateway_shop: Site) -> Iterator[Tab]:
    t = Tab(browser, gateway_shop)
    yield t
    t.close()


def sandbox_event(gateway: Server, event_id: str, timeout: float = 30) -> dict[str, Any]:
    found = wait_for(
        lambda: gateway.sandbox("events", event_id=event_id)["events"],
        timeout=timeout,
        what=f"event {event_id} in the sandbox",
    )
    (recorded,) = found
    return dict(recorded["event"])


def test_gateway_serves_the_script(gateway: Server) -> None:
    r = httpx.get(f"{gateway.url}/sy.js", timeout=10)
    assert r.status_code == 200 and r.content == SCRIPT
    assert "javascript" in r.headers["content-type"]


def test_gateway_purchase_reaches_meta_with_the_pixel_event_id(
    gateway_tab: Tab, gateway: Server, gateway_shop: Site
) -> None:
    use_snippet(gateway_shop, gateway.url)
    t0, t1 = gateway_tab.open("?fbclid=abc&gclid=xyz")
    cookies = gateway_tab.cookies()
    landed = fbc_time(cookies["_fbc"]["value"], "abc")
    assert t0 <= landed <= t1
    fbp_parts(cookies["_fbp"]["value"])
    clicks = gateway_tab.clicks()
    assert clicks == {"fbclid": {"id": "abc", "at": landed}, "gclid": {"id": "xyz", "at": landed}}

    event_id = gateway_tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    ((name, eid),) = [(c[1], c[3]["eventID"]) for c in gateway_tab.fbq_calls()]
    assert (name, eid) == ("Purchase", event_id)
    event = sandbox_event(gateway, event_id)
    assert event["event_name"] == "Purchase" and event["event_id"] == event_id
    assert event["action_source"] == "website"
    assert event["user_data"]["fbp"] == cookies["_fbp"]["value"]
    assert event["user_data"]["fbc"] == cookies["_fbc"]["value"]
    assert event["user_data"]["client_user_agent"] == gateway_tab.js("navigator.userAgent")
    assert event["custom_data"]["value"] == 10 and event["custom_data"]["currency"] == "USD"
    assert event["event_source_url"] == gateway_tab.page.url
    (request,) = gateway_tab.collect_requests
    assert request.response() is not None and request.response().status == 200  # type: ignore[union-attr]


def test_gateway_consent_required_then_granted(
    gateway_tab: Tab, gateway: Server, gateway_shop: Site
) -> None:
    use_snippet(gateway_shop, gateway.url, attrs=' data-consent="required"')
    gateway_tab.open("?fbclid=abc")
    event_id = gateway_tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    gateway_tab.quiet()
    assert gateway.sandbox("events", event_id=event_id)["events"] == []
    gateway_tab.js("signalyard.consent('granted')")
    event = sandbox_event(gateway, event_id)
    assert event["user_data"]["fbp"] == gateway_tab.cookies()["_fbp"]["value"]
    assert event["user_data"]["fbc"] == gateway_tab.cookies()["_fbc"]["value"]


def test_gateway_consent_mode_update_releases(
    gateway_tab: Tab, gateway: Server, gateway_shop: Site
) -> None:
    use_snippet(
        gateway_shop,
        gateway.url,
        attrs=' data-consent="required"',
        before=GTAG
        + "<script>gtag('consent', 'default', {ad_storage: 'denied', ad_user_data: 'denied'})"
        "</script>",
    )
    gateway_tab.open("?fbclid=abc")
    event_id = gateway_tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    gateway_tab.quiet()
    gateway_tab.js("gtag('consent', 'update', {ad_storage: 'granted', ad_user_data: 'granted'})")
    event = sandbox_event(gateway, event_id)
    assert event["event_id"] == event_id


def test_gateway_consent_denied_sends_nothing(
    gateway_tab: Tab, gateway: Server, gateway_shop: Site
) -> None:
    use_snippet(gateway_shop, gateway.url, attrs=' data-consent="required"')
    gateway_tab.open("?fbclid=abc")
    event_id = gateway_tab.js("signalyard.track('Purchase', {value: 10, currency: 'USD'})")
    gateway_tab.js("signalyard.consent('denied')")
    gateway_tab.quiet()
    # A later event that is sent shows the gateway had time to deliver the first one, had it come.
    gateway_tab.js("signalyard.consent('granted')")
    later = gateway_tab.js("signalyard.track('Lead')")
    sandbox_event(gateway, later)
    assert gateway.sandbox("events", event_id=event_id)["events"] == []


def test_gateway_accepts_a_later_change_of_consent(
    gateway_tab: Tab, gateway: Server, gateway_shop: Site
) -> None:
    use_snippet(gateway_shop, gateway.url)
    gateway_tab.open()
    sandbox_event(gateway, gateway_tab.js("signalyard.track('PageView')"))
    gateway_tab.js("signalyard.consent('denied')")
    report = wait_for(
        lambda: [r for r in gateway_tab.collect_requests if r.url.endswith("/consent")],
        what="the consent request",
    )[0]
    response = report.response()
    assert response is not None and response.status == 204
    assert report.post_data_json == {
        "consent_token": gateway_tab.cookies()["_sy_ct"]["value"],
        "state": "denied",
        "source": "api",
    }


def test_gateway_a_held_lead_is_released_by_its_page_only(
    gateway_tab: Tab, gateway: Server, gateway_shop: Site
) -> None:
    """A page that asks nobody sends unknown, which a rule EU:unknown=hold holds at the gateway.
    A request from outside naming the browser's fbp (a spoofed Origin) releases nothing; the
    page's own consent('granted'), proved by its consent token, does."""
    done = gateway.cli("destinations", "set-consent", "meta-sandbox", "--rule", "*:unknown=hold")
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        use_snippet(gateway_shop, gateway.url)
        gateway_tab.open()
        collect_url = f"{gateway.url}/collect/{DATASET}"
        with gateway_tab.page.expect_response(collect_url) as answer:
            lead = gateway_tab.js("signalyard.track('Lead')")
        assert answer.value.status == 200
        sent = answer.value.request.post_data_json
        assert (
            sent is not None and sent["consent_token"] == gateway_tab.cookies()["_sy_ct"]["value"]
        )
        fbp = gateway_tab.cookies()["_fbp"]["value"]
        spoof = {"origin": gateway_shop.url(SHOP_HOST), "user-agent": "Mozilla/5.0 Firefox/128.0"}
        consent = f"{gateway.url}/collect/{DATASET}/consent"
        r = httpx.post(consent, json={"fbp": fbp, "state": "granted"}, headers=spoof, timeout=10)
        assert r.status_code == 403 and r.json()["error"]["field"] == "consent_token"
        guess = {"fbp": fbp, "consent_token": "A" * 24, "state": "granted"}
        assert httpx.post(consent, json=guess, headers=spoof, timeout=10).status_code == 204
        copy = {
            "event_name": "Lead",
            "event_id": lead,
            "event_source_url": gateway_shop.url(SHOP_HOST) + "/",
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
            "event_source_url": gateway_shop.url(SHOP_HOST) + "/",
            "consent": "granted",
        }
        httpx.post(
            f"{gateway.url}/collect/{DATASET}", json={"events": [later]}, headers=spoof, timeout=10
        )
        sandbox_event(gateway, "after-spoof")
        assert gateway.sandbox("events", event_id=lead)["events"] == []

        gateway_tab.js("signalyard.consent('granted')")
        report = wait_for(
            lambda: [r for r in gateway_tab.collect_requests if r.url.endswith("/consent")],
            what="the consent request",
        )[0]
        assert report.post_data_json["consent_token"] == gateway_tab.cookies()["_sy_ct"]["value"]
        assert sandbox_event(gateway, lead)["event_name"] == "Lead"
    finally:
        done = gateway.cli("destinations", "set-consent", "meta-sandbox", "--reset")
        assert done.returncode == 0, done.stdout + done.stderr
