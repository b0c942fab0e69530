"""Nothing of a delivered batch stays alive: its request, body and answer are freed as soon as
the worker has settled it (issue 13: every sent body stayed reachable through httpx's
response <-> stream cycle, and a serving process collects cycles rarely).

The worker talks to the real Meta sandbox over loopback with a real connection pool; the
cyclic garbage collector is off while it delivers, so what is still alive afterwards is
exactly what reference counting did not free.
"""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from signalyard import outbound
from signalyard.clock import SystemClock
from signalyard.delivery.worker import Worker
from signalyard.event import AcceptedEvent
from signalyard.sandbox.meta import SandboxState, create_app
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings
from signalyard.store.base import Store

pytestmark = pytest.mark.anyio

DATASET = "1234567890"
TOKEN = "EAAB" + "m" * 60


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _event(event_id: str, now: float) -> AcceptedEvent:
    payload: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(now),
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": "https://shop.example/checkout/thanks",
        "user_data": {
            "em": ["62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) " + "x" * 200,
        },
        "custom_data": {"currency": "USD", "value": 12.5},
    }
    return AcceptedEvent(DATASET, "Purchase", event_id, int(now), payload)


async def test_delivered_batches_leave_nothing_alive(
    backend_store: Store, serve: Callable[[Any], str], no_cyclic_gc: None
) -> None:
    sandbox = SandboxState()
    url = serve(create_app(state=sandbox))
    clock = SystemClock()
    now = clock.now()
    await backend_store.add_dataset(DATASET, name="px", default_country=None, now=now)
    await backend_store.add_destination(
        DATASET,
        name="meta",
        kind="meta",
        options={"pixel_id": DATASET, "graph_url": url},
        secrets={"access_token": Secret(TOKEN)},
        now=now,
    )
    requests: list[weakref.ref[httpx.Request]] = []
    responses: list[weakref.ref[httpx.Response]] = []

    async def on_request(request: httpx.Request) -> None:
        requests.append(weakref.ref(request))

    async def on_response(response: httpx.Response) -> None:
        responses.append(weakref.ref(response))

    hooks: dict[str, list[Callable[..., Any]]] = {
        "request": [on_request],
        "response": [on_response],
    }
    async with httpx.AsyncClient(event_hooks=hooks) as client:
        worker = Worker(
            backend_store,
            DeliverySettings(concurrency=4, backoff_base_seconds=0.0, backoff_max_seconds=0.0),
            clock=clock,
            client=client,
            sandbox_url="unused",
        )
        # Every path a request can take: delivered, a 503 retried, a batch refused for one
        # bad event (bisected, that event dead-lettered alone).
        sandbox.faults.add({"kind": "server_error", "status": 503, "count": 2}, now)
        sandbox.faults.add({"kind": "invalid_event", "event_ids": ["r3-e7"]}, now)
        for round_ in range(12):
            await backend_store.ingest(
                [_event(f"r{round_}-e{i}", now) for i in range(200)], now=clock.now()
            )
            deadline = time.monotonic() + 30
            while await backend_store.status(now=clock.now()) and time.monotonic() < deadline:
                (status,) = await backend_store.status(now=clock.now())
                if status.queued == 0:
                    break
                await worker.run_once()
        (status,) = await backend_store.status(now=clock.now())
        assert (status.queued, status.delivered, status.dead) == (0, 12 * 200 - 1, 1)
        assert len(requests) >= 12 + 2 + 8  # one a round, the 503s, the bisection
        del worker

    alive_requests = [r for r in requests if r() is not None]
    alive_responses = [r for r in responses if r() is not None]
    assert (len(alive_requests), len(alive_responses)) == (0, 0), (
        f"{len(alive_requests)} of {len(requests)} requests and {len(alive_responses)} of"
        f" {len(responses)} answers still alive after delivery"
    )


async def test_request_reads_the_answer_and_releases_it(
    serve: Callable[[Any], str], no_cyclic_gc: None
) -> None:
    url = serve(create_app(state=SandboxState()))
    seen: list[weakref.ref[httpx.Response]] = []

    async def on_response(response: httpx.Response) -> None:
        seen.append(weakref.ref(response))

    async with httpx.AsyncClient(event_hooks={"response": [on_response]}) as client:
        reply = await outbound.request(
            client, "POST", f"{url}/v21.0/{DATASET}/events", json={"data": []}, timeout=5
        )
    assert reply.status in (400, 401)  # no access token: Graph's error body
    assert b'"OAuthException"' in reply.body
    assert reply.headers["content-type"].startswith("application/json")
    assert not reply.is_success
    assert [r for r in seen if r() is not None] == []
