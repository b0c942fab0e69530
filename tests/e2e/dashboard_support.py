"""Traffic for the dashboard's browser test (tests/e2e/test_dashboard_browser.py): the events a
small shop sends through the Graph-compatible endpoint, what the dashboard must then count,
and, for the documentation's screenshots only, a week of earlier statistics written through
the real :class:`~signalyard.insights.recorder.StatsRecorder`."""

from __future__ import annotations

import asyncio
import math
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signalyard.event import AcceptedEvent
from signalyard.insights.recorder import StatsRecorder
from signalyard.runtime import make_store
from signalyard.settings import load_settings
from tests.e2e.browser_support import ROOT
from tests.e2e.server import DATASET

PASSWORD = "correct horse battery staple"
HEALTHY = "meta-sandbox"
"""The destination tests/e2e/server.py creates: delivers normally."""
EXPIRED = "meta-backup"
"""A second destination whose token the sandbox answers as expired (190/463): paused."""
EXPIRED_TOKEN = "EAAB-backup-token-that-expired"
BAD_EVENT_ID = "order-1003"
"""The sandbox rejects this event (100/2804019) until the fault is removed: a dead letter."""
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.5 Safari/605.1.15"
)
SCREENSHOTS_ENV = "SIGNALYARD_SCREENSHOTS"


def screenshot_dir() -> Path | None:
    """Where to write the documentation's screenshots: ``$SIGNALYARD_SCREENSHOTS`` (relative to
    the repository), or None (the default: the test writes nothing into the repository)."""
    raw = os.environ.get(SCREENSHOTS_ENV, "").strip()
    if not raw:
        return None
    path = Path(raw)
    path = path if path.is_absolute() else ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Counts:
    """What the overview must show for the traffic sent (and, when screenshots are taken, the
    week before it)."""

    by_name: Counter[str] = field(default_factory=Counter)
    """Events received per event name (duplicates included)."""
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    delivered: int = 0
    failed: int = 0

    @property
    def received(self) -> int:
        return sum(self.by_name.values())

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.by_name + other.by_name,
            self.stored + other.stored,
            self.duplicates + other.duplicates,
            self.rejected + other.rejected,
            self.delivered + other.delivered,
            self.failed + other.failed,
        )


def _user(i: int, *, known: bool, click: bool) -> dict[str, Any]:
    user: dict[str, Any] = {
        "client_ip_address": f"203.0.113.{10 + i % 200}",
        "client_user_agent": UA,
        "fbp": f"fb.1.1718000000{i:03d}.{1000000 + i}",
    }
    if click:
        user["fbc"] = f"fb.1.1718000000{i:03d}.IwAR{i:04d}click"
    if known:
        user.update(
            em=f"customer{i}@example.com",
            ph=f"+1 650 555 {i:04d}",
            external_id=f"cust-{i}",
            ct="Menlo Park",
            st="CA",
            zp="94025",
            country="US",
        )
    return user


def _event(
    name: str, event_id: str | None, when: float, user: dict[str, Any], **custom: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": name,
        "event_time": int(when),
        "action_source": "website",
        "event_source_url": "https://shop.example.com/products/linen-shirt",
        "user_data": user,
    }
    if event_id is not None:
        event["event_id"] = event_id
    if custom:
        event["custom_data"] = custom
    return event


@dataclass
class Traffic:
    accepted: list[list[dict[str, Any]]]
    """Requests that must be answered 200, in order."""
    refused: list[dict[str, Any]]
    """One request that must be refused (a Purchase without currency)."""
    expected: Counts
    purchase_ids: list[str]


def traffic(now: float) -> Traffic:
    """A shop's last minutes: 24 PageView (3 sent two hours late), 12 ViewContent, 6 AddToCart,
    4 Purchase (``BAD_EVENT_ID`` among them) and 2 of them sent again (duplicates), 2 Lead
    without an event_id; one Purchase refused for its missing currency."""
    page_views = [
        _event(
            "PageView",
            f"pv-{i}",
            now - (7200 if i < 3 else 0),
            _user(i, known=False, click=i % 3 == 0),
        )
        for i in range(24)
    ]
    views = [
        _event(
            "ViewContent",
            f"vc-{i}",
            now,
            _user(i, known=False, click=i % 3 == 0),
            content_ids=[f"sku-{i}"],
            content_type="product",
        )
        for i in range(12)
    ]
    carts = [
        _event(
            "AddToCart",
            f"atc-{i}",
            now,
            _user(i, known=i % 2 == 0, click=False),
            value=39.0,
            currency="USD",
        )
        for i in range(6)
    ]
    purchase_ids = [f"order-{1001 + i}" for i in range(4)]
    assert BAD_EVENT_ID in purchase_ids
    purchases = [
        _event(
            "Purchase",
            eid,
            now,
            _user(i, known=True, click=i % 2 == 0),
            value=79.0 + i,
            currency="USD",
        )
        for i, eid in enumerate(purchase_ids)
    ]
    leads = [_event("Lead", None, now, _user(50 + i, known=True, click=False)) for i in range(2)]
    refused = _event("Purchase", "order-1099", now, _user(99, known=True, click=False), value=10.0)
    expected = Counts(
        by_name=Counter(PageView=24, ViewContent=12, AddToCart=6, Purchase=6, Lead=2),
        stored=48,
        duplicates=2,
        rejected=1,
    )
    return Traffic(
        accepted=[
            page_views[:10],
            page_views[10:] + views,
            carts + purchases,
            leads,
            purchases[:2],
        ],
        refused=[refused],
        expected=expected,
        purchase_ids=purchase_ids,
    )


