"""``/_sandbox``: the index, events and requests with their filters, the summary (counts and
coverage only: no id, name or token), the rules route and reset."""

from __future__ import annotations

import httpx
import pytest

from signalyard.sandbox.linkedin import SandboxState

from .factory import TOKEN, element, post, read_rule, sha

pytestmark = pytest.mark.anyio


async def test_index_lists_the_routes(client: httpx.AsyncClient) -> None:
    body = (await client.get("/_sandbox")).json()
    assert body["sandbox"] == "linkedin"
    assert "POST /rest/conversionEvents" in body["endpoints"]


async def test_events_requests_and_filters(client: httpx.AsyncClient) -> None:
    other = "urn:lla:llaPartnerConversion:77"
    await post(client, [element("a"), element("b", conversion=other)])
    await read_rule(client)
    events = (await client.get("/_sandbox/events", params={"conversion_rule_id": "77"})).json()
    assert events["count"] == 1 and events["events"][0]["event_id"] == "b"
    assert events["events"][0]["element"]["conversion"] == other
    one = (await client.get("/_sandbox/events", params={"event_id": "a"})).json()
    assert one["count"] == 1
    requests = (await client.get("/_sandbox/requests")).json()["requests"]
    assert [r["method"] for r in requests] == ["GET", "BATCH_CREATE"]
    assert requests[1]["elements"] == 2 and requests[1]["linkedin_version"] == "202603"
    assert TOKEN not in str(requests)
    assert requests[0]["token_sha256_prefix"] == requests[1]["token_sha256_prefix"]


async def test_summary_counts_and_coverage_without_personal_data(
    client: httpx.AsyncClient,
) -> None:
    only_click = {"userIds": [{"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "x"}]}
    await post(
        client,
        [element("a"), element("b", user=only_click), element("c", age=100 * 86400)],
    )
    summary = (await client.get("/_sandbox/summary")).json()
    rule = summary["conversion_rules"]["104012"]
    assert (rule["received"], rule["accepted"], rule["invalid"]) == (3, 2, 1)
    assert rule["statuses"] == {"200": 1}
    keys = rule["coverage"]["keys"]
    assert keys["sha256_email"] == 0.5 and keys["li_fat_id"] == 1.0
    assert summary["totals"]["accepted"] == 2
    text = str(summary)
    assert sha("john_smith@gmail.com") not in text and "df5gf5" not in text


async def test_rules_route_and_reset(client: httpx.AsyncClient, state: SandboxState) -> None:
    response = await client.put("/_sandbox/rules/55", json={"conversionMethod": "INSIGHT_TAG"})
    assert response.status_code == 200
    assert response.json()["rule"]["conversionMethod"] == "INSIGHT_TAG"
    assert (await client.put("/_sandbox/rules/55", json={"bad": 1})).status_code == 400
    assert (await client.put("/_sandbox/rules/55", json=[1])).status_code == 400
    assert (await client.get("/_sandbox/rules/x")).status_code == 404
    await post(client, [element("a")])
    assert (await client.delete("/_sandbox/state")).json() == {"reset": True}
    assert state.events() == [] and state.requests() == []
    assert state.method_of("55") == "INSIGHT_TAG"  # rules survive a reset
