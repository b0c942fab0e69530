"""The pure parts: charts, the session cookie, the login limiter, formatting."""

from __future__ import annotations

import re

import pytest

from signalyard.clock import FrozenClock
from signalyard.dashboard.charts import MAX_SERIES, compact, nice_top, stacked_bars
from signalyard.dashboard.format import duration, pct, slug, utc
from signalyard.dashboard.session import (
    LoginLimiter,
    Session,
    SessionCodec,
    passwords_match,
    session_key,
)


@pytest.mark.parametrize(
    ("peak", "top", "step"),
    [(0, 1, 1), (3, 3, 1), (7, 8, 2), (10, 10, 5), (37, 40, 10), (1234, 1500, 500)],
)
def test_nice_top(peak: float, top: float, step: float) -> None:
    assert nice_top(peak) == (top, step)


def test_compact() -> None:
    assert [compact(n) for n in (0, 999, 1000, 1234, 2_500_000)] == [
        "0",
        "999",
        "1k",
        "1.2k",
        "2.5M",
    ]


def test_stacked_bars_draws_each_non_zero_segment_with_a_legend() -> None:
    svg = stacked_bars(
        "c1",
        "Events",
        ["a", "b", "c"],
        [("Purchase", [1, 0, 2]), ("Lead", [0, 0, 4]), ("Nothing", [0, 0, 0])],
        y_title="events per hour",
    )
    assert svg.startswith('<figure class="chart" id="c1" data-testid="c1">')
    assert svg.count("<rect") == 3
    assert "<title>Lead, c: 4</title>" in svg
    assert re.findall(r"<li>.*?</li>", svg) == [
        '<li><span class="sw s0"></span>Lead <b>4</b></li>',
        '<li><span class="sw s1"></span>Purchase <b>3</b></li>',
    ]
    assert "Nothing" not in svg
    assert ">events per hour</text>" in svg and ">time (UTC)</text>" in svg


def test_stacked_bars_escapes_names_and_groups_small_series() -> None:
    series = [(f"<script>e{i}</script>", [10 - i]) for i in range(MAX_SERIES + 2)]
    svg = stacked_bars("c2", "T & T", ["08:00"], series, y_title="n")
    assert "<script>" not in svg
    assert "&lt;script&gt;e0&lt;/script&gt;" in svg
    assert "T &amp; T" in svg
    # the 7 largest (10..4) are drawn, the 3 smallest (3 + 2 + 1) are "other"
    assert f'<span class="sw s{MAX_SERIES}"></span>other <b>6</b>' in svg
    assert "e7" not in svg


def test_an_empty_chart_says_so() -> None:
    svg = stacked_bars("c3", "Events", ["a", "b"], [], y_title="n")
    assert "nothing in this window" in svg
    assert "<rect" not in svg


def test_fixed_colours() -> None:
    svg = stacked_bars(
        "c4", "D", ["a"], [("ok", [1]), ("ko", [1])], y_title="n", colours={"ko": "s-bad"}
    )
    assert 'class="s-bad"' in svg and 'class="s0"' in svg


def test_session_round_trip_tampering_and_expiry() -> None:
    codec = SessionCodec(session_key("pw", ""))
    session = Session.logged_in(now=100.0, seconds=60).with_flash("done")
    value = codec.dumps(session)
    assert codec.loads(value, now=159.0) == session
    assert codec.loads(value, now=160.0) is None
    assert codec.loads(value[:-1] + ("A" if value[-1] != "A" else "B"), now=100.0) is None
    body, sig = value.rsplit(".", 1)
    assert codec.loads(body.replace("v1.", "v2.") + "." + sig, now=100.0) is None
    assert codec.loads("", now=0) is None and codec.loads("a.b", now=0) is None
    assert SessionCodec(session_key("other", "")).loads(value, now=100.0) is None


def test_session_keys() -> None:
    assert session_key("pw", "") == session_key("pw", "")  # every process derives the same
    assert session_key("pw", "") != session_key("pw2", "")
    assert session_key("pw", "s") != session_key("pw", "")
    assert session_key("pw", "s") != session_key("pw2", "s")  # a new password ends sessions


def test_passwords_match() -> None:
    assert passwords_match("secret", "secret")
    assert not passwords_match("secre", "secret")
    assert not passwords_match("", "secret")


def test_login_limiter() -> None:
    clock = FrozenClock()
    limiter = LoginLimiter(clock, per_client=2, overall=3, window=60, slow_seconds=1.5)
    limiter.failed("a")
    assert limiter.wait_seconds("a") == 0
    limiter.failed("a")
    assert limiter.wait_seconds("a") == 60
    assert limiter.wait_seconds("b") == 0
    assert limiter.delay_seconds() == 0
    clock.advance(10)
    limiter.failed("b")
    # three failures overall: nobody is refused for it, every attempt is slowed down
    assert limiter.wait_seconds("c") == 0
    assert limiter.delay_seconds() == 1.5
    clock.advance(50)
    assert limiter.wait_seconds("a") == 0
    assert limiter.delay_seconds() == 0  # a's two failures left the window
    limiter.failed("c")
    limiter.succeeded("c")
    assert limiter.wait_seconds("c") == 0
    for _ in range(1000):  # the overall count is kept bounded
        limiter.failed("d")
    assert len(limiter._all) == 3


def test_formatting() -> None:
    assert pct(0.384) == "38%" and pct(None) == "n/a" and pct(0.0556, 1) == "5.6%"
    assert utc(1_800_000_000) == "2027-01-15 08:00 UTC"
    assert [duration(s) for s in (5, 600, 7200, 6 * 86400 + 15 * 3600)] == [
        "5 s",
        "10 min",
        "2 h",
        "6 d 15 h",
    ]
    assert slug("meta backup/EU") == "meta-backup-EU"
