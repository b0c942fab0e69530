"""Whatever is posted, the sandbox answers with Reddit's bodies (never a 5xx of its own), and
its answer and its recordings agree: every event of a 200 answer is recorded, nothing of a
refused request is, and a 400 lists exactly the invalid events."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalyard.clock import FrozenClock
from signalyard.sandbox.reddit import SandboxState, create_app

from .factory import EVENTS, HEADERS, NOW, body, event, sha

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.just(sha("x")),
    st.just("2027-01-15T07:59:00Z"),
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_FIELDS = [
    ("event_at",),
    ("event_type",),
    ("event_type", "tracking_type"),
    ("event_type", "custom_event_name"),
    ("click_id",),
    ("event_metadata",),
    ("event_metadata", "conversion_id"),
    ("event_metadata", "value_decimal"),
    ("event_metadata", "item_count"),
    ("event_metadata", "products"),
    ("user",),
    ("user", "email"),
    ("user", "ip_address"),
    ("user", "data_processing_options"),
    ("user", "screen_dimensions"),
]


@st.composite
def _event(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(_json)
    ev: dict[str, Any] = event(draw(st.text(min_size=1, max_size=4)))
    for path in draw(st.lists(st.sampled_from(_FIELDS), max_size=2)):
        node = ev
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[path[-1]] = draw(_json)
    return ev


async def _send(payload: Any) -> tuple[httpx.Response, SandboxState]:
    clock = FrozenClock(NOW)
    state = SandboxState(clock=clock)
    app = create_app(clock=clock, state=state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        return await c.post(EVENTS, json=payload, headers=HEADERS), state


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_event(), min_size=1, max_size=4))
def test_answers_and_recordings_agree(events: list[Any]) -> None:
    reply, state = asyncio.run(_send(body(*events)))
    assert reply.status_code in (200, 400, 403), reply.text
    answer = reply.json()
    if reply.status_code == 200:
        assert len(state.events()) == len(events)
        assert answer == {"message": f"Successfully processed {len(events)} conversion events."}
        return
    assert state.events() == []
    if "invalid_events" in answer:
        assert 1 <= len(answer["invalid_events"]) <= len(events)
        assert answer["message"].startswith(f"There were {len(answer['invalid_events'])} invalid")
    else:
        assert "error" in answer


@settings(max_examples=60, deadline=None)
@given(_json)
def test_any_json_body_gets_reddits_answer(payload: Any) -> None:
    reply, state = asyncio.run(_send(payload))
    assert reply.status_code in (400, 403)
    assert state.events() == []
