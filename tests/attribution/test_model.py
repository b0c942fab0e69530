"""The attribution model against its design (shared reference attribution.md §4.4 default model,
§4.2.1 invariants, §4.8 scenario catalogue): last eligible paid click, per-platform windows in
elapsed seconds (inclusive), a non-direct fallback, lenses that only move the weights, and
conservation (Σ weight = 1, Σ amount = net, exactly)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalyard.attribution.model import (
    LENSES,
    Attribution,
    Click,
    Order,
    Touch,
    attribute,
)

DAY = 86400
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the order's instant
DEFAULT = {"meta": 7 * DAY, "google": 30 * DAY, "tiktok": 7 * DAY}  # platform-default
MAX = {"meta": 28 * DAY, "google": 90 * DAY, "tiktok": 28 * DAY}  # max
KINDS = {"meta": "fbclid", "google": "gclid", "tiktok": "ttclid", "pinterest": "epik"}


def order(net: str = "100.00", kind: str = "web", linked: bool = True) -> Order:
    return Order("o1", T0, "EUR", Decimal(net), kind=kind, linked=linked)


def click(platform: str, ago: float | None, cid: str | None = None, seq: int = 0) -> Click:
    """A click ``ago`` seconds before the order (negative: after it; None: time unknown)."""
    at = None if ago is None else T0 - ago
    return Click(platform, KINDS[platform], cid or f"{platform}-{ago}-{seq}", at, seq)


def touch(channel: str, ago: float, seq: int = 0) -> Touch:
    return Touch(T0 - ago, channel, seq=seq)


def run(
    o: Order,
    clicks: Iterable[Click] = (),
    touches: Iterable[Touch] = (),
    windows: Mapping[str, int] = DEFAULT,
    lens: str = "last_click",
) -> Attribution:
    result = attribute(o, clicks, touches, windows, lens=lens)
    conserved(result)
    return result


def conserved(result: Attribution) -> None:
    """§4.2.1: an order's weights sum to exactly 1, its amounts to exactly its net."""
    assert sum((c.weight for c in result.credits), Decimal(0)) == Decimal(1)
    assert sum((c.amount for c in result.credits), Decimal(0)) == result.order.net
    assert [c.role for c in result.credits].count("primary") <= 1


def why(result: Attribution) -> dict[str, str]:
    return {c.click_id: reason for c, reason in result.not_eligible}


def only(result: Attribution) -> tuple[str, str]:
    """The single credit's role and reason."""
    assert len(result.credits) == 1
    return result.credits[0].role, result.credits[0].reason


# -- the default model ----------------------------------------------------------------------


def test_single_platform_click_in_window() -> None:
    c = click("meta", 2 * DAY + 5)
    result = run(order("59.90"), [c])
    p = result.primary
    assert p is not None and p.click == c and p.platform == "meta"
    assert (p.weight, p.amount, p.reason) == (Decimal(1), Decimal("59.90"), "in_window_last_paid")
    assert p.lag_seconds == 2 * DAY + 5
    assert result.credits == (p,) and result.not_eligible == ()
    assert result.eligible_platforms == {"meta"}


@pytest.mark.parametrize("windows", [DEFAULT, MAX], ids=["platform-default", "max"])
@pytest.mark.parametrize("platform", ["meta", "google", "tiktok"])
def test_click_exactly_at_window_edge_is_eligible(windows: dict[str, int], platform: str) -> None:
    c = click(platform, windows[platform])
    result = run(order(), [c], windows=windows)
    assert result.primary is not None and result.primary.click == c
    assert result.primary.lag_seconds == windows[platform]


@pytest.mark.parametrize("windows", [DEFAULT, MAX], ids=["platform-default", "max"])
@pytest.mark.parametrize("platform", ["meta", "google", "tiktok"])
def test_click_one_second_past_window_is_out_of_window(
    windows: dict[str, int], platform: str
) -> None:
    c = click(platform, windows[platform] + 1)
    result = run(order(), [c], windows=windows)
    assert result.primary is None and result.eligible_platforms == frozenset()
    assert result.not_eligible == ((c, "out_of_window"),)
    assert only(result) == ("unattributed", "clicks_out_of_window")


def test_click_past_window_falls_back_to_landing() -> None:
    c = click("meta", 7 * DAY + 1)
    email = touch("email", 7 * DAY + 1)
    result = run(order(), [c], [email])
    assert only(result) == ("fallback", "fallback_last_non_direct")
    assert result.credits[0].touch == email and result.not_eligible == ((c, "out_of_window"),)


