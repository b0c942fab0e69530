"""The generic match-quality engine: the mask of a stored event, the rules, the score,
coverage, drivers and suggestions, with made-up models (no platform's)."""

from __future__ import annotations

import pytest

from signalyard.insights.quality import (
    BIT,
    EXTRA_SIGNALS,
    MATCH_KEYS,
    SIGNALS,
    Address,
    Column,
    FirstOf,
    MatchModel,
    Pair,
    Single,
    estimate,
    event_mask,
    match_probability,
    score_of,
    usable_mask,
)

H = "a" * 64
COOKIE = "fb.1.1700000000000.1234567890"


def model(*rules: Single | Pair | FirstOf | Address, **kw: object) -> MatchModel:
    keys = tuple(dict.fromkeys(k for rule in rules for k in rule.keys))
    columns = kw.pop("columns", (Column(keys[0], (keys[0],)),))
    return MatchModel("Estimated test quality", "an estimate", rules, keys, columns, **kw)  # type: ignore[arg-type]


def test_bits_keep_their_historical_order() -> None:
    # rows stored before the extra signals existed keep their meaning: bits 0..14 unchanged
    assert MATCH_KEYS == (
        "em", "ph", "fn", "ln", "external_id", "client_ip_address", "client_user_agent",
        "fbc", "fbp", "db", "ge", "ct", "st", "zp", "country",
    )  # fmt: skip
    assert [BIT[k] for k in MATCH_KEYS] == [1 << i for i in range(15)]
    assert SIGNALS[15:] == EXTRA_SIGNALS
    assert EXTRA_SIGNALS[:7] == (
        "ttp", "ttclid", "gclid", "gbraid", "wbraid", "ph.e164", "em.gmail"
    )  # fmt: skip
    assert BIT["ttp"] == 1 << 15 and BIT["em.gmail"] == 1 << 21
    # appended after them: the click ids and cookies of Snapchat, Pinterest, Reddit, LinkedIn
    # and GA4
    assert EXTRA_SIGNALS[7:14] == (
        "ScCid", "epik", "rdt_cid", "li_fat_id", "ga", "scid", "rdt_uuid"
    )  # fmt: skip
    assert BIT["rdt_uuid"] == 1 << 28
    assert EXTRA_SIGNALS[14:] == ("em.reddit",)  # Reddit's email rule, added after them


def test_event_mask_reads_the_newer_platforms_ids() -> None:
    event = {
        "user_data": {},
        "_click_ids": {"ScCid": "s", "epik": "e", "rdt_cid": "r", "li_fat_id": "l"},
        "_browser_ids": {"ga": "GA1.1.1.2", "scid": "c", "rdt_uuid": "u"},
    }
    names = ("ScCid", "epik", "rdt_cid", "li_fat_id", "ga", "scid", "rdt_uuid")
    assert event_mask(event) == sum(BIT[n] for n in names)


def test_event_mask_reads_the_fields_kept_outside_user_data() -> None:
    event = {
        "user_data": {"em": [H], "ph": [H], "fbp": COOKIE, "client_user_agent": H},
        "_browser_ids": {"ttp": "ttp-cookie"},
        "_click_ids": {"gclid": "Cj0-click", "fbclid": "IwAR", "ttclid": " "},
        "_identity": {"ph.e164": {H: "b" * 64}, "em.gmail": {H: None}},
    }
    mask = event_mask(event)
    expected = ["em", "ph", "fbp", "ttp", "gclid", "ph.e164"]
    assert mask == sum(BIT[k] for k in expected)
    # the user_data part is usable_mask's (a hashed user agent is not usable)
    assert mask & ((1 << 15) - 1) == usable_mask(event["user_data"])  # type: ignore[arg-type]


def test_event_mask_variants_only_when_made() -> None:
    # a variant counts only when it was computed for the event and left a hash
    base = {"user_data": {"ph": [H], "em": [H]}}
    assert event_mask(base) == BIT["ph"] | BIT["em"]
    made = {**base, "_identity": {"ph.e164": {}, "em.gmail": {}}}  # no entry: the base hash
    assert event_mask(made) == BIT["ph"] | BIT["em"] | BIT["ph.e164"] | BIT["em.gmail"]
    arrived_hashed = {**base, "_identity": {"ph.e164": {H: None}}}
    assert event_mask(arrived_hashed) == BIT["ph"] | BIT["em"]
    assert event_mask({}) == 0
    assert event_mask({"user_data": "nonsense", "_click_ids": ["gclid"]}) == 0


