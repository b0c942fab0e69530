from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalyard.errors import InputError
from signalyard.event import AcceptedEvent
from signalyard.transforms.hashing import sha256_hex
from signalyard.transforms.pipeline import clean_event

from .factory import NOW, event, ids

T = int(NOW)
EM = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
FBCLID = "IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk"


def clean(raw: object, country: str | None = "US", **kwargs: Any) -> AcceptedEvent:
    return clean_event(
        raw, dataset_id="123", default_country=country, now=NOW, new_id=ids(), **kwargs
    )


def test_full_event() -> None:
    raw = event(
        event_time=str(T - 60),
        event_id=1001,
        user_data={
            "em": "John_Smith@gmail.com",
            "ph": "(650)555-1212",
            "fn": "Mary",
            "ln": "Smith",
            "ct": "New York",
            "st": "New York",
            "zp": "10001-1234",
            "country": "USA",
            "db": "02/16/1997",
            "ge": "F",
            "external_id": "Cust-1",
            "client_ip_address": "2001:db8::1",
            "client_user_agent": "Mozilla/5.0",
            "fbc": "fb.1.1554763741205.AbCdEf",
            "fbp": "fb.1.1596403881668.1116446470",
        },
        custom_data={
            "currency": "usd",
            "value": "142.52",
            "contents": [{"id": "sku", "quantity": 1}],
        },
        opt_out=None,
    )
    accepted = clean(raw, source="browser", test_event_code="TEST123")
    assert accepted.dataset_id == "123"
    assert accepted.event_name == "Purchase"
    assert accepted.event_id == "1001"
    assert accepted.event_time == T - 60
    assert accepted.source == "browser"
    assert accepted.test_event_code == "TEST123"
    assert accepted.warnings == ()
    payload = accepted.payload
    assert payload["event_time"] == T - 60
    assert payload["event_id"] == "1001"
    assert payload["custom_data"] == {
        "currency": "USD",
        "value": 142.52,
        "contents": [{"id": "sku", "quantity": 1}],
    }
    assert "opt_out" not in payload
    user_data = payload["user_data"]
    assert user_data["em"] == [EM]
    assert user_data["ph"] == ["e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"]
    assert user_data["country"] == [sha256_hex("us")]
    assert user_data["st"] == [sha256_hex("ny")]
    assert user_data["db"] == [sha256_hex("19970216")]
    assert user_data["zp"] == [sha256_hex("10001")]
    for key in ("client_ip_address", "client_user_agent", "fbc", "fbp"):
        assert user_data[key] == raw["user_data"][key]


def test_raw_is_never_modified() -> None:
    raw = event(
        event_id="",
        event_time=str(T - 60),
        event_source_url=f"https://shop.example.com/?fbclid={FBCLID}",
        custom_data={"currency": "eur", "value": "10"},
        referrer_url=None,
    )
    before = copy.deepcopy(raw)
    clean(raw)
    assert raw == before


def test_fbc_from_fbclid_and_event_id_assigned() -> None:
    raw = event(event_id=None, event_source_url=f"https://shop.example.com/?fbclid={FBCLID}")
    accepted = clean(raw)
    assert accepted.event_id == "id-1"
    assert accepted.payload["event_id"] == "id-1"
    assert accepted.payload["user_data"]["fbc"] == f"fb.1.{(T - 60) * 1000}.{FBCLID}"
    assert accepted.warnings == (
        "user_data.fbc: set from the fbclid in event_source_url",
        "event_id: none given; assigned id-1 so that deliveries of this event deduplicate "
        "(send your own to deduplicate against the Pixel)",
    )


def test_warnings_are_collected() -> None:
    raw = event(user_data={"em": ["John_Smith@gmail.com", "nope"], "fbc": "x", "foo": 1})
    accepted = clean(raw)
    assert accepted.warnings == (
        "user_data.em[1]: not an email address (name@domain.tld); dropped",
        "user_data.fbc: not in the format fb.<subdomain index>.<creation time>.<value>; kept",
        "user_data.foo: not a Meta customer information key; dropped",
    )


def test_baseline_applies_to_website_events() -> None:
    raw = event(user_data={"ge": "f", "ct": "Paris", "st": "IDF", "country": "FR"})
    with pytest.raises(InputError) as error:
        clean(raw)
    assert error.value.field == "user_data"
    assert error.value.subcode == 2804050
    assert "only country, ct, ge, st: too broad" in error.value.rule


def test_baseline_error_names_the_dropped_values_but_not_their_content() -> None:
    raw = event(user_data={"em": "jane.doe.at.example", "ph": "12"})
    with pytest.raises(InputError) as error:
        clean(raw)
    assert error.value.subcode == 2804050
    assert "user_data.em: not an email address" in error.value.rule
    assert "user_data.ph: not a phone number" in error.value.rule
    assert "jane" not in error.value.message


