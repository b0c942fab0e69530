"""Whatever is posted, the sandbox answers with Pinterest's bodies (never a 500 of its own),
and its answer and its recordings agree: exactly the processed events of a 200 answer are
recorded; nothing of a refused request is."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalyard.clock import FrozenClock
from signalyard.sandbox.pinterest import SandboxState, create_app

from .factory import EVENTS, HEADERS, NOW, event, sha

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.just(sha("x")),
    st.just(int(NOW)),
    st.just("checkout"),
    st.just("web"),
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    ["event_name", "action_source", "event_time", "event_id", "user_data", "custom_data",
     "opt_out", "event_source_url"]
)  # fmt: skip
_mutated = st.builds(
    lambda changes: {**event(), **changes}, st.dictionaries(_keys, _json, max_size=3)
)
_bodies = st.one_of(
    _json,
    st.builds(lambda evs: {"data": evs}, st.lists(st.one_of(_mutated, _json), max_size=5)),
)


def _post(payload: Any) -> tuple[httpx.Response, SandboxState]:
    clock = FrozenClock(NOW)
    state = SandboxState(clock=clock)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(clock=clock, state=state))
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
            return await client.post(EVENTS, json=payload, headers=HEADERS)

    return asyncio.run(go()), state


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_bodies)
def test_any_body_gets_a_pinterest_answer_that_matches_the_recordings(payload: Any) -> None:
    response, state = _post(payload)
    assert response.status_code in (200, 400), response.text
    answer = response.json()
    if response.status_code == 400:
        assert set(answer) == {"code", "message"} and state.events() == []
        return
    statuses = [e["status"] for e in answer["events"]]
    assert answer["num_events_received"] == len(payload["data"]) == len(statuses)
    assert answer["num_events_processed"] == statuses.count("processed")
    assert len(state.events()) == statuses.count("processed")
    for e in answer["events"]:
        assert (e["status"] == "failed") == bool(e["error_message"])