def test_rules() -> None:
    assert Single("em", 0.5).probability(BIT["em"]) == 0.5
    assert Single("em", 0.5).probability(BIT["ph"]) == 0.0
    pair = Pair("client_ip_address", "client_user_agent", 0.3, 0.1, 0.02)
    ip, ua = BIT["client_ip_address"], BIT["client_user_agent"]
    assert [pair.probability(m) for m in (0, ip, ua, ip | ua)] == [0.0, 0.1, 0.02, 0.3]
    first = FirstOf((("gclid", 0.6), ("wbraid", 0.35), ("gbraid", 0.3)))
    assert first.probability(BIT["gbraid"] | BIT["wbraid"]) == 0.35  # one is taken, not both
    assert first.probability(BIT["gclid"] | BIT["wbraid"]) == 0.6
    assert first.probability(0) == 0.0
    scaled = Address(("ct", "st", "zp", "country"), 0.08)
    assert scaled.probability(BIT["ct"] | BIT["zp"]) == pytest.approx(0.04)
    together = Address(("fn", "ln", "zp", "country"), 0.2, together=True)
    three = BIT["fn"] | BIT["ln"] | BIT["zp"]
    assert together.probability(three) == 0.0
    assert together.probability(three | BIT["country"]) == 0.2


def test_probabilities_combine_as_independent_signals() -> None:
    m = model(Single("em", 0.5), Single("ttp", 0.2))
    assert match_probability(0, m) == 0.0
    assert match_probability(BIT["em"] | BIT["ttp"], m) == pytest.approx(1 - 0.5 * 0.8)
    # a signal the model does not use changes nothing
    assert match_probability(BIT["fbp"], m) == 0.0
    assert score_of({BIT["em"]: 1, 0: 1}, m) == pytest.approx(2.5)
    assert score_of({}, m) == 0.0


def test_estimate_covers_only_the_models_keys() -> None:
    m = model(Single("em", 0.5), Single("ttclid", 0.3))
    # fbp and gclid are in the masks but not in the model: not reported, not suggested
    masks = {BIT["em"] | BIT["fbp"]: 1, BIT["gclid"]: 1, BIT["em"]: 2}
    result = estimate(masks, m)
    assert set(result["coverage"]) == {"em", "ttclid"}
    assert result["coverage"] == {"em": 0.75, "ttclid": 0.0}
    assert result["events"] == 4
    assert result["score"] == 3.8  # 10 * 0.75 * 0.5
    assert result["note"] == "an estimate" and result["estimate"] is True
    assert result["drivers"] == [{"key": "em", "contribution": 3.75}]
    assert [s["key"] for s in result["suggestions"]] == ["ttclid", "em"]
    assert estimate({}, m)["score"] == 0.0


def test_a_model_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="unknown signals"):
        model(Single("nope", 0.1))
    with pytest.raises(ValueError, match="keys must list"):
        MatchModel("t", "n", (Single("em", 0.5),), ("em", "ph"), ())
    with pytest.raises(ValueError, match="column"):
        model(Single("em", 0.5), columns=(Column("x", ("ph",)),))
    with pytest.raises(ValueError, match="advice"):
        model(Single("em", 0.5), advice={"ph": (0.5, "why")})


def test_columns_average_their_keys() -> None:
    column = Column("address", ("ct", "zp"), id="address")
    assert column.name == "address" and Column("em", ("em",)).name == "em"
    assert column.coverage({"ct": 1.0, "zp": 0.5}) == 0.75


def test_event_mask_variant_bits_agree_with_what_sinks_read() -> None:
    """The fast pass of event_mask sets a variant's bit exactly when variant_hashes (what a
    sink sends) gives at least one hash."""
    from signalyard.transforms.identity import variant_hashes

    a, b, c = "a" * 64, "b" * 64, "c" * 64
    cases = [
        {"ph": [a]},
        {"ph": [a], "_identity": {"ph.e164": {a: c}}},
        {"ph": [a], "_identity": {"ph.e164": {a: None}}},
        {"ph": [a, b], "_identity": {"ph.e164": {a: None}}},  # b: the variant equals the base
        {"ph": [a], "_identity": {"ph.e164": {}}},
        {"ph": [], "_identity": {"ph.e164": {a: c}}},
        {"em": [a], "_identity": {"em.gmail": {a: ""}}},
        {"em": [a, b], "_identity": {"em.gmail": {a: None, b: c}}},
    ]
    for case in cases:
        identity = case.pop("_identity", None)
        event: dict[str, object] = {"user_data": case}
        if identity is not None:
            event["_identity"] = identity
        for name in ("ph.e164", "em.gmail"):
            expected = bool(variant_hashes(event, name)[0])
            assert bool(event_mask(event) & BIT[name]) == expected, (event, name)


