"""The two endpoints, as GA4 answers them: /mp/collect 204 with no body whatever it is sent
(a missing or revoked secret included); /debug/mp/collect 200 with validationMessages, not
checking the secret."""

from __future__ import annotations

import httpx
import pytest

from signalyard.sandbox.ga4 import SandboxState

from .factory import SECRET, body, collect, debug, messages

pytestmark = pytest.mark.anyio


async def test_collect_answers_204_without_a_body(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    response = await collect(client, body())
    assert response.status_code == 204 and response.content == b""
    (event,) = state.events()
    assert event.accepted and event.event_name == "purchase" and event.event_id == "e1"


async def test_collect_answers_204_to_garbage_and_drops_it(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    response = await client.post("/mp/collect", params={"measurement_id": "G-X1234"},
                                 content=b"not json")  # fmt: skip
    assert response.status_code == 204 and response.content == b""
    assert state.events() == []
    (record,) = state.requests()
    assert record.endpoint == "collect" and record.status == 204


async def test_collect_without_secret_drops_every_event(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    response = await collect(client, body(), secret=None)
    assert response.status_code == 204
    (event,) = state.events()
    assert event.status == "dropped" and event.code == "VALUE_REQUIRED"
    assert "api_secret" in (event.error or "")


async def test_collect_without_measurement_id_drops_every_event(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    assert (await collect(client, body(), measurement_id=None)).status_code == 204
    (event,) = state.events()
    assert event.status == "dropped" and "measurement_id" in (event.error or "")


async def test_debug_does_not_check_the_secret_and_records_no_event(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    assert await messages(client, body(), secret=None) == []
    assert state.events() == []
    (record,) = state.requests()
    assert record.endpoint == "debug" and record.secret_sha256_prefix is None


async def test_debug_checks_the_measurement_id(client: httpx.AsyncClient) -> None:
    (missing,) = await messages(client, body(), measurement_id=None)
    assert missing["fieldPath"] == "measurement_id"
    assert missing["validationCode"] == "VALUE_REQUIRED"
    (bad,) = await messages(client, body(), measurement_id="UA-123-4")
    assert bad["validationCode"] == "VALUE_INVALID"


async def test_the_secret_is_kept_as_a_digest_prefix_only(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await collect(client, body())
    (record,) = state.requests()
    assert record.secret_sha256_prefix is not None and len(record.secret_sha256_prefix) == 12
    listed = (await client.get("/_sandbox/requests")).text
    assert SECRET not in listed and SECRET not in (await client.get("/_sandbox/events")).text


async def test_other_methods_and_paths(client: httpx.AsyncClient) -> None:
    assert (await client.get("/mp/collect")).status_code == 405
    assert (await client.post("/collect")).status_code == 404
    assert (await debug(client, body())).headers["content-type"] == "application/json"
