"""Google's match model: an *estimate* of how well Google Ads can match the conversions
Signalyard sends through the Data Manager API, 0-10, computed by the generic engine
:mod:`signalyard.insights.quality`. It is not a Google number: Google publishes no formula
and no weights.

It counts only what :mod:`signalyard.sinks.google.payload` sends: ``userIdentifiers``
(email through the ``em.gmail`` identity variant, phone through ``ph.e164``: Google's hashing
rules, which Signalyard can apply only to a value that arrived in plaintext), one click id in
``adIdentifiers`` (``gclid``, else ``wbraid``, else ``gbraid``) and the IP address and user
agent as ``eventDeviceInfo``. Google matches on these:

- a click id attributes the conversion to the ad click itself: the strongest signal. A
  ``gclid`` names one click; ``wbraid``/``gbraid`` (iOS, app-to-web and web-to-app) are
  aggregated, not tied to one user, so they weigh less;
- hashed email and phone join the conversion to a signed-in Google user (the weights of
  Meta's table for the same keys, :mod:`signalyard.sinks.meta.quality`, for comparable
  scores);
- IP and user agent are device information, not a join key: a small weight.

=======================  =====  ==============================================================
signal                   p      why
=======================  =====  ==============================================================
gclid                    0.60   one ad click: deterministic attribution (the first click id)
wbraid                   0.35   aggregated click id (web), taken when there is no gclid
gbraid                   0.35   aggregated click id (app), taken when neither is there
email (``em.gmail``)     0.55   the strongest personal key
phone (``ph.e164``)      0.40   second strongest personal key
IP + user agent          0.05   device information only (IP alone 0.03, UA alone 0.01)
=======================  =====  ==============================================================

So a ``gclid`` alone scores 6.0; email alone 5.5; ``gclid`` + email + phone about 8.9.

Not counted: the address identifier. Google matches on an address only with given name,
family name, region code and postal code together, the region and postal code in plaintext;
Signalyard stores ``zp`` and ``country`` only hashed (Meta's rules), so the sink does not
send an address and the model must not reward one (the engine's ``Address(...,
together=True)`` is the rule for it, should the sink ever send one). ``external_id`` and
``fbc``/``fbp`` are not sent either.
"""

from __future__ import annotations

from signalyard.insights.quality import Column, FirstOf, MatchModel, Pair, Single
from signalyard.sinks.match_parts import IP_UA_COLUMNS

__all__ = ["MODEL"]

MODEL = MatchModel(
    title="Estimated Google Ads match quality",
    note="Estimate of how well Google Ads can match these conversions, not a Google score"
    " (Google publishes none); see the model in signalyard.sinks.google.quality"
    " (docs/dashboard.md). Only what Google is sent counts: email and phone only when they"
    " arrived in plaintext (Google hashes them by its own rules), one click id per event.",
    rules=(
        FirstOf((("gclid", 0.60), ("wbraid", 0.35), ("gbraid", 0.35))),
        Single("em.gmail", 0.55),
        Single("ph.e164", 0.40),
        Pair("client_ip_address", "client_user_agent", 0.05, 0.03, 0.01),
    ),
    keys=(
        "gclid",
        "wbraid",
        "gbraid",
        "em.gmail",
        "ph.e164",
        "client_ip_address",
        "client_user_agent",
    ),
    columns=(
        Column("email", ("em.gmail",)),
        Column("phone", ("ph.e164",)),
        Column("gclid", ("gclid",)),
        Column("wbraid", ("wbraid",)),
        Column("gbraid", ("gbraid",)),
        *IP_UA_COLUMNS,
    ),
    advice={
        "em.gmail": (
            0.6,
            "send the customer's email in plaintext when you have it: Google hashes it by its"
            " own rule, which Signalyard can apply only to the plaintext",
        ),
        "ph.e164": (
            0.5,
            "send the phone number in plaintext: Google hashes +E.164, which Signalyard can"
            " make only from the plaintext",
        ),
    },
    customer_keys=frozenset(("em.gmail", "ph.e164")),
)
