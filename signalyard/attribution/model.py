"""The attribution model, pure: one order and the evidence linked to it in, its credits out.

The default model (docs/attribution.md): the **last eligible paid click**. A click is a
*candidate* when it was made before the order (``clicked_at < created_at``); *eligible* when the
order came within its platform's click window (elapsed seconds, inclusive). The latest eligible
click is the order's **primary** (weight 1); every other eligible click is an **assist**
(weight 0). An order without an eligible click falls back to its last non-direct landing within
:data:`FALLBACK_SECONDS` (its *channel* is credited, ``fallback``), else it is
``unattributed`` with the reason. Renewals and orders not placed on the site are never credited
to a platform.

Lenses share the eligible set and the conservation rules, and only move the weights:
``first_click``, ``linear``, ``position_based`` (40/20/40) and ``time_decay`` (a 7-day
half-life). Whatever the lens, an order's weights sum to exactly 1 and its credited amounts to
exactly its net revenue (:class:`~decimal.Decimal`; rounding remainders go to the primary).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

__all__ = [
    "CHAT_OPENER",
    "DEFAULT_LENS",
    "FALLBACK_SECONDS",
    "LENSES",
    "Attribution",
    "Click",
    "Credit",
    "Order",
    "Touch",
    "attribute",
    "eligible_platforms",
    "shares",
]

FALLBACK_SECONDS = 90 * 86400
"""How far back a non-direct landing may be credited when no click is eligible (GA4's
default lookback)."""
TIME_DECAY_HALF_LIFE = 7 * 86400.0
WEIGHT_QUANTUM = Decimal("0.000001")
"""Weights are kept to six decimals; the remainder goes to the primary."""
AMOUNT_QUANTUM = Decimal("0.01")
"""Credited amounts are kept to cents, split by largest remainder, so an order's credits are
never below zero and sum to its net revenue exactly."""

CHAT_OPENER = "click_to_message_ad"
"""The reason of a chat sale's credit to the ad that opened the chat (no window applies)."""
DEFAULT_LENS = "last_click"
LENSES = ("last_click", "first_click", "linear", "position_based", "time_decay")

WEB = "web"
CHAT = "chat"
CREDITED_KINDS = (WEB, CHAT)
"""Orders a platform may be credited with: placed on the site, or closed in a chat."""
ORDER_KINDS = ("web", "chat", "renewal", "draft", "pos", "marketplace", "offline")
"""Kinds of order that reach the model (test orders never do: they are not revenue)."""

DIRECT = "direct"


@dataclass(frozen=True, slots=True)
class Click:
    """A paid click seen for the order's person: a click id of a registered platform."""

    platform: str
    """The destination kind whose click id this is (``meta``, ``google``...)."""
    kind: str
    """The click id's name (``fbclid``, ``gclid``...)."""
    click_id: str
    clicked_at: float | None
    """UTC seconds; ``None`` when no time is known (such a click is never primary)."""
    seq: int = 0
    """Order of arrival at the gateway (breaks ties between clicks of the same instant)."""
    evidence: str = "event"
    """Where it was seen: ``landing`` (a page's URL), ``order`` (the order's own
    attributes), ``event`` (an event sent with it)."""
    campaign: str | None = None
    """The campaign of the landing it came with (``utm_campaign``), when known."""


@dataclass(frozen=True, slots=True)
class Touch:
    """A landing on the site, classified into a channel (:mod:`.channels`)."""

    at: float
    channel: str
    detail: str = ""
    """What decided the channel: the ``utm_source`` or the referrer's host."""
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    created_at: float
    """UTC seconds."""
    currency: str
    net: Decimal
    """Revenue after refunds and cancellations (never below zero)."""
    kind: str = WEB
    linked: bool = True
    """Whether anything ties the order to a browser or a person (else ``no_identity``)."""
    gross: Decimal | None = None
    """Before refunds and cancellations (``net`` when not given)."""
    opened_by: Click | None = None
    """For a sale closed in a chat: the click on the click-to-message ad that opened the
    chat (the order's own ``ctwa_clid``). It is the primary whatever its age."""


@dataclass(frozen=True, slots=True)
class Credit:
    role: str
    """``primary``, ``assist``, ``fallback`` or ``unattributed``."""
    weight: Decimal
    amount: Decimal
    """``net * weight`` in the order's currency (cents)."""
    reason: str
    platform: str | None = None
    channel: str | None = None
    click: Click | None = None
    touch: Touch | None = None
    lag_seconds: float | None = None
    """From the click or landing to the order."""


