"""Snap's rules for each event: refused whole, naming the first invalid event (``event``), or
accepted with diagnostics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.sandbox.snapchat import SandboxState

from .factory import NOW, body, event, invalid, post, sha, user

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"event_name": None}, "event_name"),
        ({"event_name": " "}, "event_name"),
        ({"event_time": None}, "event_time"),
        ({"event_time": "1800000000"}, "event_time"),
        ({"event_time": int(NOW) - 38 * 86400}, "event_time: is older than 37 days"),
        ({"action_source": None}, "action_source"),
        ({"action_source": "store"}, "action_source"),
        ({"event_id": 12}, "event_id"),
        ({"opt_out": "yes"}, "opt_out"),
        ({"data_processing_options": "LMU"}, "data_processing_options"),
        ({"user_data": None}, "user_data"),
        ({"user_data": []}, "user_data"),
        ({"user_data": user(em=[1])}, "user_data.em"),
        ({"user_data": user(client_ip_address=7)}, "user_data.client_ip_address"),
        ({"custom_data": {"value": "abc"}}, "custom_data.value"),
        ({"custom_data": {"currency": 978}}, "custom_data.currency"),
        ({"custom_data": {"num_items": 1.5}}, "custom_data.num_items"),
        ({"custom_data": {"content_ids": [1]}}, "custom_data.content_ids"),
        ({"custom_data": {"contents": [{"id": 5}]}}, "custom_data.contents[0].id"),
        ({"custom_data": {"contents": [{"quantity": "x"}]}}, "custom_data.contents[0].quantity"),
        ({"app_data": {"extinfo": "a2"}}, "app_data.extinfo"),
    ],
)
async def test_a_rule_broken_refuses_the_request_naming_the_event(
    client: httpx.AsyncClient, state: SandboxState, change: dict[str, Any], path: str
) -> None:
    bad = event("b")
    bad.update(change)
    if change.get("user_data", 0) is None:
        del bad["user_data"]
    out = invalid(await post(client, body(event("a"), bad)), 400, "INVALID_EVENT")
    assert out["event"] == 1 and f"data[1].{path}" in out["reason"]
    assert state.events() == []
    assert state.summary()["totals"]["invalid"] == 1


@pytest.mark.parametrize("source", ["WEB", "web", "website", "MOBILE_APP", "app", "OFFLINE"])
async def test_action_source_spellings(client: httpx.AsyncClient, source: str) -> None:
    assert (await post(client, body(event(action_source=source)))).status_code == 200


async def test_numbers_as_strings_are_taken_as_snap_s_own_example_sends_them(
    client: httpx.AsyncClient,
) -> None:
    custom = {"value": "142.52", "currency": "USD",
              "contents": [{"id": "s", "quantity": "2", "item_price": "9.5"}]}  # fmt: skip
    assert (await post(client, body(event(custom_data=custom)))).status_code == 200


def codes(state: SandboxState) -> set[str]:
    (rec,) = state.events()
    return {d.code for d in rec.diagnostics}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"user_data": user(em=["john@x.com"])}, "plaintext_in_hashed_field"),
        ({"user_data": user(client_user_agent=sha("ua"))}, "hashed_value_in_plaintext_field"),
        ({"user_data": user(client_ip_address="999.1.1.1")}, "invalid_ip"),
        ({"user_data": {"client_user_agent": "UA"}}, "no_match_keys"),
        ({"user_data": user(fbp="fb.1.2.3")}, "meta_user_key"),
        ({"user_data": user(nickname="x")}, "unknown_user_key"),
        ({"event_name": "Purchase"}, "nonstandard_spelling"),
        ({"event_name": "quiz_done"}, "custom_event_name"),
        ({"event_id": None}, "missing_event_id"),
        ({"event_source_url": None}, "missing_event_source_url"),
        ({"custom_data": None}, "missing_value_or_currency"),
        ({"action_source": "MOBILE_APP", "event_source_url": None}, "missing_extinfo"),
        ({"event_time": int(NOW) * 1000}, "event_time_milliseconds"),
        ({"event_time": int(NOW) + 3600}, "event_time_in_future"),
    ],
)
async def test_diagnostics(
    client: httpx.AsyncClient, state: SandboxState, change: dict[str, Any], code: str
) -> None:
    ev = event()
    ev.update(change)
    ev = {k: v for k, v in ev.items() if v is not None}
    assert (await post(client, body(ev))).status_code == 200
    assert code in codes(state)


async def test_a_clean_event_has_no_diagnostics(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await post(client, body(event()))
    assert codes(state) == set()


async def test_limited_use_is_counted(client: httpx.AsyncClient, state: SandboxState) -> None:
    await post(client, body(event("a", data_processing_options=["LMU"]), event("b")))
    stats = state.summary()["assets"]
    (asset,) = stats.values()
    assert asset["events"]["PURCHASE"]["limited_use"] == 1
