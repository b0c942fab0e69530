"""A seeded population of shoppers: ad clicks on the registered platforms, newsletter and
search visits, orders, several devices, e-mail given or not, and signal loss (click ids
stripped from the URL, ad cookies declined). The same seed and settings give the same
journeys, byte for byte.

Each order's expected answer is the rule's answer with **full observability**: the last click,
on any of the person's devices, within its platform's window (``platform-default``), else the
last non-direct landing within 90 days, else unattributed. When that answer depends on
evidence the gateway cannot see or link (a click id stripped, consent declined, a device no
e-mail ties to the order's), the order says why in ``reason_if_missed`` and is not judged
for accuracy: it counts in the degradation figures instead.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from signalyard.attribution.identity import LINK_SETTLE_SECONDS
from signalyard.attribution.model import FALLBACK_SECONDS
from signalyard.simulate.steps import Expected, Identify, Journey, Purchase, Visit

__all__ = ["Population", "generate"]

DAY = 86400.0
SHOP = "https://shop.example.com/"


@dataclass(frozen=True, slots=True)
class Population:
    customers: int = 200
    horizon_days: float = 30.0
    clicks_per_customer: float = 1.5
    """Mean ad clicks per customer (0 to 4 each)."""
    organic_per_customer: float = 1.0
    """Mean non-ad visits (newsletter, search, direct)."""
    purchase_rate: float = 0.6
    """Share of customers who order (once; some twice)."""
    second_device: float = 0.3
    """Share who order on another device than they clicked on."""
    email_capture: float = 0.5
    """Share who give their e-mail on the device they browse with (newsletter, login)."""
    email_at_order: float = 0.8
    """Share of orders placed with an e-mail address."""
    clickid_loss: float = 0.05
    """Share of ad landings whose click id is stripped from the URL (privacy features)."""
    consent_denied: float = 0.05
    """Share of visits made with ad cookies declined."""

    def __post_init__(self) -> None:
        if not 0 < self.customers <= 1_000_000:
            raise ValueError("customers must be between 1 and 1,000,000")
        if not 0 < self.horizon_days <= 365:
            raise ValueError("horizon_days must be between 0 and 365")
        for name in (
            "purchase_rate",
            "second_device",
            "email_capture",
            "email_at_order",
            "clickid_loss",
            "consent_denied",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class _Click:
    at: float
    platform: str
    device: str
    observable: bool
    lost: str


@dataclass(frozen=True, slots=True)
class _Landing:
    at: float
    channel: str
    device: str
    observable: bool


_ORGANIC = (
    ("email", f"{SHOP}?utm_source=newsletter&utm_medium=email", None),
    ("organic_search", SHOP, "https://www.google.com/"),
    ("referral", SHOP, "https://blog.example.net/best-gifts"),
    ("direct", SHOP, None),
)


def generate(
    population: Population,
    *,
    seed: int,
    start: float,
    platforms: Mapping[str, tuple[str, int, str]],
) -> list[Journey]:
    """``platforms``: platform -> (its click id parameter, its ``platform-default`` window in
    seconds, the channel of its clicks), read from the registry by the caller. Times are
    whole seconds (as events carry them)."""
    rng = random.Random(seed)
    horizon = int(population.horizon_days * DAY)
    names = sorted(platforms)
    journeys = []
    for n in range(population.customers):
        person = f"p{n:06d}"
        journey = Journey(person)
        phone, laptop = f"{person}-phone", f"{person}-laptop"
        emailed: dict[str, float] = {}
        """Device -> when it was first seen with the e-mail (an identify, an order)."""
        email = f"{person}@example.org"
        clicks: list[_Click] = []
        landings: list[_Landing] = []
        for _ in range(min(4, _count(rng, population.clicks_per_customer))):
            platform = rng.choice(names)
            param, _window, channel = platforms[platform]
            at = start + rng.randrange(horizon)
            click_id = f"{param[:2]}-{person}-{len(clicks)}-{rng.getrandbits(32):08x}"
            stripped = rng.random() < population.clickid_loss
            denied = rng.random() < population.consent_denied
            url = SHOP if stripped else f"{SHOP}?{param}={click_id}"
            journey.steps.append(
                Visit(at, phone, url, None, consent="denied" if denied else "granted")
            )
            lost = "clickid_lost" if stripped else "consent_denied" if denied else ""
            clicks.append(_Click(at, platform, phone, not lost, lost))
            landings.append(_Landing(at, channel, phone, not lost))
        for _ in range(min(3, _count(rng, population.organic_per_customer))):
            channel, url, referrer = rng.choice(_ORGANIC)
            at = start + rng.randrange(horizon)
            denied = rng.random() < population.consent_denied
            journey.steps.append(
                Visit(at, phone, url, referrer, consent="denied" if denied else "granted")
            )
            landings.append(_Landing(at, channel, phone, not denied))
        captured, at = rng.random() < population.email_capture, start + rng.randrange(horizon)
        if captured:  # drawn either way: other settings keep the same population
            journey.steps.append(Identify(at, phone, email))
            emailed[phone] = at
        placed: list[tuple[float, str, str]] = []
        if rng.random() < population.purchase_rate:
            orders = 2 if rng.random() < 0.15 else 1
            for k in range(orders):
                at = start + rng.randrange(horizon)
                device = laptop if rng.random() < population.second_device else phone
                with_email = rng.random() < population.email_at_order
                if with_email:
                    emailed[device] = min(at, emailed.get(device, at))
                order_id = f"{person}-o{k}"
                value = f"{rng.randint(500, 30000) / 100:.2f}"
                journey.steps.append(
                    Purchase(at, device, order_id, value, email=email if with_email else None)
                )
                placed.append((at, device, order_id))
        for at, device, order_id in placed:
            journey.expected[order_id] = _expected(
                at, device, clicks, landings, platforms, emailed, phone
            )
        journeys.append(journey)
    return journeys


def _count(rng: random.Random, mean: float) -> int:
    """A small count with the given mean (binomial over 8 trials)."""
    p = min(1.0, max(0.0, mean / 8))
    return sum(rng.random() < p for _ in range(8))


def _expected(
    at: float,
    device: str,
    clicks: list[_Click],
    landings: list[_Landing],
    platforms: Mapping[str, tuple[str, int, str]],
    emailed: Mapping[str, float],
    browsing: str,
) -> Expected:
    """The rule with full observability; why the gateway may miss it. The devices are linked
    by the e-mail only when both were seen with it by the order's time plus the settle
    period (a later login does not rewrite history)."""
    settled = at + LINK_SETTLE_SECONDS
    linked = device == browsing or (
        emailed.get(device, math.inf) <= settled and emailed.get(browsing, math.inf) <= settled
    )
    eligible = [c for c in clicks if c.at < at and at - c.at <= platforms[c.platform][1]]
    if eligible:
        primary = max(eligible, key=lambda c: c.at)
        missed = primary.lost or ("" if linked else "identity_unlinked")
        return Expected("primary", platform=primary.platform, reason_if_missed=missed)
    lost = any(not c.observable for c in clicks if c.at < at) or any(
        not t.observable for t in landings if t.at < at
    )
    prior = [t for t in landings if t.at < at and at - t.at <= FALLBACK_SECONDS]
    non_direct = [t for t in prior if t.channel != "direct"]
    missed = "signal_lost" if lost else ("" if linked else "identity_unlinked")
    if not linked and not prior:
        missed = ""
    if non_direct:
        last = max(non_direct, key=lambda t: t.at)
        return Expected("fallback", channel=last.channel, reason_if_missed=missed)
    return Expected("unattributed", reason_if_missed=missed)
