"""GA4's match model: an *estimate* of how well Google can join the events Signalyard sends
through the Measurement Protocol to a browser and to a signed-in Google user, 0-10, computed
by the generic engine :mod:`signalyard.insights.quality`. It is not a Google number: Google
publishes no formula and no weights.

It counts only what :mod:`signalyard.sinks.ga4.payload` sends:

- ``ga``: the client id of the ``_ga`` cookie. It ties the event to the browser's session,
  so GA4 attributes it to the visit's source (and, through it, to a Google Ads click): the
  strongest signal. Without it the sink sends a client id made for the event alone (or
  refuses the event), which joins nothing;
- ``user_data``: the email through the ``em.gmail`` identity variant, the phone through
  ``ph.e164`` (Google's rules, which Signalyard can apply only to a value that arrived in
  plaintext), for GA4's user-provided data: the weights of Meta's table for the same keys
  (:mod:`signalyard.sinks.meta.quality`), for comparable scores;
- ``ip_override``: the IP address, for geolocation only: a small weight.

=======================  =====  ==============================================================
signal                   p      why
=======================  =====  ==============================================================
ga (``_ga`` client id)   0.60   the browser's own GA id: the visit, its source, its session
email (``em.gmail``)     0.55   user-provided data: the strongest personal key
phone (``ph.e164``)      0.40   user-provided data
IP address               0.03   geolocation, not a join key
=======================  =====  ==============================================================

So the client id alone scores 6.0; email alone 5.5; client id + email + phone about 9.2.
Not counted: names, address, ``external_id``, ``fbp``/``fbc``, the user agent, click ids
(the sink sends none of them; a gclid reaches GA4 through the browser's own session).
"""

from __future__ import annotations

from signalyard.insights.quality import Column, MatchModel, Single

__all__ = ["MODEL"]

MODEL = MatchModel(
    title="Estimated GA4 match quality",
    note="Estimate of how well GA4 can join these events to a browser and a Google user, not"
    " a Google score (Google publishes none); see the model in signalyard.sinks.ga4.quality"
    " (docs/dashboard.md). Only what GA4 is sent counts: the _ga client id when the page"
    " passes it, email and phone only when they arrived in plaintext.",
    rules=(
        Single("ga", 0.60),
        Single("em.gmail", 0.55),
        Single("ph.e164", 0.40),
        Single("client_ip_address", 0.03),
    ),
    keys=("ga", "em.gmail", "ph.e164", "client_ip_address"),
    columns=(
        Column("client id", ("ga",)),
        Column("email", ("em.gmail",)),
        Column("phone", ("ph.e164",)),
        Column("IP", ("client_ip_address",)),
    ),
    advice={
        "ga": (
            0.8,
            "the page does not pass the _ga cookie as browser_ids.ga (the Google tag does not"
            " run on every page, or consent was refused): GA4 cannot tie the event to the"
            " visit",
        ),
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
