"""Identity variants (``_identity``): other platforms' hashes made at ingest from the
plaintext, which is never stored. Expected hashes are SHA-256 of the string the platform's
documented rule gives, computed here with hashlib, never by the code under test:

- E.164 with ``+`` (Google Data Manager "Format user data": ``(800)555-0100`` ->
  ``+18005550100``; TikTok Events API: E.164 with ``+``); Meta: the digits only.
- Google's gmail rule (same page): for gmail.com / googlemail.com, no dots before ``@`` and
  no ``+`` and what follows it (``cloudy.sanfrancisco+shopping@gmail.com`` ->
  ``cloudysanfrancisco@gmail.com``); any other domain keeps dots and plus
  (``user.name+NYC@Example.com`` -> ``user.name+nyc@example.com``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalyard.errors import InputError
from signalyard.transforms.identity import (
    VARIANTS,
    build_identity,
    check_variants,
    unavailable,
    variant_hashes,
)
from signalyard.transforms.pipeline import clean_event
from signalyard.transforms.user_data import (
    MAX_VALUES_PER_KEY,
    clean_user_data,
    clean_user_data_with_identity,
)

from .factory import NOW

ALL = ("em.gmail", "ph.e164")  # the variants the tests below were written for


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def event(**user_data: Any) -> dict[str, Any]:
    return {
        "event_name": "Lead",
        "event_time": int(NOW) - 60,
        "event_id": "lead-1",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/thanks",
        "user_data": {"client_ip_address": "203.0.113.7", **user_data},
    }


def cleaned(raw: dict[str, Any], country: str | None = "US", identity: tuple[str, ...] = ALL):
    return clean_event(
        raw,
        dataset_id="1",
        default_country=country,
        now=NOW,
        new_id=lambda: "generated",
        identity=identity,
    )


# (input, default country, Meta's documented form, E.164 with +)
PHONES = [
    ("(650) 555-1212", "US", "16505551212", "+16505551212"),
    ("(800)555-0100", "US", "18005550100", "+18005550100"),
    ("+1 650-555-1212", None, "16505551212", "+16505551212"),
    ("+44 20 7946 0958", "US", "442079460958", "+442079460958"),
    ("0912 345 678", "VN", "84912345678", "+84912345678"),
    ("0044 20 7946 0958", "FR", "442079460958", "+442079460958"),
    (16505551212, "US", "16505551212", "+16505551212"),
]


@pytest.mark.parametrize(("phone", "country", "meta", "e164"), PHONES)
def test_ph_e164_is_the_hash_of_plus_e164_and_the_base_stays_metas(
    phone: object, country: str | None, meta: str, e164: str
) -> None:
    ev = cleaned(event(ph=phone), country)
    assert ev.payload["user_data"]["ph"] == [sha(meta)]
    assert ev.payload["_identity"]["ph.e164"] == {sha(meta): sha(e164)}
    assert variant_hashes(ev.payload, "ph.e164") == ([sha(e164)], 0)


# (input, Meta's documented form (trim, lowercase), Google's form)
EMAILS = [
    ("cloudy.sanfrancisco+shopping@gmail.com", None, "cloudysanfrancisco@gmail.com"),
    ("user.name+NYC@Example.com", "user.name+nyc@example.com", "user.name+nyc@example.com"),
    (" Jo.Hn@GoogleMail.com ", "jo.hn@googlemail.com", "john@googlemail.com"),
    ("J.O.H.N+a+b@Gmail.COM", "j.o.h.n+a+b@gmail.com", "john@gmail.com"),
    ("a.b+c.d@gmail.com", "a.b+c.d@gmail.com", "ab@gmail.com"),
    ("john@gmail.com", "john@gmail.com", "john@gmail.com"),
    ("jo.hn@gmail.co.uk", "jo.hn@gmail.co.uk", "jo.hn@gmail.co.uk"),
    ("jo.hn@mail.gmail.com", "jo.hn@mail.gmail.com", "jo.hn@mail.gmail.com"),
    ("jo.hn@notgmail.com", "jo.hn@notgmail.com", "jo.hn@notgmail.com"),
]


@pytest.mark.parametrize(("email", "meta", "google"), EMAILS)
def test_em_gmail_follows_googles_documented_rule(
    email: str, meta: str | None, google: str
) -> None:
    meta = meta or email.strip().lower()
    ev = cleaned(event(em=email))
    assert ev.payload["user_data"]["em"] == [sha(meta)]
    entries = ev.payload["_identity"]["em.gmail"]
    # Only a variant that differs from the base hash is stored.
    assert entries == ({} if google == meta else {sha(meta): sha(google)})
    assert variant_hashes(ev.payload, "em.gmail") == ([sha(google)], 0)


@pytest.mark.parametrize("email", ["+shop@gmail.com", "..@googlemail.com"])
def test_a_gmail_local_part_left_empty_by_the_rule_is_not_usable_there(email: str) -> None:
    ev = cleaned(event(em=email))
    base = sha(email)
    assert ev.payload["user_data"]["em"] == [base]
    assert ev.payload["_identity"]["em.gmail"] == {base: ""}
    assert variant_hashes(ev.payload, "em.gmail") == ([], 1)
    assert unavailable(ev.payload["_identity"]) == [("em.gmail", 0, 1)]


def test_a_value_that_arrived_hashed_has_no_variant() -> None:
    hashed_phone = sha("16505551212").upper()
    ev = cleaned(event(ph=[hashed_phone, "(650) 555-0000"], em=sha("a@b.com")))
    ph = ev.payload["user_data"]["ph"]
    assert ph == [sha("16505551212"), sha("16505550000")]
    identity = ev.payload["_identity"]
    assert identity["ph.e164"] == {ph[0]: None, ph[1]: sha("+16505550000")}
    assert identity["em.gmail"] == {sha("a@b.com"): None}
    assert variant_hashes(ev.payload, "ph.e164") == ([sha("+16505550000")], 1)
    assert variant_hashes(ev.payload, "em.gmail") == ([], 1)
    assert unavailable(identity) == [("em.gmail", 1, 0), ("ph.e164", 1, 0)]


def test_the_same_value_hashed_and_in_plaintext_keeps_the_plaintexts_variant() -> None:
    ev = cleaned(event(ph=[sha("16505551212"), "(650) 555-1212"]))
    assert ev.payload["user_data"]["ph"] == [sha("16505551212")]
    assert ev.payload["_identity"]["ph.e164"] == {sha("16505551212"): sha("+16505551212")}


def test_values_are_deduplicated_and_bounded_by_the_per_key_cap() -> None:
    phones = [f"+1 650 555 {1000 + i}" for i in range(MAX_VALUES_PER_KEY)]
    ev = cleaned(event(ph=phones))
    assert len(ev.payload["_identity"]["ph.e164"]) == MAX_VALUES_PER_KEY
    with pytest.raises(InputError, match="at most"):
        cleaned(event(ph=[*phones, "+1 650 555 9999"]))
    twice = cleaned(event(em=["A.B@gmail.com", "a.b@gmail.com", "ab@gmail.com"]))
    assert twice.payload["user_data"]["em"] == [sha("a.b@gmail.com"), sha("ab@gmail.com")]
    assert variant_hashes(twice.payload, "em.gmail") == ([sha("ab@gmail.com")], 0)


def test_only_the_variants_asked_for_are_made() -> None:
    ev = cleaned(event(em="jo.hn@gmail.com", ph="(650) 555-1212"), identity=("ph.e164",))
    assert list(ev.payload["_identity"]) == ["ph.e164"]
    # Not computed: a sink needing em.gmail knows it has none, rather than the base hash.
    assert variant_hashes(ev.payload, "em.gmail") == ([], 1)


def test_nothing_asked_leaves_the_event_byte_for_byte_as_before() -> None:
    raw = event(em="Jo.Hn@gmail.com", ph="(650) 555-1212", fn="Jane")
    before = cleaned(raw, identity=())
    assert "_identity" not in before.payload
    assert before.encoded == cleaned(raw, identity=()).encoded
    asked = cleaned(raw)
    assert asked.payload["user_data"] == before.payload["user_data"]
    assert asked.warnings == before.warnings
    without = {k: v for k, v in asked.payload.items() if k != "_identity"}
    assert orjson.dumps(without) == before.encoded


def test_no_key_a_variant_is_made_from_no_identity() -> None:
    raw = event(fn="Jane")
    assert cleaned(raw).encoded == cleaned(raw, identity=()).encoded


def test_a_senders_own_identity_field_is_dropped() -> None:
    forged = {"ph.e164": {sha("16505551212"): sha("+15550000000")}}
    raw = {**event(em="a@b.com"), "_identity": forged}
    for identity in ((), ALL):
        ev = cleaned(raw, identity=identity)
        assert ev.payload.get("_identity", {}).get("ph.e164") is None
        assert any(w.startswith("_identity: not a Meta server-event field") for w in ev.warnings)


def test_the_plaintext_is_never_in_the_event() -> None:
    raw = event(em="Cloudy.SanFrancisco+shopping@gmail.com", ph="(650) 555-1212")
    encoded = cleaned(raw).encoded
    for text in (b"cloudy", b"sanfrancisco", b"shopping", b"@", b"5551212", b"(650)"):
        assert text not in encoded


def test_unknown_variant_names_are_refused() -> None:
    assert check_variants(["ph.e164"]) == frozenset({"ph.e164"})
    with pytest.raises(ValueError, match=r"ph\.digits"):
        check_variants(["ph.e164", "ph.digits"])


def test_build_identity_skips_keys_without_values() -> None:
    assert build_identity(ALL, {"ph": []}) == {}


# The general path that keeps normalized values must clean exactly as clean_user_data does.
_value = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            "  ",
            "Jane.Doe@Example.com",
            "jo.hn+x@gmail.com",
            "+tag@gmail.com",
            "not an email",
            "(650) 555-1212",
            "+44 20 7946 0958",
            "12",
            "0912 345 678",
            sha("x"),
            sha("x").upper(),
            "0" * 32,
            sha("y") + ".AQ",
            "\ud800@x.com",
        ]
    ),
    st.text(max_size=20),
    st.integers(min_value=-(10**12), max_value=10**31),
    st.floats(allow_nan=True),
    st.booleans(),
)
_user_data = st.dictionaries(
    st.sampled_from(["em", "ph", "fn", "zp", "client_ip_address", "other"]),
    st.one_of(_value, st.lists(_value, max_size=4)),
    max_size=4,
)


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except InputError as error:
        return "error", (error.field, error.rule)


@settings(max_examples=400, deadline=None)
@given(_user_data, st.sampled_from([None, "US", "vn"]))
def test_the_identity_path_cleans_as_the_plain_path_does(
    user_data: dict[str, Any], country: str | None
) -> None:
    if user_data.get("client_ip_address") not in (None, ""):
        user_data["client_ip_address"] = "203.0.113.7"
    plain = _outcome(lambda: clean_user_data(user_data, default_country=country, now=NOW))
    both = _outcome(
        lambda: clean_user_data_with_identity(
            user_data, default_country=country, now=NOW, variants=ALL
        )
    )
    if plain[0] == "ok":
        assert both[0] == "ok"
        assert both[1][:2] == plain[1]
        identity = both[1][2]
        for name, entries in identity.items():
            assert set(entries) <= set(plain[1][0][VARIANTS[name].key])
    else:
        assert both == plain


# Reddit's documented rule ("Manual advanced matching"): lowercase; the local part cut at its
# first "+" and stripped of every character that is not a letter or a digit; any domain.
# Its own example: "Al.ice$+Apple@Example.Com" and "alice@example.com" are one person.
REDDIT_EMAILS = [
    ("Al.ice$+Apple@Example.Com", "alice@example.com"),
    ("alice@example.com", "alice@example.com"),
    ("jo_hn-doe.99@Mail.Example.org", "johndoe99@mail.example.org"),
    ("plain@example.com", "plain@example.com"),
]


@pytest.mark.parametrize(("email", "reddit"), REDDIT_EMAILS)
def test_em_reddit_follows_reddits_documented_rule(email: str, reddit: str) -> None:
    ev = cleaned(event(em=email), identity=("em.reddit",))
    base = sha(email.strip().lower())
    assert ev.payload["user_data"]["em"] == [base]
    entries = ev.payload["_identity"]["em.reddit"]
    assert entries == ({} if reddit == email.strip().lower() else {base: sha(reddit)})
    assert variant_hashes(ev.payload, "em.reddit") == ([sha(reddit)], 0)


def test_reddits_example_pair_hashes_alike() -> None:
    one = cleaned(event(em="Al.ice$+Apple@Example.Com"), identity=("em.reddit",))
    two = cleaned(event(em="alice@example.com"), identity=("em.reddit",))
    assert variant_hashes(one.payload, "em.reddit") == variant_hashes(two.payload, "em.reddit")
    left_empty = cleaned(event(em="+$@example.com"), identity=("em.reddit",))
    assert variant_hashes(left_empty.payload, "em.reddit") == ([], 1)
