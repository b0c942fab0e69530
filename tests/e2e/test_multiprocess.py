"""Many Signalyard processes sharing one PostgreSQL: nothing lost, nothing sent twice."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.cluster import Cluster
from tests.e2e.server import DATASET

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def event(i: int, now: int) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": now - 20,
        "event_id": f"m-{i}",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/thanks",
        "user_data": {
            "em": f"buyer{i}@example.com",
            "ph": f"+1650555{i % 10000:04d}",
            "client_ip_address": "198.51.100.7",
            "client_user_agent": "Mozilla/5.0",
        },
        "custom_data": {"value": 5 + i % 100, "currency": "USD"},
    }


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str) -> Iterator[Cluster]:
    c = Cluster(tmp_path, pg_url, env={"SIGNALYARD_DELIVERY_LEASE_SECONDS": "3"})
    try:
        yield c
    finally:
        c.close()


def post(url: str, key: str, events: list[dict[str, Any]]) -> int:
    with httpx.Client(timeout=60) as client:
        r = client.post(
            f"{url}/v26.0/{DATASET}/events", params={"access_token": key}, json={"data": events}
        )
        return r.status_code


def kept_ids(cluster: Cluster) -> list[str]:
    got = cluster.sandbox("events", dataset_id=DATASET, limit=100_000)["events"]
    return [e["event_id"] for e in got if e["dedup"]["status"] == "kept"]


def test_three_ingest_two_workers_20000_events_each_delivered_once(cluster: Cluster) -> None:
    cluster.start_sandbox()
    cluster.start_ingest(3)
    cluster.start_workers(2)
    now = int(time.time())
    rng = random.Random(7)
    distinct = 18_000
    # (process index, batch): every distinct event once, then 2,000 repeats (10%) each sent
    # to a different process than its original, half of them concurrently with it
    requests: list[tuple[int, list[dict[str, Any]]]] = []
    home: dict[int, int] = {}
    for start in range(0, distinct, 100):
        p = (start // 100) % 3
        requests.append((p, [event(i, now) for i in range(start, start + 100)]))
        for i in range(start, start + 100):
            home[i] = p
    dupes = rng.sample(range(distinct), 2_000)
    for start in range(0, len(dupes), 100):
        chunk = dupes[start : start + 100]
        p = (home[chunk[0]] + 1) % 3
        requests.append((p, [event(i, now) for i in chunk]))
    # interleave so repeats race their originals
    rng.shuffle(requests)
    with ThreadPoolExecutor(12) as pool:
        codes = list(
            pool.map(lambda r: post(cluster.ingest_urls[r[0]], cluster.key, r[1]), requests)
        )
    assert codes == [200] * len(requests)
    assert sum(len(r[1]) for r in requests) == 20_000

    cluster.wait(lambda: cluster.status()["queued"] == 0, 180, "delivery of every event")
    st = cluster.status()
    assert st["delivered"] == distinct and st["dead_letters"] == 0
    got = cluster.sandbox("events", dataset_id=DATASET, limit=100_000)["events"]
    ids = [e["event_id"] for e in got]
    assert len(ids) == distinct and len(set(ids)) == distinct  # each exactly once


def test_worker_killed_mid_delivery_loses_nothing(cluster: Cluster) -> None:
    cluster.start_sandbox()
    # slow answers, so the kill lands while batches are in flight
    httpx.post(
        f"{cluster.sandbox_url}/sandbox/meta/_sandbox/faults",
        json={"kind": "timeout", "delay": 0.8, "count": 6},
        timeout=5,
    ).raise_for_status()
    cluster.start_ingest(1)
    now = int(time.time())
    total = 6_000
    for start in range(0, total, 1000):
        assert (
            post(
                cluster.ingest_urls[0],
                cluster.key,
                [event(i, now) for i in range(start, start + 1000)],
            )
            == 200
        )
    cluster.start_workers(2)
    cluster.wait(
        lambda: len(cluster.sandbox("requests", limit=50)["requests"]) >= 1,
        60,
        "the first deliveries",
    )
    cluster.workers[0].kill()
    assert cluster.workers[0].proc.returncode == -9
    cluster.wait(lambda: cluster.status()["queued"] == 0, 180, "the survivor to deliver all")
    ids = kept_ids(cluster)
    assert sorted(ids) == sorted(f"m-{i}" for i in range(total))  # every event, once kept
    got = cluster.sandbox("events", dataset_id=DATASET, limit=100_000)["events"]
    # anything received twice carried the same event_id, so the platform dropped it
    assert {e["event_id"] for e in got} == set(ids)
    assert cluster.status()["delivered"] == total