@dataclass(frozen=True, slots=True)
class Attribution:
    order: Order
    lens: str
    credits: tuple[Credit, ...]
    not_eligible: tuple[tuple[Click, str], ...] = field(default=())
    """The person's clicks that could not be credited, each with why: ``after_order``,
    ``out_of_window``, ``time_unknown``, ``no_window`` (a platform without a click window in
    the profile)."""

    @property
    def primary(self) -> Credit | None:
        return next((c for c in self.credits if c.role == "primary"), None)

    @property
    def eligible_platforms(self) -> frozenset[str]:
        """Platforms with an eligible click: those that could claim the order by clicks."""
        return frozenset(
            c.platform for c in self.credits if c.platform and c.role in ("primary", "assist")
        )


def attribute(
    order: Order,
    clicks: Iterable[Click],
    touches: Iterable[Touch],
    windows: Mapping[str, int],
    *,
    lens: str = DEFAULT_LENS,
) -> Attribution:
    """Credit ``order`` from the evidence linked to it. ``windows``: platform -> click window
    in seconds (:mod:`.windows`); ``lens``: one of :data:`LENSES`."""
    if lens not in LENSES:
        raise ValueError(f"lens must be one of {', '.join(LENSES)}")
    clicks, touches = tuple(clicks), tuple(touches)  # each read more than once
    if order.kind not in CREDITED_KINDS:
        reason = "renewal_excluded" if order.kind == "renewal" else "non_web_order"
        return Attribution(order, lens, (_unattributed(order, reason),))
    if order.opened_by is not None:
        return _chat(order, clicks, windows, lens)
    eligible, not_eligible = _eligible(order, clicks, windows)
    if eligible:
        return Attribution(order, lens, _click_credits(order, eligible, lens), tuple(not_eligible))
    touch = _fallback_touch(order, touches)
    if touch is not None:
        credit = Credit(
            "fallback",
            Decimal(1),
            order.net,
            "fallback_last_non_direct",
            channel=touch.channel,
            touch=touch,
            lag_seconds=order.created_at - touch.at,
        )
        return Attribution(order, lens, (credit,), tuple(not_eligible))
    return Attribution(
        order,
        lens,
        (_unattributed(order, _why_none(order, touches, not_eligible)),),
        tuple(not_eligible),
    )


def eligible_platforms(
    order: Order, clicks: Iterable[Click], windows: Mapping[str, int]
) -> frozenset[str]:
    """The platforms with an eligible click for ``order`` (what :meth:`Attribution.
    eligible_platforms` gives, without making the credits)."""
    if order.kind not in CREDITED_KINDS:
        return frozenset()
    eligible, _ = _eligible(order, clicks, windows)
    opener = {order.opened_by.platform} if order.opened_by is not None else set()
    return frozenset(c.platform for c in eligible) | opener


def _chat(
    order: Order, clicks: Iterable[Click], windows: Mapping[str, int], lens: str
) -> Attribution:
    """A sale closed in a chat that a click-to-message ad opened: that ad's, whole; the
    person's other eligible clicks assist."""
    opener = order.opened_by
    assert opener is not None
    others = [c for c in clicks if (c.platform, c.click_id) != (opener.platform, opener.click_id)]
    eligible, not_eligible = _eligible(order, others, windows)
    primary = Credit(
        "primary",
        Decimal(1),
        order.net,
        CHAT_OPENER,
        platform=opener.platform,
        click=opener,
    )
    assists = tuple(
        Credit(
            "assist",
            Decimal(0),
            Decimal(0),
            "assist_in_window",
            platform=c.platform,
            click=c,
            lag_seconds=order.created_at - (c.clicked_at or order.created_at),
        )
        for c in eligible
    )
    return Attribution(order, lens, (primary, *assists), tuple(not_eligible))


def _unattributed(order: Order, reason: str) -> Credit:
    return Credit("unattributed", Decimal(1), order.net, reason)


def _why_none(
    order: Order, touches: Iterable[Touch], not_eligible: Sequence[tuple[Click, str]]
) -> str:
    if not_eligible:
        reasons = {why for _, why in not_eligible}
        return "clicks_out_of_window" if "out_of_window" in reasons else "no_eligible_click"
    if not order.linked:
        return "no_identity"
    before = [t for t in touches if t.at < order.created_at]
    if any(t.channel != DIRECT for t in before):
        return "touches_too_old"  # non-direct landings, all over FALLBACK_SECONDS before
    return "direct_only" if before else "no_touch"


