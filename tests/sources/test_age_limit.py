"""How old an event may be is the dataset's destinations' call, not one platform's: the
largest of their kinds' limits (Google takes 90 days, Meta and TikTok 7); a dataset without
destinations keeps the Graph API's 7 days. An event some destination can use is kept; each
sink dead-letters what is too old for its own platform."""

from __future__ import annotations

import pytest

from signalyard.sinks import REGISTRY
from signalyard.sources.ingest import IDENTITY_TTL
from tests.sources.conftest import DATASET, Gateway, purchase

pytestmark = pytest.mark.anyio
DAY = 86400


async def add(gateway: Gateway, kind: str) -> None:
    example = REGISTRY[kind].example()
    options = {**example.to_mapping(), **{k: "sandbox" for k in REGISTRY[kind].url_options}}
    await gateway.store.add_destination(
        DATASET,
        name=f"{kind}-1",
        kind=kind,
        options=options,
        secrets=example.to_secrets(),
        now=gateway.clock.now(),
    )


async def post(gateway: Gateway, days: int, event_id: str) -> tuple[int, dict[str, object]]:
    now = gateway.clock.now()
    event = purchase(now, event_id=event_id, event_time=int(now) - days * DAY)
    response = await gateway.post_json([event])
    return response.status_code, response.json()


async def test_without_destinations_the_graph_limit_of_seven_days(gateway: Gateway) -> None:
    status, body = await post(gateway, 8, "old")
    assert status == 400
    error = body["error"]
    assert isinstance(error, dict)
    assert error["error_subcode"] == 2804003
    assert "data[0].event_time" in error["message"] and "7 days" in error["message"]
    assert "Meta" not in error["message"]


async def test_a_google_destination_keeps_events_up_to_its_ninety_days(
    gateway: Gateway,
) -> None:
    await add(gateway, "meta")
    await add(gateway, "google")
    gateway.clock.advance(IDENTITY_TTL + 1)  # the dataset's plan is looked up again
    status, body = await post(gateway, 30, "thirty-days")
    assert status == 200, body
    assert body["events_received"] == 1
    status, body = await post(gateway, 91, "ninety-one-days")
    assert status == 400
    error = body["error"]
    assert isinstance(error, dict)
    assert "90 days" in str(error["message"])


async def test_meta_and_tiktok_alone_keep_seven_days(gateway: Gateway) -> None:
    await add(gateway, "meta")
    await add(gateway, "tiktok")
    gateway.clock.advance(IDENTITY_TTL + 1)
    status, _ = await post(gateway, 6, "six-days")
    assert status == 200
    status, body = await post(gateway, 8, "eight-days")
    assert status == 400
    error = body["error"]
    assert isinstance(error, dict)
    assert "7 days" in str(error["message"])
