from __future__ import annotations

import time
from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalyard.transforms import phone
from signalyard.transforms.hashing import sha256_hex
from signalyard.transforms.normalize import (
    RULES,
    normalize_country,
    normalize_ct,
    normalize_db,
    normalize_em,
    normalize_external_id,
    normalize_fn,
    normalize_ge,
    normalize_ln,
    normalize_ph,
    normalize_st,
    normalize_zp,
    phone_rule,
)

# --- Meta's published examples (reference §3.1, §3.5) -------------------------------------


@pytest.mark.parametrize(
    ("normalizer", "value", "digest"),
    [
        (
            normalize_em,
            "John_Smith@gmail.com",
            "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
        ),
        (
            lambda v: normalize_ph(v, "US"),
            "(650)555-1212",
            "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
        ),
        (
            normalize_country,
            "us",
            "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621",
        ),
        (normalize_fn, "Mary", "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
        (
            normalize_fn,
            "Valéry",
            "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c",
        ),
        (normalize_ln, "정", "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"),
        (
            lambda v: normalize_db(v, 2027),
            "2/16/1997",
            "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c",
        ),
        # The Vietnamese national number, completed with the dataset's country VN.
        (
            lambda v: normalize_ph(v, "VN"),
            "0912 345 678",
            "25cc2f7574420a2d46c9f2d6cf94cdbb242ef7d479afe92ed6e8eb33a7493093",
        ),
    ],
)
def test_meta_examples(normalizer: Callable[[str], str | None], value: str, digest: str) -> None:
    normalized = normalizer(value)
    assert normalized is not None
    assert sha256_hex(normalized) == digest


def test_every_hashed_key_has_a_rule() -> None:
    for key in ("em", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id"):
        assert RULES[key]
    assert "VN" in phone_rule("vn")
    assert "default country" in phone_rule(None)


# --- em ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("John_Smith@gmail.com", "john_smith@gmail.com"),
        ("  A@B.CO \n", "a@b.co"),
        ("user+tag@mail.example.co.uk", "user+tag@mail.example.co.uk"),
        ("Jörg@Exämple.de", "jörg@exämple.de"),
        ("john", None),
        ("john@", None),
        ("@example.com", None),
        ("john@example", None),
        ("john smith@example.com", None),
        ("john@example..com", None),
        ("john@.example.com", None),
        ("john@example.com.", None),
        ("a@b@example.com", None),
        ("", None),
    ],
)
def test_em(value: str, expected: str | None) -> None:
    assert normalize_em(value) == expected


# --- ph ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("0912 345 678", "VN", "84912345678"),
        ("0912345678", "vn", "84912345678"),
        ("84912345678", "VN", "84912345678"),
        ("+84 912 345 678", "US", "84912345678"),
        ("(650)555-1212", "US", "16505551212"),
        ("650.555.1212", "US", "16505551212"),
        ("1-650-555-1212", "US", "16505551212"),
        ("+1 (650) 555-1212", None, "16505551212"),
        ("+1 650 555 1212 ext. 12", "US", "16505551212"),
        ("+44 20 7946 0958", "VN", "442079460958"),
        ("+44 20 7946 0958", None, "442079460958"),
        ("+44 (0)20 7946 0958", "US", "442079460958"),
        ("\uff0b44 20 7946 0958", None, "442079460958"),
        ("020 7946 0958", "GB", "442079460958"),
        ("0044 20 7946 0958", "FR", "442079460958"),  # 00: France's international prefix
        ("0044 20 7946 0958", "US", "442079460958"),  # US dials 011; 00 still understood
        ("011 44 20 7946 0958", "US", "442079460958"),
        ("+39 06 1234 5678", "US", "390612345678"),  # Italian leading zero kept
        ("+7 8 912 345 6789", None, "79123456789"),  # national prefix 8 inside: stripped
        # Without a default country, only the international form is usable: a national
        # number is never read as if its first digits were a country code (65: Singapore).
        ("16505551212", None, None),
        ("(650) 555-1212", None, None),
        ("6505551212", None, None),
        ("650.555.1212", None, None),
        ("0044 20 7946 0958", None, "442079460958"),  # 00: the international prefix
        ("16505551212", "VN", "16505551212"),
        ("1-800-FLOWERS", "US", "18003569377"),
        ("555-1212", "US", None),  # local only: no area code
        ("0912 345 678", None, None),  # national, no default country
        ("12", "US", None),
        ("+999 1234 5678", None, None),  # no such country code
        ("+051234567", None, None),
        ("not a phone", "US", None),
        ("+", "US", None),
        ("00", "US", None),
        ("", "US", None),
        ("1" * 80, "US", None),
        ("16505551212", "ZZ", "16505551212"),  # unknown default country: as international
    ],
)
def test_ph(value: str, country: str | None, expected: str | None) -> None:
    assert normalize_ph(value, country) == expected