@pytest.mark.parametrize("ago", [0, -1, -3 * DAY], ids=["same-instant", "1s-after", "3d-after"])
def test_click_after_or_at_order_is_never_credited(ago: int) -> None:
    late = click("google", ago)
    alone = run(order(), [late])
    assert alone.primary is None and alone.credits[0].role == "unattributed"
    assert why(alone) == {late.click_id: "after_order"}
    early = click("meta", DAY)  # older, but the only candidate
    result = run(order(), [early, late])
    assert result.primary is not None and result.primary.click == early
    assert result.eligible_platforms == {"meta"} and why(result) == {late.click_id: "after_order"}


def test_meta_then_google_overlap_google_primary_meta_assist() -> None:
    meta, google = click("meta", 3 * DAY, seq=1), click("google", DAY, seq=2)
    result = run(order("80.00"), [google, meta])
    p = result.primary
    assert p is not None and p.click == google and p.amount == Decimal("80.00")
    (assist,) = [c for c in result.credits if c.role == "assist"]
    assert assist.click == meta and assist.platform == "meta"
    assert (assist.weight, assist.amount) == (Decimal(0), Decimal(0))
    assert assist.reason == "assist_in_window"
    assert assist.lag_seconds == 3 * DAY
    assert result.eligible_platforms == {"meta", "google"}


def test_per_platform_windows_older_google_click_wins() -> None:
    meta, google = click("meta", 10 * DAY), click("google", 20 * DAY)
    result = run(order(), [meta, google], windows=DEFAULT)
    assert result.primary is not None and result.primary.click == google
    assert result.eligible_platforms == {"google"}
    assert why(result) == {meta.click_id: "out_of_window"}
    under_max = run(order(), [meta, google], windows=MAX)
    assert under_max.primary is not None and under_max.primary.click == meta
    assert under_max.eligible_platforms == {"meta", "google"}


@pytest.mark.parametrize("lens", ["last_click", "first_click"])
def test_identical_timestamps_lower_seq_is_primary(lens: str) -> None:
    first, second = click("meta", DAY, seq=3), click("google", DAY, seq=7)
    for clicks in ([first, second], [second, first]):
        result = run(order(), clicks, lens=lens)
        assert result.primary is not None and result.primary.click == first


def test_same_click_id_twice_counts_once_at_earliest_time() -> None:
    later, earliest = click("meta", DAY, "fb.1", seq=9), click("meta", 3 * DAY, "fb.1", seq=4)
    for clicks in ([later, earliest], [earliest, later]):
        result = run(order(), clicks, lens="linear")
        assert len(result.credits) == 1 and result.not_eligible == ()
        p = result.primary
        assert p is not None and p.click == earliest and p.lag_seconds == 3 * DAY
        assert p.weight == Decimal(1)
    # the earliest sighting decides eligibility: a later in-window sighting does not revive it
    old = click("meta", 8 * DAY, "fb.1", seq=1)
    result = run(order(), [later, old])
    assert result.primary is None and result.not_eligible == ((old, "out_of_window"),)


def test_click_with_unknown_time_is_never_primary() -> None:
    unknown = click("google", None, seq=5)
    alone = run(order(), [unknown])
    assert alone.primary is None and alone.not_eligible == ((unknown, "time_unknown"),)
    assert alone.credits[0].role == "unattributed"
    older = click("meta", 6 * DAY, seq=1)
    for lens in LENSES:
        result = run(order(), [unknown, older], lens=lens)
        assert result.primary is not None and result.primary.click == older
        assert all(c.click != unknown for c in result.credits)
        assert why(result) == {unknown.click_id: "time_unknown"}
    # a sighting of the same click id with a time gives it that time
    timed = click("google", DAY, unknown.click_id, seq=6)
    result = run(order(), [unknown, timed])
    assert result.primary is not None and result.primary.click == timed


def test_platform_missing_from_windows_is_no_window() -> None:
    pin = click("pinterest", DAY)
    result = run(order(), [pin])
    assert result.primary is None and result.not_eligible == ((pin, "no_window"),)
    assert result.credits[0].role == "unattributed"


# -- no eligible click: fallback and unattributed ---------------------------------------------


