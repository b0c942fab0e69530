"""The /_sandbox control plane: events, summary, match quality, requests, reset."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.insights.quality import BIT, MATCH_KEYS, estimate, match_probability
from signalyard.sandbox.meta import SandboxState
from signalyard.sinks.meta.quality import MODEL

from .factory import DATASET, EVENTS_PATH, TOKEN, body, event, sha

pytestmark = pytest.mark.anyio


async def test_events_listing_and_filters(client: httpx.AsyncClient) -> None:
    await client.post(EVENTS_PATH, json=body(event("a"), event("b", name="Lead")))
    await client.post("/v26.0/42/events", json=body(event("c")))
    everything = (await client.get("/_sandbox/events")).json()
    assert [e["event_id"] for e in everything["events"]] == ["c", "b", "a"]
    first = everything["events"][-1]
    assert first["received_at"] == 1_800_000_000
    assert first["dedup"]["status"] == "kept"
    assert first["event"]["user_data"]["fbp"] == "fb.1.1596403881668.1116446470"
    assert first["diagnostics"] == []

    async def ids(**params: Any) -> list[str]:
        r = await client.get("/_sandbox/events", params=params)
        return [e["event_id"] for e in r.json()["events"]]

    assert await ids(dataset_id=DATASET) == ["b", "a"]
    assert await ids(event_name="Purchase") == ["c", "a"]
    assert await ids(limit=1) == ["c"]
    assert (await client.get("/_sandbox/events", params={"limit": "x"})).status_code == 400


async def test_diagnostics_are_listed(client: httpx.AsyncClient) -> None:
    ev = event("a")
    ev["user_data"]["em"] = "joe@example.com"
    await client.post(EVENTS_PATH, json=body(ev))
    listed = (await client.get("/_sandbox/events")).json()["events"][0]
    assert listed["diagnostics"][0]["code"] == "plaintext_in_hashed_field"
    summary = (await client.get("/_sandbox/summary")).json()
    assert summary["datasets"][DATASET]["events"]["Purchase"]["diagnostics"] == {
        "plaintext_in_hashed_field": 1
    }


async def test_summary_counts_and_batches(client: httpx.AsyncClient) -> None:
    await client.post(EVENTS_PATH, json=body(event("a"), event("b"), event("c", name="Lead")))
    await client.post(EVENTS_PATH, json=body(event("a")))
    await client.post(EVENTS_PATH, json={"data": [event("x")]})  # rejected: no token
    summary = (await client.get("/_sandbox/summary")).json()
    assert summary["totals"]["requests"] == 3
    assert summary["totals"]["events_received"] == 4
    ds = summary["datasets"][DATASET]
    assert ds["requests"] == {"total": 3, "accepted": 2, "rejected": 1, "errors": {"400/104": 1}}
    assert ds["batch_sizes"] == {"min": 1, "max": 3, "mean": 2.0, "histogram": {"1": 1, "2-10": 1}}
    purchase = ds["events"]["Purchase"]
    assert (purchase["received"], purchase["deduplicated"], purchase["requests"]) == (3, 1, 2)
    assert purchase["distinct_event_ids"] == 2
    assert ds["events"]["Lead"]["received"] == 1
    mq = purchase["match_quality"]
    assert mq["estimate"] is True
    assert set(mq["coverage"]) == set(MATCH_KEYS)


async def quality(client: httpx.AsyncClient, user_data: dict[str, Any], event_id: str) -> Any:
    await client.delete("/_sandbox/state")
    await client.post(EVENTS_PATH, json=body(event(event_id, name="Lead", user_data=user_data)))
    summary = (await client.get("/_sandbox/summary")).json()
    return summary["datasets"][DATASET]["events"]["Lead"]["match_quality"]


async def test_match_quality_moves_as_keys_are_added(client: httpx.AsyncClient) -> None:
    steps = [
        {"client_ip_address": "203.0.113.7", "client_user_agent": "UA"},
        {"fbp": "fb.1.1596403881668.1116446470"},
        {"external_id": "cust-42"},
        {"em": sha("joe@example.com")},
        {"ph": sha("16505551212")},
        {"fbc": "fb.1.1554763741205.AbCdEf"},
        {"fn": sha("joe"), "ln": sha("smith")},
    ]
    ud: dict[str, Any] = {}
    scores = []
    for i, step in enumerate(steps):
        ud.update(step)
        mq = await quality(client, ud, f"q{i}")
        scores.append(mq["score"])
        for key in step:
            assert mq["coverage"][key] == 1.0
    assert scores == sorted(scores)
    assert len(set(scores)) == len(scores)
    assert 0 < scores[0] < 4 < scores[-1] <= 10
    assert mq["drivers"][0]["key"] == "em"


async def test_plaintext_does_not_count_toward_match_quality(client: httpx.AsyncClient) -> None:
    hashed = await quality(client, {"em": sha("joe@example.com"), "external_id": "1"}, "h")
    plain = await quality(client, {"em": "joe@example.com", "external_id": "1"}, "p")
    assert plain["coverage"]["em"] == 0.0
    assert plain["score"] < hashed["score"]
    assert plain["suggestions"][0]["key"] == "em"


def test_quality_model_shape() -> None:
    assert match_probability(0, MODEL) == 0
    assert match_probability(BIT["em"], MODEL) == pytest.approx(0.55)
    half = estimate({BIT["em"]: 1, 0: 1}, MODEL)
    assert half["score"] == 2.8
    assert half["coverage"]["em"] == 0.5
    assert {"key": "em", "gain_if_always_sent": 2.75} in half["suggestions"]
    assert half["drivers"] == [{"key": "em", "contribution": 2.75}]
    assert estimate({}, MODEL)["score"] == 0.0


async def test_requests_log_never_holds_tokens(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await client.post(EVENTS_PATH, json=body(event("a"), test_event_code="T9"))
    await client.post(EVENTS_PATH, params={"access_token": TOKEN}, data={"data": "[]"})
    await client.post(EVENTS_PATH, json={"data": []}, headers={"Authorization": f"Bearer {TOKEN}"})
    r = await client.get("/_sandbox/requests")
    assert TOKEN not in r.text
    logged = r.json()["requests"]
    assert [x["status"] for x in logged] == [400, 400, 200]
    ok = logged[-1]
    assert ok["events"] == 1
    assert ok["test_event_code"] == "T9"
    assert len(ok["token_sha256_prefix"]) == 12
    assert ok["fbtrace_id"]
    assert TOKEN not in repr(state.requests())
    assert TOKEN not in (await client.get("/_sandbox/summary")).text
    assert TOKEN not in (await client.get("/_sandbox/events")).text


async def test_reset(client: httpx.AsyncClient, state: SandboxState) -> None:
    await client.post(EVENTS_PATH, json=body(event("a")))
    await client.post("/_sandbox/faults", json={"kind": "throttle", "dataset_id": "7"})
    assert (await client.delete("/_sandbox/state")).json() == {"reset": True}
    assert state.events() == [] and state.requests() == []
    assert state.summary()["datasets"] == {}
    # Dedup memory is gone too; faults are kept.
    await client.post(EVENTS_PATH, json=body(event("a")))
    assert state.events()[0].dedup == "kept"
    assert len(state.faults) == 1


async def test_index(client: httpx.AsyncClient) -> None:
    r = await client.get("/_sandbox")
    assert "GET /_sandbox/summary" in r.json()["endpoints"]


async def test_recordings_are_bounded(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock, max_events=5, max_requests=2)
    from signalyard.sandbox.meta import create_app

    app = create_app(clock=clock, state=state)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as c:
        for i in range(4):
            await c.post(EVENTS_PATH, json=body(event(f"a{i}"), event(f"b{i}")))
    assert [e.event_id for e in state.events(limit=None)] == ["b3", "a3", "b2", "a2", "b1"]
    assert len(state.requests(limit=None)) == 2
    # Statistics are running counters: they survive eviction.
    assert state.summary()["datasets"][DATASET]["events"]["Purchase"]["received"] == 8
