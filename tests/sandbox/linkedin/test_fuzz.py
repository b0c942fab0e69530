"""Random, broken and hostile bodies: the sandbox always answers with LinkedIn's JSON error
or batch answer, never a 500 of its own, and records nothing it refused."""

from __future__ import annotations

import random
from typing import Any

import httpx
import orjson
import pytest

from signalyard.sandbox.linkedin import SandboxState

from .factory import BATCH, EVENTS, element

pytestmark = pytest.mark.anyio

_VALUES: list[Any] = [None, True, 0, -1, 1.5, "", "x" * 3000, [], {}, [1, "a"], {"a": {"b": []}}]
_KEYS = ["conversion", "conversionHappenedAt", "conversionValue", "eventId", "user", "zzz"]


def mutate(rng: random.Random, base: dict[str, Any]) -> Any:
    out = dict(base)
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(_KEYS)
        if rng.random() < 0.2:
            out.pop(key, None)
        else:
            out[key] = rng.choice(_VALUES)
    if rng.random() < 0.3:
        user = dict(out.get("user") or {}) if isinstance(out.get("user"), dict) else {}
        user["userIds"] = [
            {"idType": rng.choice(["SHA256_EMAIL", "X"]), "idValue": rng.choice(_VALUES)}
        ]
        out["user"] = user
    return out


async def test_random_elements_get_linkedin_answers(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    rng = random.Random(20261205)
    for i in range(200):
        elements = [mutate(rng, element(f"f{i}-{j}")) for j in range(rng.randint(1, 4))]
        response = await client.post(
            EVENTS, content=orjson.dumps({"elements": elements}), headers=BATCH
        )
        assert response.status_code in (200, 400), response.text
        body = response.json()
        if response.status_code == 400:
            assert body["status"] == 400 and body["message"]
        else:
            assert len(body["elements"]) == len(elements)
    for request in state.requests():
        if request.status == 400:
            assert request.accepted == 0
    assert all(r.status != 500 for r in state.requests())


@pytest.mark.parametrize(
    "body", [b"[]", b"null", b"1", b'"x"', b"\xff\xfe", b'{"elements": [null]}', b"{" * 5000]
)
async def test_hostile_bodies(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(EVENTS, content=body, headers=BATCH)
    assert response.status_code == 400 and response.json()["status"] == 400
