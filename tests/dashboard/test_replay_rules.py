"""Which dead letters the dashboard replays depends on the destination's kind: its age limit
and the code with which its platform refuses an event as invalid (each kind's spec)."""

from __future__ import annotations

import pytest

from signalyard.dashboard.dead_letters import bulk_rule, replay_of
from signalyard.sinks import REGISTRY
from signalyard.store.base import DeadLetter

NOW = 1_800_000_000.0
DAY = 86400


def dead(*, code: int | None, age_days: float, reason: str = "refused") -> DeadLetter:
    return DeadLetter(
        outbox_id=1,
        destination_id=1,
        event_name="Purchase",
        event_id="order-1",
        event_time=int(NOW - age_days * DAY),
        reason=reason,
        code=code,
        subcode=None,
        attempts=1,
        dead_at=NOW,
    )


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_an_event_refused_as_invalid_is_not_replayed_in_bulk(kind: str) -> None:
    spec = REGISTRY[kind]
    assert spec.invalid_code is not None
    refused = replay_of(dead(code=spec.invalid_code, age_days=1), now=NOW, spec=spec)
    assert refused.one and not refused.in_bulk
    transient = replay_of(dead(code=None, age_days=1), now=NOW, spec=spec)
    assert transient.one and transient.in_bulk
    assert bulk_rule(NOW, spec).skip_code == spec.invalid_code


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_the_age_limit_is_the_kind_s_own(kind: str) -> None:
    spec = REGISTRY[kind]
    days = spec.max_age_seconds / DAY
    assert replay_of(dead(code=None, age_days=days - 1), now=NOW, spec=spec).one
    assert not replay_of(dead(code=None, age_days=days + 1), now=NOW, spec=spec).one
    assert bulk_rule(NOW, spec).min_event_time == int(NOW) - spec.max_age_seconds


def test_a_google_event_ten_days_old_is_still_replayable_a_meta_one_is_not() -> None:
    ten_days = dead(code=None, age_days=10)
    assert replay_of(ten_days, now=NOW, spec=REGISTRY["google"]).one
    assert not replay_of(ten_days, now=NOW, spec=REGISTRY["meta"]).one
