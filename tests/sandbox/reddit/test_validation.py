"""Reddit's rules: a body it cannot read is refused whole (400 unknown field, 403 wrong
type); one invalid event refuses the request with ``invalid_events``; what is accepted but
flagged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.sandbox.reddit import SandboxState

from .factory import body, event, post, sha, user

pytestmark = pytest.mark.anyio


async def test_one_invalid_event_refuses_the_request(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    bad = event("b", age=168 * 3600)
    reply = await post(client, body(event("a"), bad, event("c")))
    assert reply.status_code == 400
    answer = reply.json()
    assert answer["message"] == "There were 1 invalid conversion events. None were processed."
    (item,) = answer["invalid_events"]
    assert item["error_message"] == "event_at timestamp must be less than 168h0m0s old"
    assert item["event"]["event_metadata"]["conversion_id"] == "b"  # the event echoed
    assert state.events() == []
    assert state.summary()["totals"]["invalid"] == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event_at": None}, "event_at is required"),
        ({"event_at": "yesterday"}, "event_at must be an RFC 3339 timestamp"),
        ({"event_at": "2027-01-15T07:00:00"}, "with its time zone"),
        ({"event_type": {}}, "event_type.tracking_type is required"),
        ({"event_type": {"tracking_type": "purchase"}}, "did you mean 'Purchase'"),
        ({"event_type": {"tracking_type": "PageView"}}, "invalid tracking_type 'PageView'"),
        ({"event_type": {"tracking_type": "Custom"}}, "custom_event_name is required"),
        (
            {"event_type": {"tracking_type": "Custom", "custom_event_name": "x" * 65}},
            "at most 64 characters",
        ),
        ({"event_metadata": {"currency": "dollars"}}, "invalid currency"),
        ({"event_metadata": {"item_count": -1}}, "item_count must not be negative"),
        (
            {"user": user(data_processing_options={"modes": ["GDPR"]})},
            "only LDU is supported",
        ),
        (
            {"user": user(data_processing_options={"modes": ["LDU"], "country": "usa"})},
            "invalid data processing country",
        ),
        (
            {"user": user(data_processing_options={"modes": ["LDU"], "region": "California"})},
            "invalid data processing region",
        ),
        ({"user": user(screen_dimensions={"width": 0, "height": 10})}, "screen_dimensions.width"),
    ],
)
async def test_event_rules(client: httpx.AsyncClient, change: dict[str, Any], message: str) -> None:
    ev = {**event("x"), **change}
    ev = {k: v for k, v in ev.items() if v is not None}
    reply = await post(client, body(ev))
    assert reply.status_code == 400, reply.text
    (item,) = reply.json()["invalid_events"]
    assert message in item["error_message"]


async def test_custom_events_and_ldu_are_accepted(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    custom = event(
        "c",
        event_type={"tracking_type": "Custom", "custom_event_name": "InitiateCheckout"},
        user=user(data_processing_options={"modes": ["LDU"], "country": "US", "region": "US-CA"}),
    )
    reply = await post(client, body(custom))
    assert reply.status_code == 200
    (rec,) = state.events()
    assert rec.event_name == "InitiateCheckout" and rec.limited_data_use


async def test_an_unknown_field_is_a_400_for_the_request(client: httpx.AsyncClient) -> None:
    for payload in (
        body(event(), test_id="t2_x"),
        body({**event(), "action_source": "WEBSITE"}),
        body(event(user=user(em=sha("a@b.c")))),
    ):
        reply = await post(client, payload)
        assert reply.status_code == 400
        assert reply.json()["error"]["message"].startswith('JSON error "unknown field" on field')


async def test_a_wrong_type_is_a_403_as_reddit_answers_it(client: httpx.AsyncClient) -> None:
    ev = event()
    ev["event_metadata"]["value"] = 12.5
    reply = await post(client, body(ev))
    assert reply.status_code == 403
    assert reply.json() == {
        "success": False,
        "error": {
            "reason": "UNAUTHORIZED",
            "explanation": "JSON error unexpected type number on field events event_metadata value",
        },
    }
    for payload in (
        body(event(event_at=1_800_000_000)),
        body(event(user=user(email=["a"]))),
        {"events": [event()], "test_mode": "yes"},
        {"events": {"a": 1}},
        ["not an object"],
    ):
        assert (await post(client, payload)).status_code == 403


async def test_a_body_that_is_not_json(client: httpx.AsyncClient) -> None:
    from .factory import EVENTS, HEADERS

    for raw in (b"", b"{not json"):
        reply = await client.post(EVENTS, content=raw, headers=HEADERS)
        assert reply.status_code == 400 and reply.json()["error"]["message"].startswith("JSON")


async def test_diagnostics(client: httpx.AsyncClient, state: SandboxState) -> None:
    flagged = event(
        None,
        tracking_type="Purchase",
        event_metadata={},
        click_id=None,
        user={"email": "alice@example.com", "user_agent": sha("ua"), "ip_address": "nope"},
    )
    flagged = {k: v for k, v in flagged.items() if v is not None}
    future = event("f", age=-600)
    reply = await post(client, body(flagged, future))
    assert reply.status_code == 200
    by_id = {e.conversion_id: {d.code for d in e.diagnostics} for e in state.events()}
    assert by_id[None] == {
        "plaintext_in_hashed_field",
        "hashed_plain_field",
        "invalid_ip",
        "missing_conversion_id",
        "missing_value_or_currency",
    }
    assert by_id["f"] == {"event_at_in_future"}
    none = event("n", click_id=None, user={})
    none = {k: v for k, v in none.items() if v is not None}
    await post(client, body(none))
    assert {d.code for d in state.events(conversion_id="n")[0].diagnostics} == {"no_match_keys"}
