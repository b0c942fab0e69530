"""Meta's match model: the weights and text of the estimate the dashboard showed before
models were per platform, so scores (stored rollups included) do not move."""

from __future__ import annotations

import pytest

from signalyard.insights.quality import BIT, MATCH_KEYS, estimate, match_probability, score_of
from signalyard.sinks import REGISTRY
from signalyard.sinks.meta.quality import MODEL


def _before(mask: int) -> float:
    """The model as it was, verbatim: one formula for every dataset."""
    single = {
        "em": 0.55,
        "ph": 0.40,
        "fbc": 0.25,
        "fbp": 0.15,
        "external_id": 0.10,
        "db": 0.04,
        "ge": 0.01,
    }
    miss = 1.0
    for key, p in single.items():
        if mask & BIT[key]:
            miss *= 1.0 - p
    ip, ua = bool(mask & BIT["client_ip_address"]), bool(mask & BIT["client_user_agent"])
    if ip and ua:
        miss *= 1.0 - 0.30
    elif ip:
        miss *= 1.0 - 0.10
    elif ua:
        miss *= 1.0 - 0.02
    fn, ln = bool(mask & BIT["fn"]), bool(mask & BIT["ln"])
    if fn and ln:
        miss *= 1.0 - 0.08
    elif fn or ln:
        miss *= 1.0 - 0.02
    address = sum(1 for k in ("ct", "st", "zp", "country") if mask & BIT[k])
    if address:
        miss *= 1.0 - 0.06 * address / 4
    return 1.0 - miss


def test_the_registry_lists_it() -> None:
    assert REGISTRY["meta"].match_model is MODEL
    assert MODEL.keys == MATCH_KEYS


def test_every_stored_mask_scores_exactly_as_before() -> None:
    # rows stored before (bits 0..14 only): the same probability, to the last bit
    for mask in range(1 << len(MATCH_KEYS)):
        assert match_probability(mask, MODEL) == _before(mask)


def test_signals_of_other_platforms_change_nothing() -> None:
    mask = BIT["em"] | BIT["fbp"]
    extra = BIT["ttp"] | BIT["gclid"] | BIT["ph.e164"] | BIT["em.gmail"] | BIT["ttclid"]
    assert match_probability(mask | extra, MODEL) == match_probability(mask, MODEL)
    masks = {mask: 3, mask | extra: 2, BIT["ttp"]: 1}
    result = estimate(masks, MODEL)
    assert set(result["coverage"]) == set(MATCH_KEYS)
    assert result == estimate({mask: 5, 0: 1}, MODEL)


def test_documented_examples() -> None:
    ip_ua = BIT["client_ip_address"] | BIT["client_user_agent"]
    assert score_of({BIT["em"]: 1}, MODEL) == pytest.approx(5.5)
    assert round(score_of({BIT["em"] | ip_ua | BIT["fbp"]: 1}, MODEL), 1) == 7.3
    assert score_of({ip_ua | BIT["fbp"]: 1}, MODEL) == pytest.approx(4.05)  # "about 4.0"
    assert round(score_of({(1 << len(MATCH_KEYS)) - 1: 1}, MODEL), 1) == 9.1


def test_estimate_of_a_histogram_is_as_before() -> None:
    masks = {BIT["em"]: 1, 0: 1}
    half = estimate(masks, MODEL)
    assert half["score"] == 2.8
    assert half["drivers"] == [{"key": "em", "contribution": 2.75}]
    assert {"key": "em", "gain_if_always_sent": 2.75} in half["suggestions"]
    assert "not Meta's score" in half["note"]


def test_advice_is_about_its_own_keys() -> None:
    assert set(MODEL.advice) == {
        "fbc",
        "fbp",
        "em",
        "ph",
        "external_id",
        "client_ip_address",
        "client_user_agent",
    }
    assert MODEL.advice["fbc"][0] == 0.5 and MODEL.advice["fbp"][0] == 0.8
    assert MODEL.customer_keys == {"em", "ph", "external_id"}
    assert [c.name for c in MODEL.columns] == [
        "em",
        "ph",
        "fbc",
        "fbp",
        "external_id",
        "client_ip_address",
        "client_user_agent",
        "address",
    ]
