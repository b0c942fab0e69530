"""Delivery through a misbehaving platform: nothing accepted is lost, nothing sent twice
except a repeat after a timeout (same event_id, so the platform drops it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import DATASET, SANDBOX_TOKEN, Server, running_server

pytestmark = pytest.mark.slow


def events(prefix: str, n: int, now: int) -> list[dict[str, Any]]:
    return [
        {
            "event_name": "Purchase",
            "event_time": now - 30 - i % 50,
            "event_id": f"{prefix}-{i}",
            "action_source": "website",
            "event_source_url": "https://shop.example.com/thanks",
            "user_data": {
                "em": f"buyer{i}@example.com",
                "client_ip_address": "198.51.100.4",
                "client_user_agent": "Mozilla/5.0",
            },
            "custom_data": {"value": i + 1, "currency": "EUR"},
        }
        for i in range(n)
    ]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, destination_options={"timeout_seconds": 1.0}) as s:
        yield s


def at_sandbox(server: Server, prefix: str) -> list[dict[str, Any]]:
    got = server.sandbox("events", dataset_id=DATASET, limit=5000)["events"]
    return [e for e in got if e["event_id"].startswith(prefix + "-")]


def test_transient_faults_throttling_and_timeouts_lose_nothing(server: Server) -> None:
    now = int(time.time())
    server.fault({"kind": "server_error", "status": 503, "count": 3})
    server.fault({"kind": "throttle", "code": 17, "regain_minutes": 0, "count": 2})
    server.fault({"kind": "timeout", "delay": 2.5, "count": 1})
    sent = events("t", 300, now)
    for chunk in (sent[:100], sent[100:200], sent[200:]):
        assert server.post_events(chunk).status_code == 200
    server.wait(lambda: server.status()["queued"] == 0, what="the queue to drain")
    st = server.status()
    assert st["delivered"] == 300 and st["dead_letters"] == 0
    got = at_sandbox(server, "t")
    kept = [e for e in got if e["dedup"]["status"] == "kept"]
    assert sorted(e["event_id"] for e in kept) == sorted(e["event_id"] for e in sent)
    # every event arrived with its original time and id
    original = {e["event_id"]: e["event_time"] for e in sent}
    assert all(e["event"]["event_time"] == original[e["event_id"]] for e in got)
    # repeats only after the timeout, with the same event_id: the platform dropped them
    repeats = [e for e in got if e["dedup"]["status"] == "deduplicated"]
    assert len(repeats) <= 300
    assert all(e["event_id"] in original for e in repeats)
    requests = server.sandbox("requests", dataset_id=DATASET, limit=1000)["requests"]
    statuses = [r["status"] for r in requests]
    assert statuses.count(503) == 3 and statuses.count(400) == 2


def test_expired_token_pauses_and_a_new_token_delivers_the_backlog(server: Server) -> None:
    now = int(time.time())
    server.fault({"kind": "expired_token", "token": SANDBOX_TOKEN})
    assert server.post_events(events("x", 50, now)).status_code == 200
    server.wait(lambda: server.status()["state"] == "paused", what="the destination to pause")
    st = server.status()
    assert "expired" in st["paused_reason"]
    # the fix is a command to run as written: it names the destination
    assert "`signalyard destinations set-token meta-sandbox`" in st["fix"], st["fix"]
    time.sleep(1)
    st = server.status()
    assert st["queued"] == 50 and st["dead_letters"] == 0 and st["delivered"] == 0
    status_text = server.cli("status").stdout
    assert "PAUSED" in status_text and SANDBOX_TOKEN not in status_text

    r = server.cli("destinations", "set-token", "meta-sandbox", stdin="EAAB-a-brand-new-token\n")
    assert r.returncode == 0, r.stderr
    assert "EAAB-a-brand-new-token" not in r.stdout + r.stderr
    server.wait(lambda: server.status()["queued"] == 0, what="the backlog to deliver")
    assert server.status()["state"] == "active"
    assert len({e["event_id"] for e in at_sandbox(server, "x")}) == 50


def test_one_bad_event_in_a_batch_is_dead_lettered_the_rest_delivered(server: Server) -> None:
    now = int(time.time())
    server.fault({"kind": "invalid_event", "event_ids": ["b-417"]})
    assert server.post_events(events("b", 1000, now)).status_code == 200
    server.wait(lambda: server.status()["queued"] == 0, what="the batch to settle")
    st = server.status()
    assert st["delivered"] == 999 and st["dead_letters"] == 1
    got = {e["event_id"] for e in at_sandbox(server, "b")}
    assert len(got) == 999 and "b-417" not in got
    listing = server.cli("replay", "--list").stdout
    assert "b-417" in listing and "2804019" in listing

    # once the cause is fixed, the dead letter can be replayed and is delivered
    server.clear_faults()
    r = server.cli("replay")
    assert r.returncode == 0 and "Queued 1" in r.stdout
    server.wait(lambda: server.status()["delivered"] == 1000, what="the replay")
    assert "b-417" in {e["event_id"] for e in at_sandbox(server, "b")}
