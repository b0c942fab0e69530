from __future__ import annotations

from typing import Any

import pytest

from signalyard.errors import InputError
from signalyard.transforms.hashing import sha256_hex
from signalyard.transforms.user_data import (
    HASHED_KEYS,
    MAX_VALUES_PER_KEY,
    PLAINTEXT_KEYS,
    clean_user_data,
)

from .factory import NOW

EM = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
PH = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"
US = "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"
VN_PHONE = "25cc2f7574420a2d46c9f2d6cf94cdbb242ef7d479afe92ed6e8eb33a7493093"


def clean(user_data: object, country: str | None = "US") -> tuple[dict[str, Any], list[str]]:
    return clean_user_data(user_data, default_country=country, now=NOW)


def test_meta_examples() -> None:
    out, warnings = clean({"em": "John_Smith@gmail.com", "ph": "(650)555-1212", "country": "US"})
    assert out == {"em": [EM], "ph": [PH], "country": [US]}
    assert warnings == []


def test_vietnamese_national_number_uses_the_default_country() -> None:
    out, _ = clean({"ph": "0912 345 678"}, country="vn")
    assert out == {"ph": [VN_PHONE]}


def test_every_hashed_key_is_hashed() -> None:
    raw = {
        "em": "a@b.co",
        "ph": "+14155550100",
        "fn": "Mary",
        "ln": "Smith",
        "db": "1997-02-16",
        "ge": "female",
        "ct": "New York",
        "st": "New York",
        "zp": "10001-1234",
        "country": "United States",
        "external_id": "Cust-1",
    }
    out, warnings = clean(raw)
    assert warnings == []
    assert set(out) == HASHED_KEYS
    expected = {
        "em": "a@b.co",
        "ph": "14155550100",
        "fn": "mary",
        "ln": "smith",
        "db": "19970216",
        "ge": "f",
        "ct": "newyork",
        "st": "ny",
        "zp": "10001",
        "country": "us",
        "external_id": "Cust-1",
    }
    assert out == {key: [sha256_hex(value)] for key, value in expected.items()}


# --- already hashed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (EM, EM),
        (EM.upper(), EM),
        (f"  {EM}  ", EM),
        ("5D41402ABC4B2A76B9719D911017C592", "5d41402abc4b2a76b9719d911017c592"),  # MD5
        (f"{EM.upper()}.AQQCAQMB", f"{EM}.AQQCAQMB"),  # appendix kept as is
        (f"{EM}.Ag", f"{EM}.Ag"),
    ],
)
def test_already_hashed_values_pass_through(given: str, sent: str) -> None:
    for key in HASHED_KEYS:
        out, warnings = clean({key: given})
        assert out == {key: [sent]}, key
        assert warnings == []


def test_never_hashes_twice() -> None:
    raw = {"em": ["John_Smith@gmail.com"], "ph": "(650)555-1212", "fn": "Mary", "country": "us"}
    once, _ = clean(raw)
    twice, warnings = clean(once)
    assert twice == once
    assert warnings == []


# --- lists, numbers, absence ---------------------------------------------------------------


def test_lists_are_normalized_and_deduplicated_in_order() -> None:
    out, warnings = clean(
        {"em": ["b@x.co", "John_Smith@gmail.com", " JOHN_SMITH@GMAIL.COM ", "b@x.co", EM]}
    )
    assert out == {"em": [sha256_hex("b@x.co"), EM]}
    assert warnings == []


def test_output_is_always_a_list() -> None:
    out, _ = clean({"em": "John_Smith@gmail.com"})
    assert out == {"em": [EM]}


@pytest.mark.parametrize(
    ("key", "value", "normalized"),
    [
        ("ph", 16505551212, "16505551212"),
        ("ph", 16505551212.0, "16505551212"),
        ("zp", 94035, "94035"),
        ("zp", 2134, "02134"),  # a US ZIP sent as a number lost its leading zero
        ("external_id", 12345, "12345"),
        ("db", 19970216, "19970216"),
    ],
)
def test_numbers_accepted_where_natural(key: str, value: object, normalized: str) -> None:
    out, warnings = clean({key: value})
    assert out == {key: [sha256_hex(normalized)]}
    assert warnings == []


def test_zip_number_not_padded_outside_the_us() -> None:
    out, _ = clean({"zp": 2134}, country="AU")
    assert out == {"zp": [sha256_hex("2134")]}