def test_fallback_to_email_landing_30_days_before() -> None:
    email = touch("email", 30 * DAY)
    result = run(order("42.00"), [], [email])
    (c,) = result.credits
    assert (c.role, c.reason, c.channel) == ("fallback", "fallback_last_non_direct", "email")
    assert c.platform is None
    assert (c.weight, c.amount, c.touch) == (Decimal(1), Decimal("42.00"), email)
    assert c.lag_seconds == 30 * DAY
    assert result.primary is None and result.eligible_platforms == frozenset()


def test_fallback_direct_landing_later_does_not_displace_email() -> None:
    email, direct = touch("email", 30 * DAY, seq=1), touch("direct", DAY, seq=2)
    result = run(order(), [], [direct, email])
    assert only(result) == ("fallback", "fallback_last_non_direct")
    assert result.credits[0].touch == email and result.credits[0].channel == "email"


def test_fallback_is_the_last_non_direct_landing() -> None:
    email, organic = touch("email", 30 * DAY), touch("organic_search", 2 * DAY)
    result = run(order(), [], [organic, email])
    assert result.credits[0].touch == organic


def test_fallback_ignores_landing_older_than_90_days() -> None:
    stale = touch("email", 90 * DAY + 1)
    result = run(order(), [], [stale])
    assert result.credits[0].role == "unattributed" and result.credits[0].touch is None


def test_only_direct_landings_is_direct_only() -> None:
    result = run(order(), [], [touch("direct", DAY), touch("direct", 40 * DAY, seq=1)])
    assert only(result) == ("unattributed", "direct_only")


def test_touches_given_as_an_iterator_same_reason_as_a_list() -> None:
    touches = [touch("direct", DAY)]
    result = attribute(order(), [], iter(touches), DEFAULT)
    assert only(result) == ("unattributed", "direct_only")


def test_nothing_at_all_linked_order_is_no_touch() -> None:
    assert only(run(order())) == ("unattributed", "no_touch")


def test_nothing_at_all_unlinked_order_is_no_identity() -> None:
    result = run(order(linked=False))
    assert only(result) == ("unattributed", "no_identity")
    assert result.credits[0].amount == Decimal("100.00")


def test_renewal_with_eligible_click_is_renewal_excluded() -> None:
    result = run(order(kind="renewal"), [click("meta", DAY)], [touch("email", DAY)])
    assert only(result) == ("unattributed", "renewal_excluded")
    assert result.primary is None and result.eligible_platforms == frozenset()


@pytest.mark.parametrize("kind", ["draft", "pos", "marketplace"])
def test_non_web_order_is_never_credited(kind: str) -> None:
    result = run(order(kind=kind), [click("google", DAY)], [touch("email", DAY)])
    assert only(result) == ("unattributed", "non_web_order")
    assert result.credits[0].platform is None and result.credits[0].channel is None


# -- lenses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("net", ["100.00", "0.01", "1234567.89", "0"])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("lens", LENSES)
def test_lens_conserves_and_picks_its_primary(lens: str, n: int, net: str) -> None:
    platforms = ["meta", "google", "tiktok"]
    clicks = [click(platforms[i % 3], (n - i) * DAY / 2, seq=i) for i in range(n)]  # oldest first
    result = run(order(net), reversed(clicks), lens=lens)
    sums = (
        sum((c.weight for c in result.credits), Decimal(0)),
        sum((c.amount for c in result.credits), Decimal(0)),
    )
    assert sums == (Decimal(1), Decimal(net))
    assert len(result.credits) == n
    assert {c.click for c in result.credits} == set(clicks)
    assert [c.role for c in result.credits].count("primary") == 1
    assert result.primary is not None
    assert result.primary.click == (clicks[0] if lens == "first_click" else clicks[-1])
    if lens in ("last_click", "first_click"):
        assert result.primary.weight == Decimal(1)
        assert all(c.weight == 0 for c in result.credits if c.role == "assist")


def _weights_oldest_first(result: Attribution) -> list[Decimal]:
    ordered = sorted(result.credits, key=lambda c: (c.click.clicked_at or 0.0) if c.click else 0.0)
    return [c.weight for c in ordered]


def test_position_based_three_clicks_is_40_20_40() -> None:
    clicks = [click("meta", 3 * DAY), click("google", 2 * DAY), click("tiktok", DAY)]
    result = run(order(), clicks, lens="position_based")
    assert _weights_oldest_first(result) == [Decimal("0.4"), Decimal("0.2"), Decimal("0.4")]


