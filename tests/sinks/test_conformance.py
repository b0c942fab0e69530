"""The conformance suite: every registered destination kind, without being named here, against
its own sandbox (``SANDBOXES``), through the real ingest (identity variants as its spec asks),
store, worker, sink and sandbox:

- what it sends is accepted by its own sandbox's validator, each event once;
- server errors and throttling are retried, nothing lost;
- a dead credential pauses the destination, new secrets resume it, nothing lost;
- one invalid event is dead-lettered alone with the platform's reason, the others delivered,
  and nothing the platform accepted is sent again (a per-event platform's partial answer
  included).

A new platform is covered by adding its two registry lines: its ``SinkSpec`` (whose example
config is used, its base URLs pointed at the sandbox) and its ``SandboxSpec`` (whose
``fault`` and ``received`` translate the suite's words into the sandbox's own).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.delivery.worker import Worker
from signalyard.sandbox.registry import SANDBOXES, served
from signalyard.sandbox.spec import SandboxSpec
from signalyard.settings import DeliverySettings
from signalyard.sinks import REGISTRY, SANDBOX
from signalyard.sinks.spec import SinkSpec
from signalyard.sources.ingest import Ingestor
from signalyard.store.sqlite import SQLiteStore
from signalyard.transforms.consent import parse_rule, policy_to_json

pytestmark = pytest.mark.anyio
DATASET = "1234567890"
SANDBOX_URL = "http://sandboxes.test"
KINDS = sorted(REGISTRY)
FAST = DeliverySettings(concurrency=2, backoff_base_seconds=1.0, backoff_max_seconds=30.0)


def test_every_registered_kind_has_a_sandbox() -> None:
    assert set(REGISTRY) <= set(SANDBOXES)


def raw_event(i: int, now: float) -> dict[str, Any]:
    """A Purchase with everything a platform matches on, in plaintext as a server sends it."""
    return {
        "event_name": "Purchase",
        "event_time": int(now) - 60,
        "event_id": f"c-{i}",
        "action_source": "website",
        "event_source_url": "https://shop.example/checkout?ttclid=E.C.P.conformance",
        "user_data": {
            "em": f"jane.doe+{i}@gmail.com",
            "ph": "(650) 555-1212",
            "fn": "Jane",
            "ln": "Doe",
            "external_id": f"customer-{i}",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (Macintosh) Chrome/126.0",
            "fbp": f"fb.1.1700000000000.{1000 + i}",
        },
        "custom_data": {
            "currency": "USD",
            "value": 42.5,
            "order_id": f"order-{i}",
            "contents": [{"id": "sku-1", "quantity": 1, "item_price": 42.5}],
        },
        "consent": "granted",
        "click_ids": {"gclid": f"Cj0KCQiA-{i}", "ttclid": f"E.C.P.{i}", "li_fat_id": f"li-{i}"},
        "browser_ids": {"ga": f"GA1.1.{1000000 + i}.1700000000"},
    }


@dataclass
class Rig:
    kind: str
    spec: SinkSpec
    sandbox: SandboxSpec
    state: Any
    store: SQLiteStore
    clock: FrozenClock
    worker: Worker
    ingestor: Ingestor
    destination_id: int = 0

    async def add_destination(self, **extra: object) -> None:
        example = self.spec.example()
        options = {
            **example.to_mapping(),
            **{k: SANDBOX for k in self.spec.url_options},
            **extra,
        }
        d = await self.store.add_destination(
            DATASET,
            name=f"{self.kind}-conformance",
            kind=self.kind,
            options=options,
            secrets=example.to_secrets(),
            now=self.clock.now(),
        )
        self.destination_id = d.id

    async def ingest(self, n: int) -> list[str]:
        dataset = await self.store.get_dataset(DATASET)
        assert dataset is not None
        raw = [raw_event(i, self.clock.now()) for i in range(n)]
        result = await self.ingestor.ingest(raw, dataset, source="graph_api")
        assert result.stored == n, result.messages
        return [str(e["event_id"]) for e in raw]

    def fault(self, kind: str, **params: Any) -> None:
        self.state.faults.add(self.sandbox.fault(kind, **params), self.clock.now())

    async def drain(self, rounds: int = 60, step: float = 61) -> None:
        for _ in range(rounds):
            if not await self.worker.run_once():
                self.clock.advance(step)

    def received(self) -> list[str]:
        return list(self.sandbox.received(self.state))

    async def status(self) -> tuple[int, int, int]:
        (st,) = await self.store.status(now=self.clock.now())
        return st.queued, st.delivered, st.dead


@contextlib.asynccontextmanager
async def rig(
    kind: str, store: SQLiteStore, clock: FrozenClock, **options: object
) -> AsyncIterator[Rig]:
    sandbox = SANDBOXES[kind]
    state = sandbox.new_state(clock=clock)
    app = served({kind: sandbox.create_app(clock=clock, state=state)})
    await store.add_dataset(DATASET, name="shop", default_country="US", now=clock.now())
    ingestor = Ingestor(
        store,
        clock,
        default_country=None,
        max_future_seconds=600,
        identity_by_kind={k: s.identity for k, s in REGISTRY.items()},
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        worker = Worker(store, FAST, clock=clock, client=client, sandbox_url=SANDBOX_URL)
        r = Rig(kind, REGISTRY[kind], sandbox, state, store, clock, worker, ingestor)
        await r.add_destination(**options)
        yield r


@pytest.mark.parametrize("kind", KINDS)
async def test_what_it_sends_is_accepted_by_its_own_sandbox(
    kind: str, sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with rig(kind, sqlite_store, clock) as r:
        sent = await r.ingest(30)
        await r.drain()
        assert sorted(r.received()) == sorted(sent)
        assert await r.status() == (0, 30, 0)


@pytest.mark.parametrize("action", ["ldu", "no_pii"])
@pytest.mark.parametrize("kind", KINDS)
async def test_what_it_sends_under_each_consent_action_is_accepted_by_its_sandbox(
    kind: str, action: str, sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    policy = policy_to_json([parse_rule(f"*:granted={action}")])
    async with rig(kind, sqlite_store, clock, consent_policy=policy) as r:
        sent = await r.ingest(5)
        await r.drain()
        assert sorted(r.received()) == sorted(sent)
        assert await r.status() == (0, 5, 0)


@pytest.mark.parametrize("kind", KINDS)
def test_no_pii_leaves_no_hashed_identity_and_never_changes_the_stored_event(kind: str) -> None:
    stored = {
        "event_name": "Purchase",
        "user_data": {"em": ["a" * 64], "ph": ["b" * 64], "client_user_agent": "UA"},
        "_identity": {"ph.e164": ["c" * 64], "em.gmail": ["d" * 64]},
        "_consent": {"state": "granted", "source": "api", "region": "US-CA"},
    }
    before = copy.deepcopy(stored)
    apply = REGISTRY[kind].apply_consent
    sent = apply(stored, "no_pii", "US-CA")
    assert "_identity" not in sent
    assert not {"em", "ph"} & set(sent["user_data"])
    assert apply(stored, "ldu", "US-CA") != stored  # the platform hears of the restriction
    assert stored == before


@pytest.mark.parametrize("kind", KINDS)
async def test_server_errors_and_throttling_are_retried(
    kind: str, sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with rig(kind, sqlite_store, clock) as r:
        r.fault("server_error", count=2)
        r.fault("throttle", count=1)
        sent = await r.ingest(12)
        await r.drain()
        assert [f.remaining() for f in r.state.faults.faults()] == [0, 0]  # both were met
        assert sorted(r.received()) == sorted(sent)
        assert await r.status() == (0, 12, 0)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_dead_credential_pauses_and_new_secrets_resume_with_nothing_lost(
    kind: str, sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with rig(kind, sqlite_store, clock) as r:
        r.fault("expired_credential")
        sent = await r.ingest(10)
        await r.worker.run_once()
        (d,) = await sqlite_store.list_destinations()
        assert d.state == "paused", d
        assert d.paused_reason and d.paused_fix and f"{kind}-conformance" in d.paused_fix
        clock.advance(3600)
        assert await r.worker.run_once() == 0  # paused: nothing is sent
        assert r.received() == []
        r.state.faults.clear()
        await sqlite_store.set_secrets(d.id, r.spec.example().to_secrets(), now=clock.now())
        await r.drain()
        assert sorted(r.received()) == sorted(sent)
        assert await r.status() == (0, 10, 0)


@pytest.mark.parametrize("kind", KINDS)
async def test_one_invalid_event_is_dead_lettered_alone_and_nothing_accepted_is_sent_again(
    kind: str, sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with rig(kind, sqlite_store, clock) as r:
        r.fault("invalid_event", event_ids=["c-7"])
        sent = await r.ingest(20)
        await r.drain()
        (dead,) = await sqlite_store.dead_letters()
        assert dead.event_id == "c-7" and dead.reason
        received = r.received()
        assert sorted(received) == sorted(i for i in sent if i != "c-7")
        # Each accepted event was recorded once: none was sent again after the platform
        # took it (a per-event platform's partial answer included), none deduplicated.
        assert len(r.state.events()) == len(received)
        assert await r.status() == (0, 19, 1)