@pytest.mark.parametrize("absent", [None, "", "   ", []])
def test_null_and_empty_values_are_absent(absent: object) -> None:
    out, warnings = clean({"em": absent, "fbc": None, "client_user_agent": ""})
    assert out == {}
    assert warnings == []


def test_null_items_in_a_list_are_skipped() -> None:
    out, warnings = clean({"em": [None, "", "John_Smith@gmail.com"]})
    assert out == {"em": [EM]}
    assert warnings == []


# --- unusable values: dropped with a warning that never quotes them --------------------------


@pytest.mark.parametrize(
    ("raw", "country", "warning"),
    [
        (
            {"ph": ["0912"]},
            "VN",
            "user_data.ph[0]: not a phone number that can be completed with the default "
            "country VN; dropped",
        ),
        (
            {"ph": "0912 345 678"},
            None,
            "user_data.ph: not a phone number in international form (+ and the country code);"
            " the dataset has no default country to complete a national number, so it cannot"
            " be made E.164 and is not hashed; dropped",
        ),
        (
            {"em": "john.smith"},
            "US",
            "user_data.em: not an email address (name@domain.tld); dropped",
        ),
        ({"em": ["a@b.co", "nope"]}, "US", "user_data.em[1]: not an email address"),
        ({"ge": "other"}, "US", "user_data.ge: not a recognised gender"),
        ({"db": "31/31/1990"}, "US", "user_data.db: not a date of birth"),
        ({"country": "Atlantis"}, "US", "user_data.country: not a country name"),
        ({"fn": "???"}, "US", "user_data.fn: no letters left"),
        ({"ct": "12345"}, "US", "user_data.ct: no letters left"),
        ({"zp": "--"}, "US", "user_data.zp: no letters or digits left"),
        ({"em": "a\ud800@b.co"}, "US", "user_data.em: not valid Unicode text; dropped"),
    ],
)
def test_unusable_values_are_dropped_with_a_warning(
    raw: dict[str, Any], country: str | None, warning: str
) -> None:
    out, warnings = clean(raw, country)
    assert len(warnings) == 1
    assert warnings[0].startswith(warning)
    assert warnings[0].endswith("; dropped")
    if isinstance(raw.get("em"), list):
        assert out == {"em": [sha256_hex("a@b.co")]}
    else:
        assert out == {}


BAD_PERSONAL_VALUES = {
    "em": "jane.doe.secret",
    "ph": "0912 3",
    "fn": "!!!",
    "ln": "???",
    "db": "1850-07-04",
    "ge": "Jane",
    "ct": "12345",
    "st": "#/#",
    "zp": "---",
    "country": "Janeland",
    "external_id": "   ",
}


def test_warnings_never_contain_the_personal_value() -> None:
    raw = dict(BAD_PERSONAL_VALUES)
    raw["fbc"] = "FB.jane-doe-secret"
    raw["client_user_agent"] = "a" * 64  # looks hashed
    raw["jane_doe@example.com"] = "x"  # a key that is personal data itself
    out, warnings = clean(raw, country="VN")
    assert set(out) == {"fbc", "client_user_agent"}
    assert len(warnings) == 13
    for warning in warnings:
        for value in (*BAD_PERSONAL_VALUES.values(), "jane", "Jane", "0912", "1850", "a" * 64):
            if value.strip():
                assert value not in warning, warning
        assert "example.com" not in warning


# --- plaintext keys ------------------------------------------------------------------------


def test_plaintext_keys_are_kept_as_given() -> None:
    raw = {
        "client_ip_address": "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "client_user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
        "fbc": "fb.1.1554763741205.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk",
        "fbp": "fb.1.1596403881668.1116446470",
        "subscription_id": "sub_123",
        "fb_login_id": 1234567890,
        "lead_id": 1234567890123456,
        "page_id": 987654321,
        "anon_id": "anon-1",
        "madid": "38400000-8cf0-11bd-b23e-10b96e40000d",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4",
    }
    out, warnings = clean(raw)
    assert out == raw
    assert warnings == []


def test_fbc_is_never_lowercased() -> None:
    fbc = "fb.1.1554763741205.AbCdEfGhIjKlMnOp.AQQCAQMB"
    out, warnings = clean({"fbc": f"  {fbc} "})
    assert out == {"fbc": fbc}
    assert warnings == []


@pytest.mark.parametrize("key", ["fbc", "fbp", "client_user_agent", "madid", "anon_id"])
def test_a_plaintext_key_that_looks_hashed_is_kept_with_a_warning(key: str) -> None:
    out, warnings = clean({key: EM})
    assert out == {key: EM}
    assert warnings == [f"user_data.{key}: looks hashed; Meta needs {key} in plaintext"]


