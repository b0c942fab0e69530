"""The dashboard end to end, in real headless Chromium driven by Playwright.

A real ``signalyard serve`` child process (SQLite, its Meta sandbox, a dashboard password)
receives a shop's traffic through the Graph-compatible endpoint. It has two destinations on
the sandbox: ``meta-sandbox`` delivers, except one event the sandbox rejects (a dead letter);
``meta-backup`` has a token the sandbox answers as expired, so it is paused. The browser logs
in through the form, finds the traffic on the overview's chart, the paused destination with
its reason and fix, every page's heading, then replays the dead letter with its button and
watches it reach the sandbox.

Under CI (``CI=true``) a missing Chromium or Playwright fails the test; elsewhere it is skipped
with the reason. With ``SIGNALYARD_SCREENSHOTS=docs/screenshots`` it also writes the
screenshots of docs/dashboard.md there, after adding a week of earlier statistics so the
charts look like a running shop's (see :func:`tests.e2e.dashboard_support.backfill_history`);
by default it writes nothing into the repository.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import in_thread
from tests.e2e.browser_support import chromium_path, unavailable, wait_for
from tests.e2e.dashboard_support import (
    BAD_EVENT_ID,
    EXPIRED,
    EXPIRED_TOKEN,
    HEALTHY,
    PASSWORD,
    Counts,
    backfill_history,
    screenshot_dir,
    traffic,
)
from tests.e2e.server import DATASET, Server, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, ViewportSize

pytestmark = pytest.mark.slow

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
TOTALS = ("received", "stored", "duplicates", "rejected", "delivered", "failed", "queued", "dead")
HEADINGS = {
    "quality": "Match quality",
    "dedup": "Deduplication",
    "diagnostics": "Diagnostics",
    "alerts": "Alerts",
    "delivery": "Delivery",
}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    path = chromium_path()
    if path is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=path, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("dashboard-gateway")
    manager = running_server(
        tmp,
        env={
            "SIGNALYARD_DASHBOARD_PASSWORD": PASSWORD,
            "SIGNALYARD_ALERTS_INTERVAL_SECONDS": "1",
        },
    )
    # Playwright's sync API keeps an event loop running in this thread, and the set-up of the
    # gateway uses asyncio.run: enter and leave it in another thread.
    server = in_thread(manager.__enter__)
    try:
        yield server
    finally:
        in_thread(lambda: manager.__exit__(None, None, None))


# --- helpers ---------------------------------------------------------------------------------


def number(locator: Locator) -> int:
    """The count a card shows (``1,234`` → 1234)."""
    text = locator.locator("b, dd").first.inner_text()
    return int(text.replace(",", "").strip())


def legend(page: Page, chart: str) -> Counter[str]:
    """A chart's legend: series name → total."""
    out: Counter[str] = Counter()
    for item in page.locator(f"#{chart} .legend li").all_inner_texts():
        name, total = item.strip().rsplit(" ", 1)
        out[name] = int(total.replace(",", ""))
    return out


def bars(page: Page, chart: str) -> dict[str, Counter[str]]:
    """A chart's bar segments, from their titles: series name → bar label → count."""
    out: dict[str, Counter[str]] = {}
    for title in page.locator(f"#{chart} rect title").all_text_contents():
        found = re.fullmatch(r"(.+), (.+): ([\d,]+)", title)
        assert found, title
        name, label, n = found.groups()
        out.setdefault(name, Counter())[label] += int(n.replace(",", ""))
    return out


