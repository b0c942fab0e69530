"""Whatever is posted, the sandbox answers with Snap's body (never a 5xx of its own), and its
answer and its recordings agree: every event of a VALID answer is recorded, nothing of an
INVALID one, which names an event that is really invalid."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalyard.clock import FrozenClock
from signalyard.sandbox.snapchat import SandboxState, create_app
from signalyard.sandbox.snapchat.validate import check_event

from .factory import EVENTS, NOW, TOKEN, body, event, sha

_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.just(sha("x")), st.just(int(NOW)),
)  # fmt: skip
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_FIELDS = [
    ("event_name",), ("event_time",), ("event_id",), ("action_source",), ("user_data",),
    ("user_data", "em"), ("user_data", "ph"), ("user_data", "client_ip_address"),
    ("user_data", "sc_click_id"), ("custom_data",), ("custom_data", "contents"),
    ("custom_data", "value"), ("app_data",), ("data_processing_options",), ("opt_out",),
]  # fmt: skip


def _mutated(changes: list[tuple[int, Any]]) -> dict[str, Any]:
    ev = event("fz")
    for field, value in changes:
        path = _FIELDS[field % len(_FIELDS)]
        target: Any = ev
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[path[-1]] = value
    return ev


async def _post(payload: Any) -> tuple[httpx.Response, SandboxState]:
    clock = FrozenClock(NOW)
    state = SandboxState(clock=clock)
    app = create_app(clock=clock, state=state)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://s"
    ) as client:
        r = await client.post(EVENTS, json=payload, params={"access_token": TOKEN})
    return r, state


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.tuples(st.integers(0, 50), _json), max_size=3), min_size=1,
                max_size=3))  # fmt: skip
def test_answers_and_recordings_agree(mutations: list[list[tuple[int, Any]]]) -> None:
    evs = [_mutated(m) for m in mutations]
    r, state = asyncio.run(_post(body(*evs)))
    assert r.status_code in (200, 400), r.text
    out = r.json()
    if r.status_code == 200:
        assert out["status"] == "VALID" and len(state.events()) == len(evs)
    else:
        assert out["status"] == "INVALID" and state.events() == []
        index = out["event"]
        assert not check_event(index, evs[index], NOW).accepted
        assert all(check_event(i, evs[i], NOW).accepted for i in range(index))


@settings(max_examples=60, deadline=None)
@given(_json)
def test_any_body_gets_snap_s_answer(payload: Any) -> None:
    r, _ = asyncio.run(_post(payload))
    assert r.status_code in (200, 400)
    assert r.json()["status"] in ("VALID", "INVALID")