def _reference_mask(event: dict[str, object]) -> int:
    """The mask as first written (a direct reading of the rules), against which the faster
    :func:`event_mask` is checked."""
    import re
    from collections.abc import Mapping

    from signalyard.insights.quality import COOKIE_FORMATS
    from signalyard.transforms.identity import VARIANTS

    hex_digest = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{32}")
    user_data = event.get("user_data")
    if not isinstance(user_data, Mapping):
        return 0
    mask = 0
    for key, value in user_data.items():
        if key not in MATCH_KEYS:
            continue
        cookie = COOKIE_FORMATS.get(key)
        if cookie is not None and (not isinstance(value, str) or not cookie.fullmatch(value)):
            continue
        if key == "client_user_agent" and (
            not isinstance(value, str) or hex_digest.fullmatch(value)
        ):
            continue
        mask |= BIT[key]
    from signalyard.insights import quality

    tables = {
        "_browser_ids": quality._BROWSER_SIGNALS + quality._MORE_BROWSER_SIGNALS,
        "_click_ids": quality._CLICK_SIGNALS + quality._MORE_CLICK_SIGNALS,
    }
    for table, known in tables.items():
        ids = event.get(table)
        if isinstance(ids, Mapping):
            for name, value in ids.items():
                if name in known and isinstance(value, str) and value.strip():
                    mask |= BIT[name]
    identity = event.get("_identity")
    if isinstance(identity, Mapping):
        for name, entries in identity.items():
            if name not in BIT or name not in VARIANTS or not isinstance(entries, Mapping):
                continue
            base = user_data.get(VARIANTS[name].key)
            if isinstance(base, list) and any(
                isinstance(entries.get(h, h), str) and entries.get(h, h) for h in base
            ):
                mask |= BIT[name]
    return mask


def test_event_mask_agrees_with_a_direct_reading_of_its_rules() -> None:
    """Random stored events (valid and invalid values of every signal, in every table, some
    not mappings at all): the optimized mask is the rules' mask, bit for bit."""
    import random

    rng = random.Random(7)
    values: list[object] = [
        H, "b" * 32, COOKIE, "fb.1.17.x.AbCdEfGh", "nope", "", "  ", 3, None, ["x"], {"a": 1},
        "Mozilla/5.0", "A" * 64, "x" + COOKIE, COOKIE + ".x.y", "Mozilla " + H,
    ]  # fmt: skip
    names = [*SIGNALS, "unknown", "em.gmail", "ph.e164"]
    for _ in range(3000):
        event: dict[str, object] = {}
        if rng.random() < 0.95:
            event["user_data"] = {
                rng.choice(names): (
                    [rng.choice([H, "c" * 64, 5, ""]) for _ in range(rng.randrange(3))]
                    if rng.random() < 0.3
                    else rng.choice(values)
                )
                for _ in range(rng.randrange(8))
            }
        else:
            event["user_data"] = rng.choice(values)
        for table in ("_browser_ids", "_click_ids"):
            if rng.random() < 0.6:
                event[table] = (
                    {rng.choice(names): rng.choice(values) for _ in range(rng.randrange(4))}
                    if rng.random() < 0.9
                    else rng.choice(values)
                )
        if rng.random() < 0.6 and isinstance(event["user_data"], dict):
            hashes = [h for v in event["user_data"].values() if isinstance(v, list) for h in v]
            event["_identity"] = {
                rng.choice(["ph.e164", "em.gmail", "em.reddit", "fbp", "zz"]): (
                    {h: rng.choice(["d" * 64, "", 0]) for h in hashes if isinstance(h, str)}
                    if rng.random() < 0.8
                    else rng.choice(values)
                )
                for _ in range(rng.randrange(3))
            }
        assert event_mask(event) == _reference_mask(event), event