@pytest.mark.parametrize(
    "value",
    ["IwAR2F4-dbP0l7Mn1Iaw", "fb.1.abc.IwAR2F4", "fb.1.1554763741205.", "fb.1.155.Iw.AR.2F4"],
)
@pytest.mark.parametrize("key", ["fbc", "fbp"])
def test_malformed_fbc_fbp_are_kept_with_a_warning(key: str, value: str) -> None:
    out, warnings = clean({key: value})
    assert out == {key: value}
    assert warnings == [
        f"user_data.{key}: not in the format fb.<subdomain index>.<creation time>.<value>; kept"
    ]


@pytest.mark.parametrize(
    "ip",
    [
        "203.0.113.7",
        "0.0.0.0",
        "255.255.255.255",
        "::1",
        "2001:db8::1",
        "fe80::1%eth0",
        "203.0.113.7.Ag",
        "2001:db8::1.AQQCAQMB",
    ],
)
def test_valid_ip_addresses(ip: str) -> None:
    out, _ = clean({"client_ip_address": ip})
    assert out == {"client_ip_address": ip}


@pytest.mark.parametrize(
    "ip",
    [
        "256.1.1.1",
        "1.2.3",
        "01.2.3.4",
        "1.2.3.4.5",
        "localhost",
        "2001:db8::g",
        "1.2.3.4.56",
        "1.2.3.4.ab",
    ],
)
def test_invalid_ip_address_is_an_input_error(ip: str) -> None:
    with pytest.raises(InputError) as error:
        clean({"client_ip_address": ip})
    assert error.value.field == "user_data.client_ip_address"
    assert "IPv4 or IPv6" in error.value.rule
    assert ip not in error.value.message


# --- unknown keys --------------------------------------------------------------------------


def test_unknown_keys_are_dropped_with_a_warning() -> None:
    out, warnings = clean({"email": "a@b.co", "em": "a@b.co", "f5first": "maryx"})
    assert out == {"em": [sha256_hex("a@b.co")]}
    assert warnings == [
        "user_data.email: not a Meta customer information key; dropped",
        "user_data.f5first: not a Meta customer information key; dropped",
    ]


def test_every_known_key_is_known() -> None:
    assert HASHED_KEYS.isdisjoint(PLAINTEXT_KEYS)
    assert len(HASHED_KEYS) == 11
    assert len(PLAINTEXT_KEYS) == 16


# --- wrong types ---------------------------------------------------------------------------