def test_ph_parsing_is_cached() -> None:
    # What phonenumbers.parse decides is cached; the fast paths are cheaper than a lookup.
    phone._parse.cache_clear()
    assert normalize_ph("+1 650 555 1212", "US") == "16505551212"  # a fast path
    assert phone._parse.cache_info().currsize == 0
    assert normalize_ph("0912 345 678", "VN") == "84912345678"  # leading 0: parsed
    assert normalize_ph("0912 345 678", "vn") == "84912345678"
    info = phone._parse.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    assert info.maxsize == 65536


# The fast paths must agree with phonenumbers.parse wherever they decide.
_CALLING_CODES = sorted(str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def _international_digits() -> st.SearchStrategy[str]:
    return st.builds(
        lambda cc, rest: cc + rest,
        st.sampled_from(_CALLING_CODES),
        st.text("0123456789", min_size=0, max_size=15),
    )


@settings(max_examples=400, deadline=None)
@given(_international_digits())
def test_fast_international_agrees_with_parse(digits: str) -> None:
    fast = phone._fast_international(digits)
    if fast is not None:
        assert fast == phone._parse("+" + digits, None)


@settings(max_examples=400, deadline=None)
@given(st.text("0123456789", min_size=1, max_size=17), st.sampled_from(_REGIONS))
def test_fast_national_agrees_with_parse(digits: str, region: str) -> None:
    fast = phone._fast_national(digits, region)
    if fast is not None:
        assert fast == phone._parse(digits, region)


def test_fast_paths_agree_with_parse_for_every_calling_code_and_region() -> None:
    for cc in _CALLING_CODES:
        for length in range(4, 16):
            digits = cc + ("23456789" * 2)[:length]
            fast = phone._fast_international(digits)
            if fast is not None:
                assert fast == phone._parse("+" + digits, None), digits
    for region in _REGIONS:
        for digits in ("2345678", "23456789", "234567890", "2345678901", "91234567890"):
            fast = phone._fast_national(digits, region)
            if fast is not None:
                assert fast == phone._parse(digits, region), (digits, region)


def test_the_fast_paths_are_taken_for_common_numbers() -> None:
    assert phone._fast_international("16505551212") == "16505551212"
    assert phone._fast_international("442079460958") == "442079460958"
    assert phone._fast_national("6505551212", "US") == "16505551212"


# --- fn, ln --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mary", "mary"),
        ("  MARY ", "mary"),
        ("Valéry", "valéry"),
        ("Vale\u0301ry", "valéry"),  # decomposed input: NFC
        ("정", "정"),
        ("O'Brien", "obrien"),
        ("Mary-Jane", "maryjane"),
        ("Jean Luc", "jeanluc"),
        ("José María", "josémaría"),
        ("Müller", "müller"),
        ("محمد", "محمد"),
        ("अनुज", "अनुज"),  # combining vowel signs kept
        ("Dr. Smith, Jr.", "drsmithjr"),
        ("!!!", None),
        ("", None),
    ],
)
def test_fn_ln(value: str, expected: str | None) -> None:
    assert normalize_fn(value) == expected
    assert normalize_ln(value) == expected


# --- ge ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("m", "m"),
        ("M", "m"),
        ("male", "m"),
        ("Man", "m"),
        ("Mr.", "m"),
        ("MR", "m"),
        ("f", "f"),
        ("Female", "f"),
        ("woman", "f"),
        ("Mrs.", "f"),
        ("Ms", "f"),
        ("Miss", "f"),
        ("féminin", "f"),
        (" F ", "f"),
        ("x", None),
        ("unknown", None),
        ("", None),
    ],
)
def test_ge(value: str, expected: str | None) -> None:
    assert normalize_ge(value) == expected


# --- db ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("19970216", "19970216"),
        ("1997-02-16", "19970216"),
        ("1997-2-6", "19970206"),
        ("1997/02/16", "19970216"),
        ("1997.02.16", "19970216"),
        ("02/16/1997", "19970216"),  # US month/day/year
        ("2/16/1997", "19970216"),
        ("16/02/1997", "19970216"),  # 16 is no month: day/month/year
        ("03/04/1997", "19970304"),  # ambiguous: US, March 4th
        ("03-04-1997", "19970304"),
        ("16.02.1997", "19970216"),
        ("03.04.1997", "19970403"),  # dots: day.month.year
        ("02.16.1997", "19970216"),  # ... unless the day cannot be a month
        ("1997-02-16T10:30:00Z", "19970216"),
        ("1997-02-16 10:30:00+02:00", "19970216"),
        ("02161997", "19970216"),  # MMDDYYYY
        ("16021997", "19970216"),  # DDMMYYYY
        ("16 Feb 1997", "19970216"),
        ("16 February 1997", "19970216"),
        ("February 16, 1997", "19970216"),
        ("Feb 16th, 1997", "19970216"),
        ("29/02/1996", "19960229"),
        (" 1997-02-16 ", "19970216"),
        ("1900-01-01", "19000101"),
        ("2027-01-01", "20270101"),
        ("29/02/1997", None),  # not a leap year
        ("1997-02-30", None),
        ("1997-13-01", None),
        ("13/13/1997", None),
        ("1899-12-31", None),  # before 1900
        ("2028-01-01", None),  # after the current year
        ("2/16/97", None),  # two-digit year: the century would be a guess
        ("19971302", None),
        ("16 Foo 1997", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_db(value: str, expected: str | None) -> None:
    assert normalize_db(value, 2027) == expected


def test_db_current_year_defaults_to_today() -> None:
    assert normalize_db("19970216") == "19970216"
    assert normalize_db("99990101") is None


# --- ct ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("New York", "newyork"),
        ("newyork", "newyork"),
        ("Zürich", "zürich"),
        ("St. Louis", "stlouis"),
        ("Winston-Salem", "winstonsalem"),
        ("Paris 8", "paris"),
        ("東京", "東京"),
        ("São Paulo", "sãopaulo"),
        ("123", None),
        ("", None),
    ],
)
def test_ct(value: str, expected: str | None) -> None:
    assert normalize_ct(value) == expected