def test_linear_three_clicks_amounts_sum_to_net_exactly() -> None:
    clicks = [click("meta", 3 * DAY), click("google", 2 * DAY), click("tiktok", DAY)]
    result = run(order("100.00"), clicks, lens="linear")
    amounts = sorted(c.amount for c in result.credits)
    assert sum(amounts, Decimal(0)) == Decimal("100.00")
    assert amounts == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert all(abs(c.weight - Decimal(1) / 3) <= Decimal("0.000001") for c in result.credits)


def test_time_decay_click_7_days_older_has_half_the_weight() -> None:
    older, newer = click("google", 8 * DAY), click("meta", DAY)
    result = run(order(), [older, newer], lens="time_decay")
    assert result.primary is not None and result.primary.click == newer
    w_old, w_new = _weights_oldest_first(result)
    assert abs(2 * w_old - w_new) <= Decimal("0.000003")  # 1/3 and 2/3, to six decimals
    assert abs(w_old - Decimal(1) / 3) <= Decimal("0.000001")


def test_unknown_lens_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="lens"):
        attribute(order(), [click("meta", DAY)], [], DEFAULT, lens="data_driven")


# -- properties -----------------------------------------------------------------------------


def _expected_eligible(o: Order, clicks: list[Click], windows: Mapping[str, int]) -> set[Click]:
    """An independent reading of §4.4.1-2: each click id once, at its earliest known time."""
    first: dict[tuple[str, str], Click] = {}
    for c in sorted(clicks, key=lambda c: (c.clicked_at is None, c.clicked_at or 0.0, c.seq)):
        first.setdefault((c.platform, c.click_id), c)
    return {
        c
        for c in first.values()
        if c.clicked_at is not None
        and c.clicked_at < o.created_at
        and c.platform in windows
        and o.created_at - c.clicked_at <= windows[c.platform]
    }


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Order, list[Click], list[Touch], dict[str, int]]:
    windows = draw(st.sampled_from([DEFAULT, MAX]))
    edges = [0, 1, -1] + [w + d for w in windows.values() for d in (-1, 0, 1)]
    ago = st.one_of(st.sampled_from(edges), st.integers(-2 * DAY, 100 * DAY))
    o = Order("o", T0, "EUR", Decimal(draw(st.integers(0, 10**7))).scaleb(-2))
    clicks = [
        Click(p, KINDS[p], cid, None if a is None else T0 - a, seq)
        for seq, (p, cid, a) in enumerate(
            draw(
                st.lists(
                    st.tuples(
                        st.sampled_from([*windows, "pinterest"]),
                        st.sampled_from("abcdef"),  # repeats: the same click seen twice
                        st.none() | ago,
                    ),
                    max_size=7,
                )
            )
        )
    ]
    touches = [
        Touch(T0 - a, ch, seq=seq)
        for seq, (ch, a) in enumerate(
            draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(["direct", "email", "organic_search", "referral"]),
                        st.integers(-DAY, 120 * DAY),
                    ),
                    max_size=4,
                )
            )
        )
    ]
    return o, clicks, touches, windows


@settings(max_examples=400, deadline=None)
@given(scenarios(), st.data())
def test_property_every_lens_conserves_and_credits_only_eligible_clicks(
    scenario: tuple[Order, list[Click], list[Touch], dict[str, int]], data: st.DataObject
) -> None:
    o, clicks, touches, windows = scenario
    expected = _expected_eligible(o, clicks, windows)
    shuffled = data.draw(st.permutations(clicks))
    for lens in LENSES:
        result = run(o, clicks, touches, windows, lens=lens)
        assert all(c.amount >= 0 for c in result.credits)
        credited = {c.click for c in result.credits if c.click is not None}
        assert credited == expected
        for c in credited:
            assert c.clicked_at is not None and c.clicked_at < o.created_at
            assert o.created_at - c.clicked_at <= windows[c.platform]
        if expected:
            assert result.primary is not None
            assert result.primary.click == (
                min(expected, key=lambda c: (c.clicked_at or 0.0, c.seq))
                if lens == "first_click"
                else max(expected, key=lambda c: (c.clicked_at or 0.0, -c.seq))
            )
        else:
            assert result.primary is None and len(result.credits) == 1
        assert attribute(o, clicks, touches, windows, lens=lens) == result
        again = attribute(o, shuffled, touches, windows, lens=lens)
        assert again.primary == result.primary