@pytest.mark.parametrize("user_data", [None, [], "em=a@b.co", 3])
def test_user_data_must_be_an_object(user_data: object) -> None:
    with pytest.raises(InputError) as error:
        clean(user_data)
    assert error.value.field == "user_data"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"em": 5}, "user_data.em"),
        ({"em": True}, "user_data.em"),
        ({"em": {"value": "a@b.co"}}, "user_data.em"),
        ({"em": ["a@b.co", {"x": 1}]}, "user_data.em[1]"),
        ({"em": ["a@b.co", ["c@d.co"]]}, "user_data.em[1]"),
        ({"ph": True}, "user_data.ph"),
        ({"ph": 1.5}, "user_data.ph"),
        ({"ph": float("nan")}, "user_data.ph"),
        ({"ph": 10**40}, "user_data.ph"),
        ({"ph": [16505551212, 1.5]}, "user_data.ph[1]"),
        ({"country": 840}, "user_data.country"),
        ({"fbc": ["fb.1.2.x"]}, "user_data.fbc"),
        ({"fbc": 123}, "user_data.fbc"),
        ({"client_user_agent": {"ua": "x"}}, "user_data.client_user_agent"),
        ({"client_ip_address": 2130706433}, "user_data.client_ip_address"),
        ({"page_id": True}, "user_data.page_id"),
        ({"page_id": -5}, "user_data.page_id"),
        ({"page_id": 1.5}, "user_data.page_id"),
        ({"lead_id": [1, 2]}, "user_data.lead_id"),
    ],
)
def test_wrong_types_are_input_errors(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as error:
        clean(raw)
    assert error.value.field == field
    assert error.value.code == 100


# --- fast paths agree with the general path ------------------------------------------------


def test_the_year_for_dates_of_birth_follows_now() -> None:
    # The current year is memoized per ``now``: a later call with another ``now`` decides again.
    new_year_2027 = 1_798_761_600.0  # 2027-01-01T00:00:00Z
    birthday = {"db": "20270101"}
    for now, kept in (
        (new_year_2027 - 1, False),
        (new_year_2027, True),
        (new_year_2027 - 1, False),
    ):
        out, warnings = clean_user_data(birthday, default_country="US", now=now)
        assert ("db" in out) is kept
        assert (warnings == []) is kept
    assert clean_user_data({"db": "2027-01-01"}, default_country="US", now=new_year_2027)[0] == {
        "db": [sha256_hex("20270101")]
    }


def test_a_cookie_with_a_hash_like_length_is_not_warned_about() -> None:
    fbc = "fb.1.1554763741205.IwAR0000002a0123456789"  # 41 characters, as a hash may have
    assert len(fbc) == 41
    assert clean({"fbc": fbc, "fbp": fbc}) == ({"fbc": fbc, "fbp": fbc}, [])


@pytest.mark.parametrize(
    ("key", "value", "normalized"),
    [
        ("ct", "  New York ", "newyork"),
        ("ct", "Zürich", "zürich"),
        ("zp", "SW1A 1AA", "sw1a1aa"),
        ("zp", " 94035-1234", "94035"),
        ("fn", " Mary-Jane ", "maryjane"),
        ("db", " 1997-02-29 ", None),
        ("db", "19970230", None),
        ("db", "02/16/1997", "19970216"),
        ("external_id", " Cust-1 ", "Cust-1"),
    ],
)
def test_values_off_the_fast_paths(key: str, value: str, normalized: str | None) -> None:
    out, warnings = clean({key: value})
    if normalized is None:
        assert out == {}
        assert len(warnings) == 1
    else:
        assert out == {key: [sha256_hex(normalized)]}
        assert warnings == []


# --- bounded work: a list holds at most MAX_VALUES_PER_KEY values ---------------------------


def test_a_huge_list_is_refused_naming_the_key_and_the_cap() -> None:
    # 80,000 emails (1.1 MB): once de-duplicated by a scan of the list built so far, which
    # froze the server for 23 s. Now a 400 naming the key and the cap.
    emails = [f"customer.{i}@example.com" for i in range(80_000)]
    with pytest.raises(InputError) as error:
        clean({"em": emails})
    assert error.value.field == "user_data.em"
    assert error.value.rule == (
        f"holds 80000 values; at most {MAX_VALUES_PER_KEY} per key are accepted"
    )
    assert "customer." not in error.value.message


@pytest.mark.parametrize("key", sorted(HASHED_KEYS))
def test_the_cap_is_checked_before_any_value_is_looked_at(key: str) -> None:
    # The first item is of a wrong type: were the list walked before the cap is checked (the
    # work that grows with its length), that item's own error would come first.
    with pytest.raises(InputError) as error:
        clean({key: [{"not": "a value"}] + ["x"] * MAX_VALUES_PER_KEY})
    assert error.value.field == f"user_data.{key}"
    assert str(MAX_VALUES_PER_KEY) in error.value.rule


def test_a_list_at_the_cap_is_cleaned_and_deduplicated_in_order() -> None:
    distinct = [f"c{i}@example.com" for i in range(MAX_VALUES_PER_KEY // 2)]
    values = distinct + list(reversed(distinct))  # every value twice
    assert len(values) == MAX_VALUES_PER_KEY
    out, warnings = clean({"em": values})
    assert out == {"em": [sha256_hex(v) for v in distinct]}
    assert warnings == []


def test_long_values_never_grow_the_caches() -> None:
    from signalyard.transforms import normalize
    from signalyard.transforms.user_data_general import _REPEATED_CACHE

    long_values = {key: "Québec " * 50 + key for key in ("st", "country", "ct", "ge")}
    clean(long_values)
    clean({key: [value] for key, value in long_values.items()})
    for key, value in long_values.items():
        assert value not in _REPEATED_CACHE[key]
        assert value.strip() not in _REPEATED_CACHE[key]
    before = (
        normalize._normalize_st_cached.cache_info().currsize,
        normalize._normalize_country_cached.cache_info().currsize,
    )
    assert normalize.normalize_st("x" * 65 + " California") == ("x" * 65 + "california")
    assert normalize.normalize_country("United States" + " " * 60) == "us"
    after = (
        normalize._normalize_st_cached.cache_info().currsize,
        normalize._normalize_country_cached.cache_info().currsize,
    )
    assert after == before