# --- a week of history, for the screenshots ---------------------------------------------------

_MIX = (
    # name, share of page views, source, customer known, clicked
    ("PageView", 1.0, "browser", False, True),
    ("ViewContent", 0.45, "browser", False, True),
    ("AddToCart", 0.12, "browser", False, False),
    ("InitiateCheckout", 0.06, "graph_api", True, False),
    ("Purchase", 0.035, "graph_api", True, True),
    ("Lead", 0.01, "graph_api", True, False),
)


def _accepted(
    name: str, event_id: str, when: float, source: str, user: dict[str, Any]
) -> AcceptedEvent:
    return AcceptedEvent(
        dataset_id=DATASET,
        event_name=name,
        event_id=event_id,
        event_time=int(when),
        payload={"event_name": name, "event_time": int(when), "user_data": user},
        source=source,
    )


def backfill_history(database_url: str, *, now: float, seed: int = 7) -> Counts:
    """Write the statistics of a week of earlier traffic (the 167 whole hours before this one)
    through the real :class:`StatsRecorder`, as the gateway's processes would have: a daily
    rhythm, browser events from the script, purchases paired with the Pixel's, all delivered
    to ``HEALTHY``. Only the rollups are written (no events, no outbox rows), so delivery and
    the queues are untouched. Returns what it added to the overview's 7-day totals."""
    rng = random.Random(seed)
    counts = Counts()

    async def run() -> None:
        store = make_store(load_settings(environ={}, database_url=database_url))
        await store.open()
        try:
            (healthy,) = [d for d in await store.list_destinations(DATASET) if d.name == HEALTHY]
            recorder = StatsRecorder(store)
            this_hour = int(now // 3600)
            serial = 0
            for hour in range(this_hour - 167, this_hour):
                at = hour * 3600 + 1800
                local = (hour - 7) % 24  # the shop's customers are on US Pacific time
                daily = 0.15 + 0.85 * max(0.0, math.sin(math.pi * (local - 6) / 17)) ** 1.5
                page_views = max(0, round(rng.gauss(40 * daily, 3)))
                delivered = 0
                for name, share, source, known, clicked in _MIX:
                    n = sum(rng.random() < share for _ in range(page_views))
                    events, stored, generated, pixel = [], [], [], []
                    for _ in range(n):
                        serial += 1
                        user = _user(serial, known=known, click=clicked and rng.random() < 0.4)
                        if not known and rng.random() < 0.1:
                            user.pop("fbp")
                        eid = f"h-{serial}"
                        late = rng.random() < 0.02
                        events.append(
                            _accepted(name, eid, at - (7200 if late else 0), source, user)
                        )
                        is_generated = name == "Lead" and rng.random() < 0.5
                        generated.append(is_generated)
                        # Most purchases also came from the Pixel (through the script) first:
                        # the server's copy, same event_id, is then a duplicate.
                        paired = name == "Purchase" and rng.random() < 0.7
                        if paired:
                            pixel.append(_accepted(name, eid, at, "browser", user))
                        stored.append(not paired)
                    if pixel:
                        recorder.ingested(
                            pixel,
                            [True] * len(pixel),
                            [False] * len(pixel),
                            source="browser",
                            now=at,
                        )
                    recorder.ingested(events, stored, generated, source=source, now=at)
                    counts.by_name[name] += len(events) + len(pixel)
                    counts.stored += sum(stored) + len(pixel)
                    counts.duplicates += len(stored) - sum(stored)
                    delivered += sum(stored) + len(pixel)
                if delivered:
                    recorder.delivered(healthy.id, [at - 2.0] * delivered, now=at + 5)
                    for _ in range(math.ceil(delivered / 50)):
                        recorder.request(healthy.id, ok=True, now=at + 5)
                    counts.delivered += delivered
            await recorder.flush()
        finally:
            await store.close()

    asyncio.run(run())
    return counts
