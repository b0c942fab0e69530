"""LinkedIn's match model counts only what the payload sends: the email hash and li_fat_id."""

from __future__ import annotations

import pytest

from signalyard.insights.quality import BIT, match_probability
from signalyard.sinks.linkedin import SPEC
from signalyard.sinks.linkedin.quality import MODEL


def test_the_spec_carries_the_model() -> None:
    assert SPEC.match_model is MODEL
    assert set(MODEL.keys) == {"em", "li_fat_id"}


@pytest.mark.parametrize(
    ("signals", "score"),
    [
        ((), 0.0),
        (("em",), 0.55),
        (("li_fat_id",), 0.25),
        (("em", "li_fat_id"), 1 - 0.45 * 0.75),
        # not sent to LinkedIn: counts nothing
        (("ph", "fn", "ln", "client_ip_address", "client_user_agent", "ph.e164"), 0.0),
    ],
)
def test_probability(signals: tuple[str, ...], score: float) -> None:
    mask = 0
    for key in signals:
        mask |= BIT[key]
    assert match_probability(mask, MODEL) == pytest.approx(score)