# --- st ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("California", "ca"),
        ("california", "ca"),
        ("new york", "ny"),
        ("NEW YORK", "ny"),
        ("New-York", "ny"),
        ("District of Columbia", "dc"),
        ("Puerto Rico", "pr"),
        ("Québec", "qc"),
        ("Quebec", "qc"),
        ("British Columbia", "bc"),
        ("Newfoundland and Labrador", "nl"),
        ("US-CA", "ca"),
        ("CA", "ca"),
        ("az", "az"),
        ("TX", "tx"),
        ("Bavaria", "bavaria"),
        ("Île-de-France", "îledefrance"),
        ("Nouvelle-Aquitaine", "nouvelleaquitaine"),
        ("...", None),
    ],
)
def test_st(value: str, expected: str | None) -> None:
    assert normalize_st(value) == expected


# --- zp ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("94035", "94035"),
        ("94035-1234", "94035"),
        ("94035 1234", "94035"),
        ("94035+1234", "94035"),
        ("M1 1AE", "m11ae"),
        ("SW1A 2AA", "sw1a2aa"),
        ("K1A 0B1", "k1a0b1"),
        ("123-4567", "1234567"),  # Japan: not a US ZIP+4
        ("75008", "75008"),
        (" 02134 ", "02134"),
        ("---", None),
        ("", None),
    ],
)
def test_zp(value: str, expected: str | None) -> None:
    assert normalize_zp(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("94035 - 1234", "94035"),
        ("94035  1234", "94035"),
        ("94035\t+ 1234", "94035"),
        ("94035 -- 1234", "940351234"),  # two dashes: not a ZIP+4
    ],
)
def test_zp_plus_four_separators(value: str, expected: str) -> None:
    assert normalize_zp(value) == expected


def test_zp_is_linear_on_long_runs_of_spaces() -> None:
    # The ZIP+4 pattern once backtracked quadratically over spaces: 50,000 of them took about
    # 27 s (64 KB, 45 s). Linear, they take about a millisecond: a 5 s bound leaves a margin
    # of thousands on a loaded machine, and the old pattern cannot meet it.
    value = "12345" + " " * 50_000 + "x"
    started = time.perf_counter()
    assert normalize_zp(value) == "12345x"
    assert time.perf_counter() - started < 5


# --- country -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("us", "us"),
        ("US", "us"),
        ("USA", "us"),
        ("usa", "us"),
        ("United States", "us"),
        ("united states of america", "us"),
        ("U.S.A.", "us"),
        ("840", "us"),
        ("Viet Nam", "vn"),
        ("Vietnam", "vn"),
        ("VNM", "vn"),
        ("UK", "gb"),
        ("United Kingdom", "gb"),
        ("Great Britain", "gb"),
        ("GBR", "gb"),
        ("Germany", "de"),
        ("Deutschland", "de"),
        ("Türkiye", "tr"),
        ("Turkey", "tr"),
        ("South Korea", "kr"),
        ("Korea, Republic of", "kr"),
        ("Côte d'Ivoire", "ci"),
        ("  fr ", "fr"),
        ("xx", None),
        ("Atlantis", None),
        ("", None),
    ],
)
def test_country(value: str, expected: str | None) -> None:
    assert normalize_country(value) == expected


# --- external_id ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" Cust-001 ", "Cust-001"),  # trimmed, case kept
        ("ABC", "ABC"),
        ("   ", None),
        ("", None),
    ],
)
def test_external_id(value: str, expected: str | None) -> None:
    assert normalize_external_id(value) == expected


# --- never raise on any text ---------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_normalizers_never_raise(value: str) -> None:
    for normalizer in (
        normalize_em,
        normalize_fn,
        normalize_ge,
        normalize_ct,
        normalize_st,
        normalize_zp,
        normalize_country,
        normalize_external_id,
    ):
        normalizer(value)
    normalize_db(value, 2027)
    normalize_ph(value, "US")
    normalize_ph(value, None)
