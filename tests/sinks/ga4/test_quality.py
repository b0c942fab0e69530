"""GA4's match model: an estimate over the signals the sink really sends."""

from __future__ import annotations

import pytest

from signalyard.insights.quality import BIT, estimate, match_probability
from signalyard.sinks.ga4 import SPEC
from signalyard.sinks.ga4.quality import MODEL


def mask(*keys: str) -> int:
    out = 0
    for key in keys:
        out |= BIT[key]
    return out


def test_the_spec_carries_the_model() -> None:
    assert SPEC.match_model is MODEL


@pytest.mark.parametrize(
    ("keys", "score"),
    [
        ((), 0.0),
        (("ga",), 6.0),
        (("em.gmail",), 5.5),
        (("ga", "em.gmail", "ph.e164"), 10 * (1 - 0.4 * 0.45 * 0.6)),
    ],
)
def test_scores(keys: tuple[str, ...], score: float) -> None:
    assert 10 * match_probability(mask(*keys), MODEL) == pytest.approx(score)


def test_what_is_not_sent_does_not_count() -> None:
    for key in ("em", "ph", "fbp", "fbc", "external_id", "gclid", "client_user_agent"):
        assert match_probability(mask(key), MODEL) == 0.0, key


def test_estimate_suggests_the_client_id() -> None:
    result = estimate({mask("em.gmail"): 10}, MODEL)
    assert result["estimate"] is True
    assert result["suggestions"][0]["key"] == "ga"
