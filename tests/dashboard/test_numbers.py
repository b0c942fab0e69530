"""The dashboard's numbers mean what they say (issue 9): events sent through the real ingest
path (cleaning, the store, the statistics recorder) and, for delivery, the real worker and the
Meta sandbox; then the pages are read.

- match quality counts only values the platform can use, as the sandbox does (a hashed fbp
  is not one);
- deduplication counts event ids, not arrivals (pairs never exceed the ids the script sent);
- diagnostics list real problems first; personal data sent in plaintext for Signalyard to
  hash is information, not a problem;
- the delivery page offers no replay for an event the platform refused as invalid (or one
  past its age limit), and says the platform's reason once.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.delivery.worker import Worker
from signalyard.insights.recorder import StatsRecorder
from signalyard.sandbox.meta import create_app as create_meta_sandbox
from signalyard.sandbox.registry import served
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings
from signalyard.sources.ingest import Ingestor
from signalyard.store.sqlite import SQLiteStore

from .conftest import DATASET, csrf_of, login, text_by_testid

pytestmark = pytest.mark.anyio
SANDBOX = "http://sandbox.test"
GOOD_FBP = "fb.1.1700000000000.1234567890"
HASHED_FBP = hashlib.sha256(GOOD_FBP.encode()).hexdigest()


def event(name: str, event_id: str, now: float, **user: Any) -> dict[str, Any]:
    return {
        "event_name": name,
        "event_time": int(now) - 30,
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": "https://shop.example.com/",
        "user_data": {
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            **user,
        },
        "custom_data": {"currency": "USD", "value": 10.0},
    }


@dataclass
class Gateway:
    """The real ingest path and delivery worker on the test's store, delivering to a sandbox."""

    store: SQLiteStore
    clock: FrozenClock
    recorder: StatsRecorder
    ingestor: Ingestor
    worker: Worker
    sandbox: httpx.AsyncClient

    async def send(self, events: list[dict[str, Any]], source: str) -> None:
        dataset = await self.store.get_dataset(DATASET)
        assert dataset is not None
        await self.ingestor.ingest(events, dataset, source=source)
        await self.recorder.flush()


@contextlib.asynccontextmanager
async def gateway(store: SQLiteStore, clock: FrozenClock) -> AsyncIterator[Gateway]:
    await store.add_destination(
        DATASET,
        name="meta",
        kind="meta",
        options={"pixel_id": DATASET, "graph_url": "sandbox"},
        secrets={"access_token": Secret("sandbox-token")},
        now=clock.now(),
    )
    recorder = StatsRecorder(store)
    ingestor = Ingestor(
        store, clock, default_country=None, max_future_seconds=600, recorder=recorder
    )
    transport = httpx.ASGITransport(app=served({"meta": create_meta_sandbox(clock=clock)}))
    async with httpx.AsyncClient(transport=transport, base_url=SANDBOX) as sandbox:
        worker = Worker(
            store,
            DeliverySettings(backoff_base_seconds=1, backoff_max_seconds=2),
            clock=clock,
            client=sandbox,
            sandbox_url=SANDBOX,
        )
        yield Gateway(store, clock, recorder, ingestor, worker, sandbox)


async def page(client: httpx.AsyncClient, path: str) -> tuple[str, dict[str, str]]:
    r = await client.get("/dashboard" + path)
    assert r.status_code == 200, r.text
    return r.text, text_by_testid(r.text)


async def test_match_quality_counts_only_what_the_platform_can_use(
    authed: httpx.AsyncClient, store: SQLiteStore, clock: FrozenClock
) -> None:
    async with gateway(store, clock) as gw:
        now = clock.now()
        await gw.send(
            [event("PageView", f"h-{i}", now, fbp=HASHED_FBP) for i in range(3)]
            + [event("PageView", "g-0", now, fbp=GOOD_FBP)],
            source="graph_api",
        )
        assert await gw.worker.run_once() == 4
        sandbox = (await gw.sandbox.get("/sandbox/meta/_sandbox/summary")).json()
    _, ids = await page(authed, "/quality")
    # one event in four carries an fbp Meta can use: the hashed ones count as missing
    assert ids["coverage-PageView-fbp"] == "25%"
    assert ids["coverage-PageView-client_ip_address"] == "100%"
    # the same score and coverage as the sandbox gives the events Signalyard sent it
    emulated = _names(sandbox)["PageView"]["match_quality"]
    assert emulated["coverage"]["fbp"] == 0.25
    assert ids["score-PageView"] == f"{emulated['score']:.1f}"


def _names(summary: dict[str, Any]) -> dict[str, Any]:
    """The per-event-name counters of the sandbox summary's dataset."""
    names: dict[str, Any] = summary["datasets"][DATASET]["events"]
    return names