def reload_until(page: Page, check: Callable[[], Any], *, timeout: float = 20, what: str) -> Any:
    """Reload the page until ``check()`` is truthy (the statistics are flushed every 2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        page.wait_for_timeout(300)
        page.reload()


def heading(page: Page) -> str:
    return page.locator("#page-title").inner_text().strip()


def shoot(page: Page, shots: Path | None, name: str) -> None:
    """A full-page PNG of ``page`` in ``shots`` (when screenshots were asked for), made small
    with pngquant when it is installed (``apt-get install pngquant``)."""
    if shots is None:
        return
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    pngquant = shutil.which("pngquant")
    if pngquant is not None:
        subprocess.run(
            [
                pngquant,
                "--quality=75-95",
                "--speed=1",
                "--strip",
                "--force",
                "--ext=.png",
                str(path),
            ],
            check=False,  # 99: the quality asked for would not fit in 256 colours; keep the PNG
            timeout=60,
        )


def sandbox_event_ids(gateway: Server) -> list[str]:
    found = gateway.sandbox("events", dataset_id=DATASET, limit=1000)["events"]
    return [e["event"]["event_id"] for e in found]


def add_fault(gateway: Server, spec: dict[str, Any]) -> str:
    r = httpx.post(f"{gateway.url}/sandbox/meta/_sandbox/faults", json=spec, timeout=10)
    r.raise_for_status()
    return str(r.json()["fault"]["id"])


# --- the test --------------------------------------------------------------------------------


def test_dashboard_end_to_end(gateway: Server, chromium: Browser) -> None:
    shots = screenshot_dir()
    now = time.time()
    history = (
        in_thread(lambda: backfill_history(gateway.database_url, now=now)) if shots else Counts()
    )

    # A second destination on the same sandbox, whose token the sandbox says has expired; and
    # one Purchase the sandbox rejects as invalid.
    added = gateway.cli(
        "destinations",
        "add",
        DATASET,
        EXPIRED,
        "--option",
        f"pixel_id={DATASET}",
        "--option",
        "graph_url=sandbox",
        "--token-stdin",
        stdin=EXPIRED_TOKEN + "\n",
    )
    assert added.returncode == 0, added.stdout + added.stderr
    add_fault(gateway, {"kind": "expired_token", "token": EXPIRED_TOKEN})
    invalid = add_fault(gateway, {"kind": "invalid_event", "event_ids": [BAD_EVENT_ID]})

    sent = traffic(now)
    for batch in sent.accepted:
        r = gateway.post_events(batch)
        assert r.status_code == 200, r.text
        assert r.json()["events_received"] == len(batch)
    r = gateway.post_events(sent.refused)
    assert r.status_code == 400 and "currency" in r.text, r.text

    # meta-sandbox delivers every stored event but the bad one, which it dead-letters.
    stored = sent.expected.stored
    ids = wait_for(
        lambda: len(found := sandbox_event_ids(gateway)) == stored - 1 and found,
        timeout=30,
        what=f"{stored - 1} events delivered to the sandbox",
    )
    assert BAD_EVENT_ID not in ids
    assert set(sent.purchase_ids) - set(ids) == {BAD_EVENT_ID}
    # From now on the sandbox would accept it: a replay can succeed.
    httpx.delete(
        f"{gateway.url}/sandbox/meta/_sandbox/faults/{invalid}", timeout=10
    ).raise_for_status()
    expected = history + Counts(
        by_name=sent.expected.by_name,
        stored=stored,
        duplicates=sent.expected.duplicates,
        rejected=sent.expected.rejected,
        delivered=stored - 1,
        failed=1,
    )

    context = chromium.new_context(viewport=LAPTOP)
    page = context.new_page()
    base = f"{gateway.url}/dashboard"

    # Log in through the form (a wrong password first).
    page.goto(f"{base}/")
    assert re.search(r"/dashboard/login\?next=", page.url), page.url
    assert heading(page) == "Log in"
    shoot(page, shots, "login")
    page.fill("#password", "not the password")
    page.click("[data-testid=login-submit]")
    assert page.locator("[data-testid=login-error]").is_visible()
    page.fill("#password", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(f"{base}/")
    assert heading(page) == "Overview"
    assert page.locator("#nav").is_visible()

    # The overview: the totals and the chart of the traffic sent.
    def totals() -> dict[str, int]:
        return {key: number(page.locator(f"[data-testid=total-{key}]")) for key in TOTALS}

    want = {
        "received": expected.received,
        "stored": expected.stored,
        "duplicates": expected.duplicates,
        "rejected": expected.rejected,
        "delivered": expected.delivered,
        "failed": expected.failed,
        "queued": stored,  # every stored event waits for the paused meta-backup
        "dead": 1,
    }
    reload_until(page, lambda: totals() == want, what=f"the overview totals {want}")
    chart = page.locator("#overview-chart")
    assert chart.is_visible()
    assert legend(page, "overview-chart-events") == expected.by_name
    # Each bar segment's title ("PageView, 23 Nov 12h: 24"): they add up to the legend.
    segments = bars(page, "overview-chart-events")
    assert segments.keys() >= set(sent.expected.by_name)
    assert Counter({name: c.total() for name, c in segments.items()}) == expected.by_name
    if shots is None:
        # Only the traffic just sent (one bar, or two if a 6-hour boundary passed meanwhile).
        assert 1 <= len({label for by_label in segments.values() for label in by_label}) <= 2
        assert legend(page, "overview-chart-sources") == {"server API": expected.received}
        assert legend(page, "overview-chart-delivery") == {"delivered": stored - 1, "failed": 1}
    backup_row = page.locator(f"[data-testid=overview-destination-{EXPIRED}]")
    assert "paused" in backup_row.inner_text()
    healthy_row = page.locator(f"[data-testid=overview-destination-{HEALTHY}]")
    assert "active" in healthy_row.inner_text()
    shoot(page, shots, "overview")

    # The phone layout of the same page, with the same session.
    phone = chromium.new_context(viewport=PHONE, storage_state=context.storage_state())
    phone_page = phone.new_page()
    phone_page.goto(f"{base}/")
    assert heading(phone_page) == "Overview"
    assert phone_page.locator("#overview-chart-events").is_visible()
    shoot(phone_page, shots, "overview-phone")
    phone.close()

    # The other pages, through the menu.
    page.click("[data-testid=nav-quality]")
    assert heading(page) == HEADINGS["quality"]
    assert page.locator("[data-testid=score-Purchase]").is_visible()
    assert page.locator("[data-testid=coverage-Purchase-em]").inner_text().strip() == "100%"
    shoot(page, shots, "quality")

    page.click("[data-testid=nav-dedup]")
    assert heading(page) == HEADINGS["dedup"]
    assert page.locator("[data-testid=dedup-Purchase]").is_visible()
    assert page.locator("[data-testid=dedup-Lead]").is_visible()
    shoot(page, shots, "dedup")

    page.click("[data-testid=nav-diagnostics]")
    assert heading(page) == HEADINGS["diagnostics"]
    for code in ("late", "generated_ids", "purchase_without_currency"):
        assert page.locator(f"[data-testid=diagnostic-{code}]").is_visible(), code
    assert "PageView" in page.locator("[data-testid=diagnostic-late]").inner_text()
    shoot(page, shots, "diagnostics")

    page.click("[data-testid=nav-alerts]")
    assert heading(page) == HEADINGS["alerts"]
    paused_alert = page.locator("#alerts-table tr", has_text="destination_paused")
    reload_until(page, lambda: paused_alert.count() == 1, what="the destination_paused alert")
    assert EXPIRED in paused_alert.inner_text() and "firing" in paused_alert.inner_text()
    assert page.locator("[data-testid=alerts-firing-count]").inner_text().strip() == "1"
    shoot(page, shots, "alerts")

    # Delivery: the paused destination with its reason and fix, and the dead letter.
    page.click("[data-testid=nav-delivery]")
    assert heading(page) == HEADINGS["delivery"]
    assert page.locator("[data-testid=alert-banner]").is_visible()
    assert page.locator(f"[data-testid=state-{EXPIRED}]").inner_text().strip() == "paused"
    reason = page.locator(f"[data-testid=paused-reason-{EXPIRED}]").inner_text()
    fix = page.locator(f"[data-testid=paused-fix-{EXPIRED}]").inner_text()
    assert "access token expired" in reason, reason
    assert "signalyard destinations set-token" in fix, fix
    assert number(page.locator(f"[data-testid=queued-{EXPIRED}]")) == stored
    assert page.locator(f"[data-testid=state-{HEALTHY}]").inner_text().strip() == "active"
    assert number(page.locator(f"[data-testid=dead-count-{HEALTHY}]")) == 1
    dead = page.locator(f"[data-testid=dead-letters-{HEALTHY}] tbody tr")
    assert dead.count() == 1
    row = dead.first
    assert BAD_EVENT_ID in row.inner_text() and "Purchase" in row.inner_text()
    assert "2804019" in row.inner_text(), row.inner_text()
    shoot(page, shots, "delivery")

    # Replay it with its button (a CSRF-protected form) and watch it reach the sandbox.
    testid = row.get_attribute("data-testid")
    assert testid is not None and testid.startswith("dead-letter-")
    outbox_id = testid.removeprefix("dead-letter-")
    page.click(f"[data-testid=replay-{outbox_id}]")
    page.wait_for_url(re.compile(r"/dashboard/delivery\?dataset=\d+#destination-meta-sandbox$"))
    assert page.locator("[data-testid=flash]").inner_text().strip() == (
        f"1 dead letter(s) of {HEALTHY} queued again."
    )
    wait_for(
        lambda: BAD_EVENT_ID in sandbox_event_ids(gateway),
        timeout=20,
        what="the replayed event in the sandbox",
    )
    reload_until(
        page,
        lambda: page.locator(f"[data-testid=no-dead-letters-{HEALTHY}]").is_visible(),
        what="the dead letter to go",
    )
    assert number(page.locator(f"[data-testid=dead-count-{HEALTHY}]")) == 0
    assert len(sandbox_event_ids(gateway)) == stored
    page.click("[data-testid=nav-overview]")
    reload_until(
        page,
        lambda: number(page.locator("[data-testid=total-delivered]")) == expected.delivered + 1,
        what="the replayed event counted as delivered",
    )
    assert number(page.locator("[data-testid=total-dead]")) == 0
    context.close()
