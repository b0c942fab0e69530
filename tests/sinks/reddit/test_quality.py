"""Reddit's match model counts only what the sink sends."""

from __future__ import annotations

import pytest

from signalyard.insights.quality import BIT, event_mask, match_probability
from signalyard.sinks.reddit.quality import MODEL

from . import events


def test_the_full_event_and_what_counts() -> None:
    mask = event_mask(events.full())
    assert round(match_probability(mask, MODEL), 3) == 0.759
    assert "em" not in MODEL.keys  # the e-mail is not sent to Reddit
    # An e-mail alone is worth nothing here: it is not sent.
    assert match_probability(BIT["em"], MODEL) == 0.0
    assert match_probability(BIT["ph.e164"], MODEL) == 0.4
    assert match_probability(BIT["ph"], MODEL) == 0.0  # Meta's phone hash is not sent


def test_click_id_and_cookie_count() -> None:
    assert match_probability(BIT["rdt_cid"], MODEL) == pytest.approx(0.25)
    assert match_probability(BIT["rdt_uuid"], MODEL) == pytest.approx(0.15)
    both = BIT["client_ip_address"] | BIT["client_user_agent"]
    assert match_probability(both, MODEL) == pytest.approx(0.3)
    assert match_probability(BIT["client_ip_address"], MODEL) == pytest.approx(0.1)
