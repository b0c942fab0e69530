"""What a simulated shopper does, step by step, and the answer each order must get.

A journey is a list of steps, each done on one *device* (a browser: its own ``fbp``), at a UTC
instant. The runner (:mod:`.runner`) sends the steps to a real gateway as the browser script
and the shop would: a :class:`Visit` is a page view (its URL with the ad's click id or UTMs,
its referrer), an :class:`Identify` a page view where the shopper gives an e-mail address
(newsletter, login), a :class:`Purchase` the order (posted by the shop's server, or an
order webhook), a :class:`Refund` money given back on it. ``arrives_at`` lets a step reach the
gateway later than it happened (a late or out-of-order webhook); ``copies`` sends it more
than once (a repeated webhook).

Each order carries its :class:`Expected` answer: the platform whose click must be primary, or
the channel credited by the fallback, or the reason it is unattributed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Expected", "Identify", "Journey", "Purchase", "Refund", "Step", "Visit"]


@dataclass(frozen=True, slots=True)
class Visit:
    at: float
    device: str
    url: str
    referrer: str | None = None
    consent: str = "granted"
    """``granted`` or ``denied`` (the shopper declined ad cookies)."""


@dataclass(frozen=True, slots=True)
class Identify:
    at: float
    device: str
    email: str


@dataclass(frozen=True, slots=True)
class Purchase:
    at: float
    device: str
    order_id: str
    value: str
    """A decimal, as text."""
    currency: str = "EUR"
    email: str | None = None
    kind: str = "website"
    """The Purchase's ``action_source``: ``website``, ``system_generated`` (a renewal)..."""
    carried_clicks: tuple[tuple[str, str], ...] = ()
    """Click ids the order itself carries (cart attributes): (kind, id)."""
    arrives_at: float | None = None
    """When it reaches the gateway (default: when it happened)."""
    copies: int = 1
    via: str = "api"
    """``api`` (the shop's server posts the Purchase) or ``shopify`` (an ``orders/paid``
    webhook: the order id must then be a number; the browser's ``fbp`` and click ids ride in
    its cart attributes)."""


@dataclass(frozen=True, slots=True)
class Refund:
    """Money given back on an order placed through Shopify (a ``refunds/create`` webhook)."""

    at: float
    device: str
    order_id: str
    amount: str
    currency: str


Step = Visit | Identify | Purchase | Refund


@dataclass(frozen=True, slots=True)
class Expected:
    """The answer for one order under the ``platform-default`` windows and the default lens."""

    role: str
    """``primary``, ``fallback`` or ``unattributed``."""
    platform: str | None = None
    channel: str | None = None
    reason: str | None = None
    assists: tuple[str, ...] = ()
    """Platforms with an eligible click that is not the primary."""
    net: str | None = None
    """The order's expected net revenue (a decimal), when the scenario checks it."""
    reason_if_missed: str = ""
    """Why the observed answer may differ from the rule's answer with full observability
    (``identity_unlinked``, ``clickid_lost``, ``consent_denied``): set by the generator for
    orders whose primary click could not reach the gateway or be linked."""


@dataclass(slots=True)
class Journey:
    person: str
    steps: list[Step] = field(default_factory=list)
    expected: dict[str, Expected] = field(default_factory=dict)
    """Order id -> its answer."""
