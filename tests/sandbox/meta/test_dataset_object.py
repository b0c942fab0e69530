"""``GET /{version}/{dataset_id}?fields=id``: the dataset object a pre-flight check reads
(the Meta sink's ``healthcheck``), with the events edge's path and token checks."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from signalyard.clock import FrozenClock
from signalyard.outcome import Delivered, Paused
from signalyard.sandbox.meta import create_app
from signalyard.secret import Secret
from signalyard.sinks.meta import MetaConfig, MetaSink

from .factory import DATASET, TOKEN

pytestmark = pytest.mark.anyio


async def test_the_dataset_object_answers_its_id(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/v26.0/{DATASET}", params={"fields": "id", "access_token": TOKEN})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": DATASET}


@pytest.mark.parametrize(
    ("params", "code"), [({}, 104), ({"access_token": "short"}, 190)], ids=["none", "malformed"]
)
async def test_the_dataset_object_checks_the_token(
    client: httpx.AsyncClient, params: dict[str, str], code: int
) -> None:
    r = await client.get(f"/v26.0/{DATASET}", params={"fields": "id", **params})
    assert r.status_code in (400, 401)
    assert r.json()["error"]["code"] == code


async def test_a_bad_version_is_refused_and_other_paths_stay_unknown(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/v26/1234567890", params={"access_token": TOKEN})
    assert r.status_code == 400
    assert r.json()["error"]["error_subcode"] == 33
    r = await client.get("/v26.0/my-pixel", params={"access_token": TOKEN})
    assert r.json()["error"]["code"] == 2500


async def test_the_meta_sinks_healthcheck_passes_against_the_sandbox(
    app: Starlette, clock: FrozenClock
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport) as http:
        config = MetaConfig(DATASET, Secret(TOKEN), graph_url="http://sandbox")
        result = await MetaSink(config, http, clock).healthcheck()
        assert result.outcomes == (Delivered(),), result.attempt
        assert result.attempt.http_status == 200
        bad = MetaConfig(DATASET, Secret("short"), graph_url="http://sandbox")
        (outcome,) = (await MetaSink(bad, http, clock).healthcheck()).outcomes
        assert isinstance(outcome, Paused)


async def test_with_an_app_secret_the_proof_is_checked(clock: FrozenClock) -> None:
    app = create_app(clock=clock, app_secret="the-app-secret")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        good = MetaConfig(
            DATASET, Secret(TOKEN), graph_url="http://sandbox", app_secret=Secret("the-app-secret")
        )
        (outcome,) = (await MetaSink(good, http, clock).healthcheck()).outcomes
        assert outcome == Delivered()
        wrong = MetaConfig(
            DATASET, Secret(TOKEN), graph_url="http://sandbox", app_secret=Secret("another")
        )
        (outcome,) = (await MetaSink(wrong, http, clock).healthcheck()).outcomes
        assert not isinstance(outcome, Delivered)
