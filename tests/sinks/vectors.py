"""The steps every platform's identity-vector test shares: its destination on the gateway's
dataset, one event posted to the gateway's API, then one worker pass delivering it to the
platform's sandbox in process."""

from __future__ import annotations

from typing import Any

from signalyard.clock import Clock
from signalyard.delivery.worker import Worker
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings
from signalyard.store.base import Store
from tests.sinks import wire
from tests.sources.conftest import DATASET, Gateway


async def add_destination(
    gateway: Gateway, kind: str, options: dict[str, Any], secrets: dict[str, str]
) -> None:
    """A destination of ``kind`` (named ``kind``) on the gateway's dataset."""
    await gateway.store.add_destination(
        DATASET,
        name=kind,
        kind=kind,
        options=options,
        secrets={name: Secret(value) for name, value in secrets.items()},
        now=gateway.clock.now(),
    )


async def post_one(gateway: Gateway, event: dict[str, Any]) -> None:
    """Post ``event`` to the gateway's API; it is received."""
    response = await gateway.post_json([event])
    assert response.status_code == 200, response.text
    assert response.json()["events_received"] == 1


async def deliver_one(store: Store, clock: Clock, app: Any, sandbox_url: str = "unused") -> None:
    """One worker pass with a client to ``app`` (the sandbox); it delivers one event."""
    async with wire.in_process(app) as client:
        worker = Worker(
            store, DeliverySettings(), clock=clock, client=client, sandbox_url=sandbox_url
        )
        assert await worker.run_once() == 1
