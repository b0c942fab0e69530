"""What reaches the store besides ``user_data``: only Meta's top-level fields, ``contents``
items of the right shape, no plaintext personal data in ``custom_data``; and phones that
cannot be made E.164 are never hashed as if they were."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from signalyard.errors import InputError
from signalyard.event import AcceptedEvent
from signalyard.transforms.custom_data import drop_personal, personal_shape, tidy_contents
from signalyard.transforms.hashing import sha256_hex
from signalyard.transforms.pipeline import MAX_MESSAGES, clean_event

from .factory import NOW, event, ids

EMAIL = "jane.doe@example.com"


def clean(raw: object, country: str | None = "US") -> AcceptedEvent:
    return clean_event(raw, dataset_id="123", default_country=country, now=NOW, new_id=ids())


def stored(accepted: AcceptedEvent) -> bytes:
    """What the store writes for the event."""
    assert accepted.encoded is not None
    return accepted.encoded


def purchase(**custom: Any) -> dict[str, Any]:
    return event(custom_data={"currency": "usd", "value": 10, **custom})


def rejected(raw: object) -> InputError:
    with pytest.raises(InputError) as error:
        clean(raw)
    return error.value


# --- unknown top-level fields --------------------------------------------------------------


def test_unknown_top_level_fields_are_dropped_with_a_message() -> None:
    raw = event(customer_email=EMAIL, debug={"note": "x"}, **{"weird key!": 1})
    accepted = clean(raw)
    assert "customer_email" not in accepted.payload
    assert "debug" not in accepted.payload
    assert "weird key!" not in accepted.payload
    assert EMAIL.encode() not in stored(accepted)
    assert "customer_email: not a Meta server-event field (not stored); dropped" in (
        accepted.warnings
    )
    assert "debug: not a Meta server-event field (not stored); dropped" in accepted.warnings
    # A name that is no identifier is not quoted.
    assert "a field that is not a Meta server-event field (not stored); dropped" in (
        accepted.warnings
    )
    assert all("weird" not in w for w in accepted.warnings)


def test_meta_fields_and_the_stored_consent_are_kept() -> None:
    raw = event(
        referrer_url="https://example.com/",
        customer_segmentation="new_customer_to_business",
        _consent={"state": "granted"},
    )
    accepted = clean(raw)
    assert accepted.payload["referrer_url"] == "https://example.com/"
    assert accepted.payload["customer_segmentation"] == "new_customer_to_business"
    assert accepted.payload["_consent"] == {"state": "granted"}
    assert accepted.warnings == ()


def test_a_dropped_field_is_not_blamed_for_a_baseline_failure() -> None:
    raw = event(extra=1, user_data={"ct": "Paris", "em": "not an email"})
    error = rejected(raw)
    assert error.field == "user_data"
    assert "user_data.em" in error.rule
    assert "extra" not in error.rule


# --- contents ------------------------------------------------------------------------------


def test_valid_contents_are_kept_and_decimal_strings_become_numbers() -> None:
    contents = [
        {"id": "SKU-1", "quantity": 2, "item_price": 12.5},
        {"id": 1042, "quantity": "3", "item_price": "7.25", "delivery_category": "curbside"},
        {"id": "SKU-3", "title": "Blue mug", "brand": "Acme", "category": "Kitchen"},
    ]
    raw = purchase(contents=contents)
    original = copy.deepcopy(raw)
    accepted = clean(raw)
    assert accepted.payload["custom_data"]["contents"] == [
        {"id": "SKU-1", "quantity": 2, "item_price": 12.5},
        {"id": 1042, "quantity": 3, "item_price": 7.25, "delivery_category": "curbside"},
        {"id": "SKU-3", "title": "Blue mug", "brand": "Acme", "category": "Kitchen"},
    ]
    assert raw == original  # never modified


@pytest.mark.parametrize(
    ("contents", "field", "words"),
    [
        ([{"id": EMAIL, "quantity": 1}], "custom_data.contents[0].id", "an email address"),
        (
            [{"id": "A"}, {"id": "+1 (650) 555-1212"}],
            "custom_data.contents[1].id",
            "a phone number",
        ),
        ([{"quantity": 1}], "custom_data.contents[0].id", "is required"),
        ([{"id": ""}], "custom_data.contents[0].id", "must not be empty"),
        ([{"id": "x" * 257}], "custom_data.contents[0].id", "at most 256 characters"),
        ([{"id": 1.5}], "custom_data.contents[0].id", "a string or an integer"),
        ([{"id": ["a"]}], "custom_data.contents[0].id", "a string or an integer"),
        ([{"id": "A", "quantity": 1.5}], "custom_data.contents[0].quantity", "an integer"),
        ([{"id": "A", "quantity": -1}], "custom_data.contents[0].quantity", "from 0"),
        ([{"id": "A", "quantity": True}], "custom_data.contents[0].quantity", "an integer"),
        ([{"id": "A", "item_price": "cheap"}], "custom_data.contents[0].item_price", "number"),
        (
            [{"id": "A", "item_price": float("inf")}],
            "custom_data.contents[0].item_price",
            "finite",
        ),
        ([{"id": "A", "item_price": False}], "custom_data.contents[0].item_price", "number"),
        (
            [{"id": "A", "delivery_category": "drone"}],
            "custom_data.contents[0].delivery_category",
            "in_store, curbside, home_delivery",
        ),
        ([{"id": "A", "email": EMAIL}], "custom_data.contents[0].email", "not a contents field"),
        ([{"id": "A", "e mail": 1}], "custom_data.contents[0]", "not a contents field"),
        ([{"id": "A", "title": 3}], "custom_data.contents[0].title", "must be a string"),
        (["SKU-1"], "custom_data.contents[0]", "must be an object"),
        ({"id": "A"}, "custom_data.contents", "must be a list"),
        ([{"id": "A"}] * 1001, "custom_data.contents", "at most 1000"),
    ],
)
def test_bad_contents_are_refused_naming_the_item_and_field(
    contents: object, field: str, words: str
) -> None:
    error = rejected(purchase(contents=contents))
    assert error.field == field
    assert words in error.rule
    assert EMAIL not in error.message
    assert "555" not in error.message


def test_bad_contents_are_refused_in_any_custom_data() -> None:
    # Also where custom_data takes the general validation path (a value given as a string).
    raw = event(event_name="ViewContent", custom_data={"value": "1.5", "contents": [{"id": EMAIL}]})
    assert rejected(raw).field == "custom_data.contents[0].id"


# --- personal data in custom_data ----------------------------------------------------------


def test_email_and_phone_shaped_strings_are_dropped_with_a_message() -> None:
    raw = purchase(
        order_id="ORDER-1042",
        customer=EMAIL,
        note="+33 6 12 34 56 78",
        callback="(650) 555-1212",
        sku_numbers=["12345678901", "+44 20 7946 0958", "A-1"],
        nested={"deep": [{"who": EMAIL.upper()}]},
        content_ids=["1001", "1002"],
    )
    original = copy.deepcopy(raw)
    accepted = clean(raw)
    custom = accepted.payload["custom_data"]
    assert custom == {
        "currency": "USD",
        "value": 10.0,
        "order_id": "ORDER-1042",
        "sku_numbers": ["12345678901", "A-1"],  # plain digits are ids, never phones
        "nested": {"deep": [{}]},
        "content_ids": ["1001", "1002"],
    }
    text = stored(accepted).decode()
    for personal in (EMAIL, EMAIL.upper(), "+33 6 12", "555-1212", "7946"):
        assert personal not in text
    messages = [w for w in accepted.warnings if w.startswith("custom_data")]
    assert messages == [
        f"custom_data.{path}: looks like {shape} (personal data belongs in user_data, hashed;"
        " not stored); dropped"
        for path, shape in [
            ("customer", "an email address"),
            ("note", "a phone number"),
            ("callback", "a phone number"),
            ("sku_numbers[1]", "a phone number"),
            ("nested.deep[0].who", "an email address"),
        ]
    ]
    for message in messages:
        assert "example" not in message and "555" not in message
    assert raw == original  # never modified


def test_custom_data_without_personal_data_is_left_as_is() -> None:
    custom = {"currency": "USD", "value": 1.0, "order_id": "1234567890", "n": [1, {"a": "b"}]}
    out, messages = drop_personal(custom)
    assert out is custom
    assert messages == []


def test_a_personal_shaped_key_drops_its_entry() -> None:
    out, messages = drop_personal({"a": 1, EMAIL: {"x": 1}})
    assert out == {"a": 1}
    assert messages == [
        "custom_data: a key that looks like an email address (personal data belongs in"
        " user_data, hashed; not stored); dropped"
    ]


def test_many_personal_values_give_ten_messages_and_a_count() -> None:
    out, messages = drop_personal({"list": [f"p{i}@example.com" for i in range(25)]})
    assert out == {"list": []}
    assert len(messages) == 11
    assert messages[-1] == (
        "custom_data: 15 more values that look like personal data (not stored); dropped"
    )


def test_deep_nesting_is_walked_without_recursion() -> None:
    deep: dict[str, Any] = {"leaf": EMAIL}
    for _ in range(5000):  # deeper than Python's recursion limit
        deep = {"d": deep}
    out, messages = drop_personal({"x": deep})
    assert len(messages) == 1 and messages[0].endswith(
        " (personal data belongs in user_data, hashed; not stored); dropped"
    )
    node = out["x"]
    for _ in range(5000):
        node = node["d"]
    assert node == {}


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        (EMAIL, "an email address"),
        (" Jane@Example.COM ", "an email address"),
        ("+1 650 555 1212", "a phone number"),
        ("+44 (0)20 7946 0958", "a phone number"),
        ("(650) 555-1212", "a phone number"),
        ("1234567890", None),  # an order id
        ("SKU-555-1212", None),
        ("+1", None),
        ("+12 months", None),
        ("(1) first", None),
        ("a@b", None),
        ("@handle", None),
        ("", None),
    ],
)
def test_personal_shapes(text: str, shape: str | None) -> None:
    assert personal_shape(text) == shape


def test_tidy_contents_copies_only_what_it_changes() -> None:
    contents = [{"id": "A", "quantity": 1}]
    assert tidy_contents(contents) is contents
    changed = [{"id": "A", "item_price": "2.50"}, {"id": "B"}]
    out = tidy_contents(changed)
    assert out == [{"id": "A", "item_price": 2.5}, {"id": "B"}]
    assert changed[0]["item_price"] == "2.50"
    assert out[1] is changed[1]


# --- phones without a country ---------------------------------------------------------------


@pytest.mark.parametrize("phone", ["(650) 555-1212", "6505551212", "16505551212", "650.555.1212"])
def test_a_national_phone_without_a_country_is_not_hashed_and_says_so(phone: str) -> None:
    # It was read as +65 (Singapore) and hashed, silently.
    raw = event(user_data={**event()["user_data"], "ph": phone})
    accepted = clean(raw, country=None)
    assert "ph" not in accepted.payload["user_data"]
    assert sha256_hex("6505551212").encode() not in stored(accepted)
    assert [w for w in accepted.warnings if w.startswith("user_data.ph")] == [
        "user_data.ph: not a phone number in international form (+ and the country code);"
        " the dataset has no default country to complete a national number, so it cannot be"
        " made E.164 and is not hashed; dropped"
    ]


def test_every_national_phone_in_a_list_is_reported() -> None:
    raw = event(user_data={**event()["user_data"], "ph": ["(650) 555-1212", "+1 650 555 1213"]})
    accepted = clean(raw, country=None)
    assert accepted.payload["user_data"]["ph"] == [sha256_hex("16505551213")]
    assert [w.split(":")[0] for w in accepted.warnings] == ["user_data.ph[0]"]


@pytest.mark.parametrize(
    ("phone", "country", "digits"),
    [
        ("(650) 555-1212", "US", "16505551212"),
        ("6505551212", "US", "16505551212"),
        ("+1 650 555 1212", None, "16505551212"),
        ("0044 20 7946 0958", None, "442079460958"),
        ("0912 345 678", "VN", "84912345678"),
    ],
)
def test_phones_with_a_country_or_in_international_form_are_hashed_as_before(
    phone: str, country: str | None, digits: str
) -> None:
    raw = event(user_data={**event()["user_data"], "ph": phone})
    accepted = clean(raw, country=country)
    assert accepted.payload["user_data"]["ph"] == [sha256_hex(digits)]
    assert accepted.warnings == ()


# --- bounded messages ----------------------------------------------------------------------


def test_messages_about_one_event_are_bounded() -> None:
    user_data = {**event()["user_data"], **{f"unknown_{i}": "x" for i in range(500)}}
    accepted = clean(event(user_data=user_data))
    assert len(accepted.warnings) == MAX_MESSAGES + 1
    assert (
        accepted.warnings[-1] == f"{500 - MAX_MESSAGES} more messages about this event, not shown"
    )
    assert len(orjson.dumps(accepted.warnings)) < 10_000
