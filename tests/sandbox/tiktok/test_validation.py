"""TikTok's rules with TikTok's 40002 body, the 1,000-event limit, and the diagnostics of
events TikTok accepts but flags."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.sandbox.tiktok import SandboxState

from .factory import NOW, PIXEL, answer, body, event, sha, track, user

pytestmark = pytest.mark.anyio


def with_(**fields: Any) -> dict[str, Any]:
    return event(**fields)


def deep(path: list[str | int], value: Any) -> dict[str, Any]:
    """An event with ``value`` at ``path`` (dicts created on the way)."""
    ev = event()
    node: Any = ev
    for key in path[:-1]:
        if isinstance(node, dict) and key not in node:
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return ev


INVALID_EVENTS = [
    (event(name="") | {"event": None}, "Batch.0.event: Missing data for required field"),
    (with_(event=42), "Batch.0.event: Not a valid string"),
    (with_(event="  "), "Batch.0.event: Shorter than minimum length 1"),
    ({"event": "Lead"}, "Batch.0.event_time: Missing data for required field"),
    (with_(event_time="1799999990"), "Batch.0.event_time: Not a valid integer"),
    (with_(event_time=1799999990.5), "Batch.0.event_time: Not a valid integer"),
    (with_(event_time=True), "Batch.0.event_time: Not a valid integer"),
    (with_(event_id=17), "Batch.0.event_id: Not a valid string"),
    (with_(test_event_code=5), "Batch.0.test_event_code: Not a valid string"),
    (with_(limited_data_use="yes"), "Batch.0.limited_data_use: Not a valid boolean"),
    (with_(user="someone"), "Batch.0.user: Invalid input type"),
    (with_(user=user(email=42)), "Batch.0.user.email: Not a valid string"),
    (with_(user=user(phone=[sha("+15551234567"), 7])), "Batch.0.user.phone.1: Not a valid string"),
    (with_(user=user(first_name=[sha("john")])), "Batch.0.user.first_name: Not a valid string"),
    (with_(user=user(ip=2130706433)), "Batch.0.user.ip: Not a valid string"),
    (with_(user=user(ttclid=["E.C.P.x"])), "Batch.0.user.ttclid: Not a valid string"),
    (with_(properties=[1]), "Batch.0.properties: Invalid input type"),
    (
        deep(["properties", "contents"], [{"content_id": 1077218}]),
        "Batch.0.properties.contents.0.content_id: Not a valid string",
    ),
    (
        deep(["properties", "contents"], [{"content_id": "a"}, {"price": "8.00"}]),
        "Batch.0.properties.contents.1.price: Not a valid number",
    ),
    (
        deep(["properties", "contents"], [{"quantity": 1.5}]),
        "Batch.0.properties.contents.0.quantity: Not a valid integer",
    ),
    (
        deep(["properties", "contents"], [{"content_type": "socks"}]),
        "Batch.0.properties.contents.0.content_type: Must be one of: product, product_group",
    ),
    (
        deep(["properties", "contents"], ["sku-1"]),
        "Batch.0.properties.contents.0: Invalid input type",
    ),
    (
        deep(["properties", "contents"], {"content_id": "a"}),
        "Batch.0.properties.contents: Not a valid list",
    ),
    (deep(["properties", "value"], "142.52"), "Batch.0.properties.value: Not a valid number"),
    (deep(["properties", "currency"], 840), "Batch.0.properties.currency: Not a valid string"),
    (deep(["properties", "num_items"], "2"), "Batch.0.properties.num_items: Not a valid integer"),
    (
        deep(["properties", "content_ids"], ["a", 2]),
        "Batch.0.properties.content_ids.1: Not a valid string",
    ),
    (
        deep(["properties", "content_type"], "sku"),
        "Batch.0.properties.content_type: Must be one of: product, product_group",
    ),
    (deep(["page", "url"], ["https://x"]), "Batch.0.page.url: Not a valid string"),
    (with_(page="https://shop.example.com"), "Batch.0.page: Invalid input type"),
]


@pytest.mark.parametrize(("ev", "message"), INVALID_EVENTS)
async def test_each_rule_with_tiktoks_body(
    client: httpx.AsyncClient, state: SandboxState, ev: dict[str, Any], message: str
) -> None:
    out = answer(await track(client, body(ev)), 40002)
    assert out["message"] == message
    assert state.events() == []


async def test_the_index_names_the_event(client: httpx.AsyncClient) -> None:
    bad = deep(["properties", "contents"], [{"content_id": 9}])
    bad["event_id"] = "bad"
    out = answer(await track(client, body(bad, bad | {"event_id": "bad-2"})), 40002)
    assert out["message"] == "Batch.0.properties.contents.0.content_id: Not a valid string"


async def test_an_element_that_is_not_an_object(client: httpx.AsyncClient) -> None:
    out = answer(await track(client, body("CompletePayment")), 40002)
    assert out["message"] == "Batch.0: Invalid input type"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([event()], "body: Not a valid JSON object"),
        (body(event(), event_source=None), "event_source: Missing data for required field"),
        (
            body(event(), event_source="website"),
            "event_source: Must be one of: web, app, offline, crm",
        ),
        (body(event(), event_source_id=None), "event_source_id: Missing data for required field"),
        (body(event(), event_source_id=12345), "event_source_id: Not a valid string"),
        (body(event(), event_source_id=""), "event_source_id: Shorter than minimum length 1"),
        (
            {"event_source": "web", "event_source_id": PIXEL},
            "data: Missing data for required field",
        ),
        (body(event()) | {"data": event()}, "data: Not a valid list"),
        (body(), "data: Length must be between 1 and 1000"),
        (body(event(), test_event_code=1), "test_event_code: Not a valid string"),
        (body(event(), partner_name=["x"]), "partner_name: Not a valid string"),
    ],
)
async def test_the_requests_own_fields(
    client: httpx.AsyncClient, state: SandboxState, payload: Any, message: str
) -> None:
    out = answer(await track(client, payload), 40002)
    assert out["message"] == message
    assert state.events() == []


async def test_at_most_1000_events(client: httpx.AsyncClient, state: SandboxState) -> None:
    full = [event(f"e{i}") for i in range(1000)]
    answer(await track(client, body(*full)), 0)
    assert state.event_count == 1000
    out = answer(await track(client, body(*full, event("e1000"))), 40002)
    assert out["message"] == "data: Length must be between 1 and 1000"
    assert state.event_count == 1000


@pytest.mark.parametrize("source", ["web", "app", "offline", "crm"])
async def test_every_event_source(client: httpx.AsyncClient, source: str) -> None:
    answer(await track(client, body(event(), event_source=source)), 0)


async def test_custom_event_names_are_accepted(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    answer(await track(client, body(event(name="QuizFinished"))), 0)
    (rec,) = state.events()
    assert rec.event_name == "QuizFinished" and rec.diagnostics == ()


async def test_a_realistic_full_event_is_accepted_without_diagnostics(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    payload = {
        "event_source": "web",
        "event_source_id": PIXEL,
        "partner_name": "Signalyard",
        "data": [
            {
                "event": "CompletePayment",
                "event_time": int(NOW) - 30,
                "event_id": "order-1001",
                "user": {
                    "email": [sha("john_smith@gmail.com")],
                    "phone": [sha("+15551234567")],
                    "external_id": [sha("customer-77")],
                    "ttclid": "E.C.P.CvQBi3kxnJv0mZ0kcHw3tJp0",
                    "ttp": "2cFzPqv0xKo8w3qYzdLnJbqXtSe",
                    "ip": "2001:db8::7",
                    "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4)",
                    "locale": "en-US",
                },
                "properties": {
                    "contents": [
                        {
                            "content_id": "sku-1",
                            "content_type": "product",
                            "content_name": "Socks",
                            "content_category": "Apparel",
                            "price": 8.0,
                            "quantity": 2,
                            "brand": "Acme",
                        },
                        {
                            "content_id": "sku-2",
                            "content_type": "product",
                            "price": 30,
                            "quantity": 1,
                        },
                    ],
                    "content_type": "product",
                    "currency": "USD",
                    "value": 46.0,
                    "order_id": "1001",
                    "num_items": 3,
                },
                "page": {
                    "url": "https://shop.example.com/checkout?ttclid=E.C.P.CvQBi3kxnJv0mZ0kcHw3tJp0",
                    "referrer": "https://shop.example.com/cart",
                },
                "limited_data_use": False,
            }
        ],
    }
    answer(await track(client, payload), 0)
    (rec,) = state.events()
    assert rec.accepted and rec.diagnostics == ()
    assert rec.event == payload["data"][0]
    assert (rec.partner_name, rec.event_source, rec.event_source_id) == (
        "Signalyard",
        "web",
        PIXEL,
    )
    coverage = state.summary()["event_sources"][PIXEL]["events"]["CompletePayment"][
        "match_key_coverage"
    ]
    assert coverage["keys"] == {k: 1.0 for k in coverage["keys"]}


DIAGNOSED = [
    (with_(user=user(email="john@example.com")), "plaintext_in_hashed_field", "user.email"),
    (with_(user=user(phone=["+15551234567", sha("x")])), "plaintext_in_hashed_field", "user.phone"),
    (with_(user=user(zip_code="94107")), "plaintext_in_hashed_field", "user.zip_code"),
    (with_(user=user(ip=sha("203.0.113.7"))), "hashed_value_in_plaintext_field", "user.ip"),
    (with_(user=user(ttp=sha("cookie"))), "hashed_value_in_plaintext_field", "user.ttp"),
    (with_(user=user(ip="300.1.2.3")), "invalid_ip", "user.ip"),
    (with_(user=user(em=sha("a@b.c"))), "meta_user_key", "user.em"),
    (with_(user=user(favourite_colour="red")), "unknown_user_key", "user.favourite_colour"),
    (with_(user={"locale": "en-US"}), "no_match_keys", "user"),
    (with_(event_time=int(NOW) * 1000), "event_time_milliseconds", "event_time"),
    (with_(event_time=int(NOW) + 3600), "event_time_in_future", "event_time"),
    (event(None), "missing_event_id", "event_id"),
    (with_(name="completepayment"), "nonstandard_spelling", "event"),
    (with_(name="PageView"), "meta_event_name", "event"),
    (with_(event_name="Purchase"), "meta_field", "event_name"),
    (with_(page=None), "missing_page_url", "page.url"),
    (deep(["page", "url"], "/checkout"), "page_url_not_http", "page.url"),
    (with_(properties={"value": 1.0}), "missing_value_or_currency", "properties"),
    (deep(["properties", "currency"], "XYZ"), "unknown_currency", "properties.currency"),
]


@pytest.mark.parametrize(("ev", "code", "field"), DIAGNOSED)
async def test_diagnostics(
    client: httpx.AsyncClient, state: SandboxState, ev: dict[str, Any], code: str, field: str
) -> None:
    answer(await track(client, body(ev)), 0)
    (rec,) = state.events()
    assert (code, field) in [(d.code, d.field) for d in rec.diagnostics]
    listed = (await client.get("/_sandbox/events")).json()["events"][0]["diagnostics"]
    assert code in [d["code"] for d in listed]


async def test_plaintext_keys_do_not_count_as_coverage(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    plain = event("a", user={"email": "john@example.com", "ip": "203.0.113.7"})
    answer(await track(client, body(plain)), 0)
    stats = state.summary()["event_sources"][PIXEL]["events"]["CompletePayment"]
    assert stats["match_key_coverage"]["keys"]["email"] == 0.0
    assert stats["match_key_coverage"]["keys"]["ip_ua"] == 0.0  # no user agent
    assert stats["diagnostics"] == {"plaintext_in_hashed_field": 1, "no_match_keys": 1}


async def test_a_page_url_is_only_expected_of_web_events(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    answer(await track(client, body(event(page=None), event_source="crm")), 0)
    assert state.events()[0].diagnostics == ()
