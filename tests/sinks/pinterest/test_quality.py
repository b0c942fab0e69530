"""Pinterest's match model over the signals its sink sends."""

from __future__ import annotations

import pytest

from signalyard.insights.quality import BIT, event_mask, match_probability
from signalyard.sinks.pinterest.quality import MODEL

from . import events


def mask(*keys: str) -> int:
    out = 0
    for key in keys:
        out |= BIT[key]
    return out


def test_email_alone_and_every_key() -> None:
    assert match_probability(mask("em"), MODEL) == pytest.approx(0.55)
    assert match_probability(mask(*MODEL.keys), MODEL) == pytest.approx(0.8952, abs=1e-3)


def test_the_epik_click_id_counts_and_meta_s_cookies_do_not() -> None:
    assert match_probability(mask("epik"), MODEL) == pytest.approx(0.25)
    assert match_probability(mask("fbc", "fbp", "ttclid", "gclid"), MODEL) == 0.0


def test_the_full_event_s_mask_scores_what_is_sent() -> None:
    full = match_probability(event_mask(events.full()), MODEL)
    minimal = match_probability(event_mask(events.minimal()), MODEL)
    assert minimal == pytest.approx(0.30)
    assert full == pytest.approx(0.8952, abs=1e-3)  # every key the model counts