async def test_pairs_count_event_ids_not_arrivals(
    authed: httpx.AsyncClient, store: SQLiteStore, clock: FrozenClock
) -> None:
    async with gateway(store, clock) as gw:
        now = clock.now()
        purchases = [event("Purchase", f"p-{i}", now) for i in range(14)]
        await gw.send(purchases, source="browser")  # the script sees 14 purchases
        await gw.send(purchases, source="graph_api")  # the server sends each too
        await gw.send(purchases, source="browser")  # the script sends them all again
        await gw.send(purchases[:8], source="graph_api")  # the server retries 8
        leads = [event("Lead", f"l-{i}", now) for i in range(10)]
        await gw.send(leads, source="graph_api")  # the server first this time
        await gw.send(leads, source="browser")
    _, ids = await page(authed, "/dedup")
    # received, with event_id, duplicates, seen by the script, paired, pairing rate
    assert ids["dedup-Purchase"].startswith("Purchase 50 100% 36 14 14 100%")
    assert ids["dedup-Lead"].startswith("Lead 20 100% 10 10 10 100%")


async def test_diagnostics_rank_problems_first_and_plaintext_as_information(
    authed: httpx.AsyncClient, store: SQLiteStore, clock: FrozenClock
) -> None:
    async with gateway(store, clock) as gw:
        now = clock.now()
        # 10 purchases with the customer's email in plaintext, for Signalyard to hash: normal
        await gw.send(
            [event("Purchase", f"p-{i}", now, em="jane@example.com") for i in range(10)],
            source="graph_api",
        )
        late = [event("Purchase", f"late-{i}", now - 7200) for i in range(2)]
        await gw.send(late, source="graph_api")  # 2 sent two hours late: a real problem
        hashed = [event("PageView", "pv-1", now, fbp=HASHED_FBP)]
        await gw.send(hashed, source="graph_api")  # a hashed fbp: a real problem
    html, ids = await page(authed, "/diagnostics")
    problems = html.split('id="diagnostics-table"', 1)[1].split("</table>", 1)[0]
    order = [part.split('"', 1)[0] for part in problems.split('data-testid="diagnostic-')[1:]]
    assert order == ["late", "hashed_cookies"]
    assert "plaintext_pii" not in problems
    assert ids["info-plaintext_pii"].startswith(
        "personal data sent in plaintext for Signalyard to hash 10"
    )
    assert "nothing to do: this is the intended use" in ids["info-plaintext_pii"]


async def test_no_replay_for_an_event_refused_as_invalid_and_its_reason_once(
    authed: httpx.AsyncClient, store: SQLiteStore, clock: FrozenClock
) -> None:
    async with gateway(store, clock) as gw:
        await gw.sandbox.post(
            "/sandbox/meta/_sandbox/faults", json={"kind": "invalid_event", "event_ids": ["x-2"]}
        )
        await gw.send([event("Purchase", "old-1", clock.now())], source="graph_api")
        clock.advance(7 * 86400)
        await gw.worker.run_once()  # too old to send: dead-lettered before sending
        now = clock.now()  # x-2 is recent: within the age limit, refused only as invalid
        await gw.send([event("Purchase", f"x-{i}", now) for i in range(4)], source="graph_api")
        await gw.worker.run_once()  # bisected: x-2 alone is dead-lettered
        dead = {d.event_id: d for d in await store.dead_letters()}
    assert set(dead) == {"x-2", "old-1"}
    await login(authed)  # a week later: the session expired
    invalid, old = dead["x-2"].outbox_id, dead["old-1"].outbox_id
    _, ids = await page(authed, "/delivery")
    row = ids[f"dead-letter-{invalid}"]
    # refused as invalid: offered only with the explanation that it would fail again
    assert ids[f"replay-{invalid}"] == "Replay anyway"
    assert ids[f"replay-note-{invalid}"].startswith(
        "The platform refused this event as invalid: sent again unchanged, it would be refused"
        " again."
    )
    # past the age limit: not offered at all
    assert f"replay-{old}" not in ids
    assert ids[f"not-replayable-{old}"].startswith("Not replayable: the event is past")
    assert "replay-all-meta" not in ids  # nothing a replay of them all could help
    # the platform's reason, once
    detail = "event (event_id 'x-2') is invalid (sandbox fault invalid_event)"
    assert row.count(detail) == 1, row
    assert "code 100, subcode 2804019" in row
    # a replay of them all (an old page, a crafted form), or of the old one, leaves them
    token = csrf_of((await authed.get("/dashboard/delivery")).text)
    form = {"csrf": token, "dataset": DATASET, "destination_id": str(dead["x-2"].destination_id)}
    for outbox_id in (None, old):
        one = {} if outbox_id is None else {"outbox_id": str(outbox_id)}
        r = await authed.post("/dashboard/delivery/replay", data={**form, **one})
        assert r.status_code == 303
    assert {d.event_id for d in await store.dead_letters()} == {"x-2", "old-1"}
    _, ids = await page(authed, "/delivery")
    assert ids["flash"].startswith("Nothing replayed. 1 refused by the platform as invalid")
    # "Replay anyway" does what it says
    await authed.post("/dashboard/delivery/replay", data={**form, "outbox_id": str(invalid)})
    assert {d.event_id for d in await store.dead_letters()} == {"old-1"}