def _eligible(
    order: Order, clicks: Iterable[Click], windows: Mapping[str, int]
) -> tuple[list[Click], list[tuple[Click, str]]]:
    """The eligible clicks (one per platform and click id: its earliest sighting), oldest
    first, and the others with why."""
    first: dict[tuple[str, str], Click] = {}
    for click in clicks:
        key = (click.platform, click.click_id)
        seen = first.get(key)
        if seen is None or _earlier(click, seen):
            first[key] = click
    eligible: list[Click] = []
    other: list[tuple[Click, str]] = []
    for click in first.values():
        window = windows.get(click.platform)
        if click.clicked_at is None:
            other.append((click, "time_unknown"))
        elif click.clicked_at >= order.created_at:
            other.append((click, "after_order"))
        elif window is None:
            other.append((click, "no_window"))
        elif order.created_at - click.clicked_at > window:
            other.append((click, "out_of_window"))
        else:
            eligible.append(click)
    eligible.sort(key=lambda c: (c.clicked_at, -c.seq))
    other.sort(key=lambda pair: (pair[0].clicked_at or 0.0, pair[0].seq))
    return eligible, other


def _earlier(a: Click, b: Click) -> bool:
    if a.clicked_at is None:
        return False
    if b.clicked_at is None:
        return True
    return (a.clicked_at, a.seq) < (b.clicked_at, b.seq)


def _fallback_touch(order: Order, touches: Iterable[Touch]) -> Touch | None:
    best: Touch | None = None
    for touch in touches:
        if touch.channel == DIRECT or touch.at >= order.created_at:
            continue
        if order.created_at - touch.at > FALLBACK_SECONDS:
            continue
        if best is None or (touch.at, -touch.seq) > (best.at, -best.seq):
            best = touch
    return best


def _click_credits(order: Order, eligible: Sequence[Click], lens: str) -> tuple[Credit, ...]:
    """``eligible`` is oldest first; the primary is the last (ties: the first to arrive)."""
    weights = _weights(order, eligible, lens)
    primary = len(eligible) - 1
    if lens == "first_click":  # the earliest; of the same instant, the first to arrive
        primary = min(range(len(eligible)), key=lambda i: (eligible[i].clicked_at, eligible[i].seq))
    weights[primary] += Decimal(1) - sum(weights)  # the quantization remainder
    amounts = shares(order.net, weights, primary)
    reason_primary = "in_window_last_paid" if lens == DEFAULT_LENS else f"in_window_{lens}"
    out = []
    for i, click in enumerate(eligible):
        assert click.clicked_at is not None
        out.append(
            Credit(
                "primary" if i == primary else "assist",
                weights[i],
                amounts[i],
                reason_primary if i == primary else "assist_in_window",
                platform=click.platform,
                click=click,
                lag_seconds=order.created_at - click.clicked_at,
            )
        )
    out.sort(key=lambda c: c.role != "primary")
    return tuple(out)


def shares(net: Decimal, weights: Sequence[Decimal], primary: int) -> list[Decimal]:
    """``net`` split by ``weights`` in whole cents, never below zero, summing to ``net``
    exactly: each share rounded down, then the cents left over one each to the largest
    remainders (ties: the primary, then the earlier click)."""
    exact = [net * w for w in weights]
    shares = [e.quantize(AMOUNT_QUANTUM, ROUND_FLOOR) for e in exact]
    left = int((net - sum(shares)) / AMOUNT_QUANTUM)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i != primary, i))
    for i in order[:left]:
        shares[i] += AMOUNT_QUANTUM
    shares[primary] += net - sum(shares)  # a net with fractions of a cent keeps them
    return shares


def _weights(order: Order, eligible: Sequence[Click], lens: str) -> list[Decimal]:
    n = len(eligible)
    raw: list[float]
    if lens == "last_click":
        raw = [0.0] * (n - 1) + [1.0]
    elif lens == "first_click":
        raw = [0.0] * n  # the primary's 1 is added by the caller
    elif lens == "linear":
        raw = [1.0 / n] * n
    elif lens == "position_based":
        raw = [1.0 / n] * n if n <= 2 else [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]
    else:  # time_decay
        decay = [
            0.5 ** ((order.created_at - (c.clicked_at or 0.0)) / TIME_DECAY_HALF_LIFE)
            for c in eligible
        ]
        total = sum(decay)
        raw = [d / total for d in decay]
    return [Decimal(repr(w)).quantize(WEIGHT_QUANTUM, ROUND_HALF_EVEN) for w in raw]
