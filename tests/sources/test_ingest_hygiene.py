"""Through the real endpoint: a huge ``user_data`` list is refused at once, fields Meta does not
know are not stored, ``contents`` items are checked, and a national phone number of a dataset
without a country is reported, not hashed as a wrong number."""

from __future__ import annotations

import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.transforms.user_data import MAX_VALUES_PER_KEY

from .conftest import EMAIL, OTHER_DATASET, Gateway, V, purchase, sha256
from .test_graph_ingest import assert_error, assert_success

pytestmark = pytest.mark.anyio


async def test_eighty_thousand_emails_are_refused_naming_the_key_and_the_cap(
    gateway: Gateway,
) -> None:
    now = gateway.clock.now()
    event = purchase(now)
    event["user_data"]["em"] = [f"customer.{i}@example.com" for i in range(80_000)]
    body = orjson.dumps({"data": [event]})
    assert len(body) > 1_000_000
    r = await gateway.post(content=body, headers={"content-type": "application/json"})
    error = assert_error(
        r,
        400,
        code=100,
        names=("data[0].user_data.em", f"at most {MAX_VALUES_PER_KEY} per key"),
    )
    assert "customer." not in error["message"]
    assert gateway.stored() == []


async def test_unknown_fields_are_not_stored_and_the_answer_says_so(gateway: Gateway) -> None:
    now = gateway.clock.now()
    event = purchase(now, customer_email=EMAIL, internal_notes={"agent": "bob"})
    body = assert_success(await gateway.post_json([event]), 1)
    assert (
        "data[0].customer_email: not a Meta server-event field (not stored); dropped"
        in (body["messages"])
    )
    assert (
        "data[0].internal_notes: not a Meta server-event field (not stored); dropped"
        in (body["messages"])
    )
    (row,) = gateway.stored()
    assert "customer_email" not in row["payload"]
    assert "internal_notes" not in row["payload"]
    assert EMAIL.lower().encode() not in row["raw_payload"].lower()


async def test_an_email_as_a_contents_id_is_refused(gateway: Gateway) -> None:
    now = gateway.clock.now()
    event = purchase(now)
    event["custom_data"]["contents"] = [{"id": "SKU-1", "quantity": 1}, {"id": EMAIL}]
    r = await gateway.post_json([event])
    error = assert_error(
        r, 400, code=100, names=("data[0].custom_data.contents[1].id", "an email address")
    )
    assert EMAIL.lower() not in error["message"].lower()
    assert gateway.stored() == []


async def test_an_email_in_custom_data_is_dropped_with_a_message(gateway: Gateway) -> None:
    now = gateway.clock.now()
    event = purchase(now)
    event["custom_data"]["customer"] = EMAIL
    body = assert_success(await gateway.post_json([event]), 1)
    assert (
        "data[0].custom_data.customer: looks like an email address (personal data belongs in"
        " user_data, hashed; not stored); dropped"
    ) in body["messages"]
    (row,) = gateway.stored()
    assert "customer" not in row["payload"]["custom_data"]
    assert row["payload"]["custom_data"]["order_id"] == "ORDER-1042"
    assert EMAIL.lower().encode() not in row["raw_payload"].lower()


async def test_a_national_phone_of_a_dataset_without_a_country(gateway: Gateway) -> None:
    now = gateway.clock.now()
    event = purchase(now)
    event["user_data"]["ph"] = "(650) 555-1212"
    r = await gateway.client.post(
        f"/{V}/{OTHER_DATASET}/events",
        params={"access_token": gateway.other_key},
        json={"data": [event]},
    )
    body = assert_success(r, 1)
    assert [m for m in body["messages"] if "user_data.ph" in m] == [
        "data[0].user_data.ph: not a phone number in international form (+ and the country"
        " code); the dataset has no default country to complete a national number, so it"
        " cannot be made E.164 and is not hashed; dropped"
    ]
    (row,) = gateway.stored()
    assert "ph" not in row["payload"]["user_data"]
    assert sha256("6505551212").encode() not in row["raw_payload"]


async def test_collect_refuses_a_large_email_list_without_any_key(
    sqlite_url: str, clock: FrozenClock
) -> None:
    # /collect needs no key: 64 KB bodies of emails, within its rate limit, kept the server
    # busy de-duplicating them. Refused now before any value is hashed.
    from .test_collect import event as browser_event
    from .test_collect import gateway as collect_gateway
    from .test_collect import post, stored

    emails = [f"visitor.{i}@example.com" for i in range(2_300)]
    body = {"events": [browser_event(clock, user_data={"fbp": "fb.1.1.1", "em": emails})]}
    assert 60_000 < len(orjson.dumps(body)) <= 64 * 1024  # the default max_body_bytes
    async with collect_gateway(sqlite_url, clock) as (client, store):
        r = await post(client, body)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["field"] == "events[0].user_data.em"
        assert f"at most {MAX_VALUES_PER_KEY} per key" in error["rule"]
        assert "visitor." not in r.text
        assert await stored(store) == []
