"""``serve --workers N``: several processes on one port and one store, each event once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.cluster import Proc
from tests.e2e.server import DATASET, free_port, running_server

pytestmark = pytest.mark.slow


def test_serve_with_two_processes_delivers_each_event_once(tmp_path: Path) -> None:
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox = Proc(
        "sandbox",
        ["sandbox", "meta", "--port", str(sandbox_port)],
        {},
        tmp_path / "sandbox.log",
        f"{sandbox_url}/sandbox/meta/_sandbox/summary",
    )
    try:
        with running_server(
            tmp_path, serve_args=("--workers", "2"), env={"SIGNALYARD_SANDBOX_URL": sandbox_url}
        ) as server:
            now = int(time.time())
            with httpx.Client(timeout=30) as client:
                for batch in range(20):
                    events = [
                        {
                            "event_name": "Lead",
                            "event_time": now,
                            "event_id": f"w-{batch}-{i}",
                            "action_source": "email",
                            "user_data": {"em": f"w{batch}.{i}@example.com"},
                        }
                        for i in range(50)
                    ]
                    r = client.post(
                        f"{server.url}/v26.0/{DATASET}/events",
                        params={"access_token": server.key},
                        json={"data": events},
                    )
                    assert r.status_code == 200, r.text
            server.wait(lambda: server.status()["queued"] == 0, what="delivery")
            st = server.status()
            assert st["delivered"] == 1000 and st["dead_letters"] == 0
            got = httpx.get(
                f"{sandbox_url}/sandbox/meta/_sandbox/events", params={"limit": 5000}, timeout=10
            ).json()["events"]
            ids = [e["event_id"] for e in got]
            assert len(ids) == 1000 and len(set(ids)) == 1000
    finally:
        sandbox.stop()
