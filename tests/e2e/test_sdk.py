"""The official facebook-business SDK, unmodified, sends 500 events through Signalyard."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.gender import Gender
from facebook_business.adobjects.serverside.user_data import UserData
from facebook_business.api import FacebookAdsApi
from facebook_business.session import FacebookSession

from tests.e2e.server import DATASET, Server, running_server

pytestmark = pytest.mark.slow


def sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path) as s:
        yield s


@pytest.fixture
def sdk_pointed_at(server: Server) -> Iterator[None]:
    original = FacebookSession.GRAPH
    FacebookSession.GRAPH = server.url  # a proxy in front of Graph, as a user would set it
    FacebookAdsApi.init(access_token=server.key, crash_log=False)
    try:
        yield
    finally:
        FacebookSession.GRAPH = original


def sdk_event(i: int, now: int) -> Event:
    user = UserData(
        emails=[f"Customer.{i}@Example.com"],
        phones=[f"+1 650 555 {1000 + i:04d}"],
        first_name="Jane",
        last_name=f"Doe{i}",
        city="Menlo Park",
        state="CA",
        zip_code="94025",
        country_code="us",
        date_of_birth="19900216",
        gender=Gender.FEMALE,
        external_id=f"customer-{i}",
        client_ip_address=f"203.0.113.{i % 250}",
        client_user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
        fbc=f"fb.1.1700000000000.IwAR{i}xYz",
        fbp=f"fb.1.1700000000000.{1000000 + i}",
    )
    return Event(
        event_name="Purchase",
        event_time=now - 60,
        event_id=f"order-{i}",
        event_source_url="https://shop.example.com/thank-you",
        action_source=ActionSource.WEBSITE,
        user_data=user,
        custom_data=CustomData(currency="usd", value=10.0 + i),
    )


def send_all(now: int) -> list[int]:
    received = []
    for start in range(0, 500, 100):
        events = [sdk_event(i, now) for i in range(start, start + 100)]
        response = EventRequest(events=events, pixel_id=DATASET).execute()
        received.append(response.events_received)
    return received


def test_sdk_500_events_reach_the_sandbox_once_hashed_and_batched(
    server: Server, sdk_pointed_at: None
) -> None:
    now = int(time.time())
    assert send_all(now) == [100] * 5
    server.wait(
        lambda: server.sandbox("summary")["totals"]["events_received"] >= 500,
        what="500 events at the sandbox",
    )
    got = server.sandbox("events", dataset_id=DATASET, limit=2000)["events"]
    ids = [e["event_id"] for e in got]
    assert sorted(ids) == sorted(f"order-{i}" for i in range(500))  # each exactly once
    requests = server.sandbox("requests", dataset_id=DATASET, limit=1000)["requests"]
    accepted = [r for r in requests if r["status"] == 200]
    assert sum(r["events"] for r in accepted) == 500
    assert len(accepted) < 50  # batched, not one request per event

    by_id = {e["event_id"]: e["event"] for e in got}
    for i in (0, 123, 499):
        ev = by_id[f"order-{i}"]
        u = ev["user_data"]
        assert u["em"] == [sha(f"customer.{i}@example.com")]
        assert u["ph"] == [sha(f"1650555{1000 + i:04d}")]
        assert u["fn"] == [sha("jane")] and u["ln"] == [sha(f"doe{i}")]
        assert u["ct"] == [sha("menlopark")] and u["st"] == [sha("ca")]
        assert u["zp"] == [sha("94025")] and u["country"] == [sha("us")]
        assert u["db"] == [sha("19900216")] and u["ge"] == [sha("f")]
        assert u["external_id"] == [sha(f"customer-{i}")]
        # plaintext where Meta wants plaintext
        assert u["client_ip_address"] == f"203.0.113.{i % 250}"
        assert u["client_user_agent"].startswith("Mozilla/5.0")
        assert u["fbc"] == f"fb.1.1700000000000.IwAR{i}xYz"
        assert u["fbp"] == f"fb.1.1700000000000.{1000000 + i}"
        assert ev["event_time"] == now - 60
        assert ev["custom_data"]["value"] == 10.0 + i
        assert ev["custom_data"]["currency"].lower() == "usd"
    summary = server.sandbox("summary")
    purchase = summary["datasets"][DATASET]["events"]["Purchase"]
    assert purchase["deduplicated"] == 0

    # the same events again: answered as received, nothing new stored or delivered
    assert send_all(now) == [100] * 5
    time.sleep(1.5)
    assert server.sandbox("summary")["totals"]["events_received"] == 500
    st = server.status()
    assert st["delivered"] == 500 and st["queued"] == 0