def test_business_messaging_needs_no_baseline() -> None:
    raw = event(
        action_source="business_messaging",
        event_source_url=None,
        messaging_channel="whatsapp",
        user_data={"whatsapp_business_account_id": "111", "ctwa_clid": "ARAkLk"},
    )
    accepted = clean(raw)
    assert accepted.payload["user_data"] == raw["user_data"]


def test_app_event_needs_no_baseline() -> None:
    extinfo = [
        "i2",
        "com.example",
        "1",
        "1.0",
        "17.0",
        "iPhone15,2",
        "en_US",
        "CET",
        "",
        "1179",
        "2556",
        "3.0",
        "6",
        "128",
        "64",
        "Europe/Paris",
    ]
    raw = event(
        action_source="app",
        event_source_url=None,
        app_data={"advertiser_tracking_enabled": 0, "extinfo": extinfo},
        user_data={"anon_id": "XZ123"},
        event_name="MobileAppInstall",
        custom_data=None,
    )
    assert clean(raw).payload["user_data"] == {"anon_id": "XZ123"}


def test_errors_are_relative_to_the_event() -> None:
    with pytest.raises(InputError) as error:
        clean(event(user_data={"em": ["a@b.co", 5]}))
    assert error.value.field == "user_data.em[1]"
    assert error.value.at("data[2]").field == "data[2].user_data.em[1]"
    with pytest.raises(InputError) as error:
        clean(event(custom_data={"currency": "usd", "value": "free"}))
    assert error.value.field == "custom_data.value"


def test_max_future_seconds_is_passed_to_validation() -> None:
    raw = event(event_time=T + 1200)
    with pytest.raises(InputError):
        clean(raw)
    assert clean(raw, max_future_seconds=3600).event_time == T + 1200


def test_phone_completed_with_the_dataset_country() -> None:
    raw = event(user_data={"ph": "0912 345 678"})
    accepted = clean(raw, country="VN")
    assert accepted.payload["user_data"]["ph"] == [sha256_hex("84912345678")]
    with pytest.raises(InputError):  # no default country: the phone is dropped, then baseline
        clean(raw, country=None)


# --- property: arbitrary JSON-like input raises InputError or nothing ------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
_USER_KEYS = [
    "em",
    "ph",
    "fn",
    "ln",
    "db",
    "ge",
    "ct",
    "st",
    "zp",
    "country",
    "external_id",
    "client_ip_address",
    "client_user_agent",
    "fbc",
    "fbp",
    "page_id",
    "lead_id",
    "ctwa_clid",
    "whatsapp_business_account_id",
    "ig_sid",
    "other",
]
_user_value = st.one_of(
    _json,
    st.sampled_from(
        [
            "John_Smith@gmail.com",
            "+1 650 555 1212",
            "0912 345 678",
            "1997-02-16",
            "US",
            "a" * 64,
            "fb.1.2.x",
            "203.0.113.7",
            "::1",
            "Zürich",
            "m",
        ]
    ),
    st.lists(st.text(max_size=20), max_size=3),
)


def _mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually ``valid``, sometimes anything."""
    return st.tuples(st.integers(0, 7), valid, _json).map(lambda t: t[2] if t[0] == 7 else t[1])


_near_valid = st.fixed_dictionaries(
    {
        "event_name": _mostly(st.sampled_from(["Purchase", "Lead", "MobileAppInstall"])),
        "event_time": _mostly(st.integers(T - 7 * 86400, T + 600) | st.just(str(T))),
        "action_source": _mostly(
            st.sampled_from(["website", "app", "business_messaging", "email", "physical_store"])
        ),
        "user_data": _mostly(st.dictionaries(st.sampled_from(_USER_KEYS), _user_value)),
    },
    optional={
        "event_id": st.one_of(st.text(max_size=10), st.integers(), _json),
        "event_source_url": _mostly(
            st.sampled_from(["https://x.example/?fbclid=AbC", "https://x.example/", "x"])
        ),
        "custom_data": _mostly(
            st.fixed_dictionaries(
                {},
                optional={
                    "value": _mostly(st.floats() | st.sampled_from(["1.5", "x", "10"])),
                    "currency": _mostly(st.sampled_from(["usd", "EUR", "xyz"])),
                },
            )
        ),
        "messaging_channel": _mostly(st.sampled_from(["whatsapp", "messenger", "instagram"])),
        "app_data": _json,
        "data_processing_options": _mostly(st.just(["LDU"])),
        "data_processing_options_country": _mostly(st.sampled_from([0, 1, 2])),
        "data_processing_options_state": _mostly(st.sampled_from([0, 1000, 1014])),
        "opt_out": _json,
        "original_event_data": _json,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_json, _near_valid))
def test_clean_event_raises_only_input_errors(raw: Any) -> None:
    before = copy.deepcopy(raw)
    try:
        accepted = clean(raw, country="US")
    except InputError as error:
        assert error.code == 100
        assert isinstance(error.field, str)
    else:
        assert isinstance(accepted, AcceptedEvent)
        assert isinstance(accepted.event_time, int)
        assert isinstance(accepted.event_id, str)
    assert repr(raw) == repr(before)  # never modified (repr: NaN != NaN)
