"""Whatever is posted, the sandbox answers with TikTok's body (never a 5xx of its own), and
its answer and its recordings agree: every event of a 0 or 20001 answer is recorded, with
exactly the failed ones of the answer marked invalid; nothing of a refused request is."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalyard.clock import FrozenClock
from signalyard.sandbox.tiktok import SandboxState, create_app

from .factory import HEADERS, NOW, TRACK, body, event, sha

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.just(sha("x")),
    st.just(int(NOW)),
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_FIELDS = [
    ("event",),
    ("event_time",),
    ("event_id",),
    ("test_event_code",),
    ("limited_data_use",),
    ("user",),
    ("user", "email"),
    ("user", "phone"),
    ("user", "ip"),
    ("user", "ttclid"),
    ("properties",),
    ("properties", "contents"),
    ("properties", "value"),
    ("page",),
    ("page", "url"),
]


@st.composite
def _event(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(_json)
    ev: dict[str, Any] = event(draw(st.text(min_size=1, max_size=4)))
    for path in draw(st.lists(st.sampled_from(_FIELDS), max_size=2)):
        node = ev
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node.get(key, {}), dict) else {}
        node[path[-1]] = draw(_json)
    return ev


_request = st.one_of(
    st.builds(lambda events: body(*events), st.lists(_event(), min_size=0, max_size=6)),
    _json,
)


async def _post(state: SandboxState, payload: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        return await client.post(TRACK, json=payload, headers=HEADERS)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_request)
def test_answers_and_recordings_agree(payload: Any) -> None:
    state = SandboxState(clock=FrozenClock(NOW))
    r = asyncio.run(_post(state, payload))
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"code", "message", "request_id", "data"}
    assert out["code"] in (0, 20001, 40002), out
    recorded = state.events(limit=None)[::-1]
    if out["code"] == 40002:
        assert recorded == []
        return
    assert len(recorded) == len(payload["data"])
    failed = {f["index"] for f in out["data"].get("failed_events", [])}
    assert {i for i, e in enumerate(recorded) if not e.accepted} == failed
    assert (out["code"] == 20001) == bool(failed)
    assert 0 < len(failed) < len(recorded) or not failed
