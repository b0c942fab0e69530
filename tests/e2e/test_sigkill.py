"""SIGKILL while clients are sending: every event answered 2xx is in the store afterwards."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest

from signalyard.store.sqlite import SQLiteStore
from tests.e2e.server import DATASET, running_server

pytestmark = pytest.mark.slow


def client_loop(url: str, key: str, worker: int, acked: list[str], stop: threading.Event) -> None:
    with httpx.Client(timeout=5) as client:
        i = 0
        while not stop.is_set():
            event_id = f"k{worker}-{i}"
            i += 1
            body = {
                "data": [
                    {
                        "event_name": "Lead",
                        "event_time": int(time.time()),
                        "event_id": event_id,
                        "action_source": "website",
                        "event_source_url": "https://example.com/form",
                        "user_data": {"em": f"{event_id}@example.com", "client_user_agent": "UA"},
                    }
                ]
            }
            try:
                r = client.post(
                    f"{url}/v26.0/{DATASET}/events", params={"access_token": key}, json=body
                )
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                acked.append(event_id)


def test_sigkill_loses_no_acknowledged_event(tmp_path: Path) -> None:
    # a short lease, so the rows the killed worker had claimed become due again quickly
    with running_server(tmp_path, env={"SIGNALYARD_DELIVERY_LEASE_SECONDS": "3"}) as server:
        acked: list[str] = []
        stop = threading.Event()
        threads = [
            threading.Thread(target=client_loop, args=(server.url, server.key, w, acked, stop))
            for w in range(8)
        ]
        for t in threads:
            t.start()
        try:
            server.wait(lambda: len(acked) > 300, timeout=30, what="traffic")
            server.kill()  # SIGKILL, mid-traffic
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        assert server.proc is not None and server.proc.returncode == -9
        acknowledged = set(acked)

        async def stored_ids() -> set[str]:
            store = SQLiteStore(server.database_url)
            await store.open()
            try:
                return set(
                    store.run_sync(
                        lambda c: [r[0] for r in c.execute("SELECT event_id FROM events")]
                    )
                )
            finally:
                await store.close()

        stored = asyncio.run(stored_ids())
        assert acknowledged <= stored, f"lost {len(acknowledged - stored)} acknowledged events"

        # and after a restart every stored event is delivered
        server.start()
        server.wait(lambda: server.status()["queued"] == 0, what="delivery after restart")
        st = server.status()
        assert st["delivered"] == len(stored) and st["dead_letters"] == 0
