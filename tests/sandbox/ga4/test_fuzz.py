"""Whatever it is sent, the sandbox answers as GA4 does (204 from /mp/collect, 200 with
validationMessages from the validation server) and never fails with its own 500."""

from __future__ import annotations

import random
from typing import Any

import httpx
import orjson
import pytest

from signalyard.sandbox.ga4 import SandboxState

from .factory import body, event, query

pytestmark = pytest.mark.anyio

_VALUES: list[Any] = [
    None, True, 0, -1, 1e308, "", "x" * 2000, "\ud800", [], {}, [None], {"a": [{}]},
    "G-TEST12345", "1.2", "session_start", "_x", "ga_", "💥",
]  # fmt: skip


def mutate(rng: random.Random, value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict) and value and depth < 4:
        out = dict(value)
        key = rng.choice(list(out))
        choice = rng.random()
        if choice < 0.3:
            del out[key]
        elif choice < 0.6:
            out[key] = rng.choice(_VALUES)
        else:
            out[key] = mutate(rng, out[key], depth + 1)
        if rng.random() < 0.2:
            out[rng.choice(["x", "events", "name", "params", "items"])] = rng.choice(_VALUES)
        return out
    if isinstance(value, list) and value and depth < 4:
        out_list = list(value)
        i = rng.randrange(len(out_list))
        out_list[i] = mutate(rng, out_list[i], depth + 1)
        return out_list
    return rng.choice(_VALUES)


async def test_fuzzed_requests(client: httpx.AsyncClient, state: SandboxState) -> None:
    rng = random.Random(20261205)
    base = body(event(items=[{"item_id": "a", "price": 1}]), event("add_to_cart", "e2"))
    for _ in range(300):
        payload = mutate(rng, base)
        try:
            content = orjson.dumps(payload)
        except orjson.JSONEncodeError:
            content = b'{"events": "\\ud800"}'
        params = query() if rng.random() < 0.8 else {"measurement_id": str(rng.random())}
        collected = await client.post("/mp/collect", params=params, content=content)
        assert collected.status_code == 204 and collected.content == b""
        checked = await client.post("/debug/mp/collect", params=params, content=content)
        assert checked.status_code == 200
        messages = checked.json()["validationMessages"]
        assert all(set(m) == {"fieldPath", "description", "validationCode"} for m in messages)
    assert all(r.status in (200, 204) for r in state.requests())
    summary = state.summary()
    assert summary["totals"]["received"] >= summary["totals"]["accepted"] > 0
