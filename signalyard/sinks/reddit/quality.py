"""Reddit's match model: an *estimate* of how well Reddit can match the events Signalyard
sends it to Reddit accounts, 0-10, computed by the generic engine
:mod:`signalyard.insights.quality`. It is not a Reddit number: Reddit publishes no
match-quality formula and no weights.

It counts only what :mod:`signalyard.sinks.reddit.payload` sends in ``user`` and beside it:
``email`` (only the ``em.reddit`` identity variant, Reddit's email rule) and ``phone_number``
(only the ``ph.e164`` identity variant: ``+`` and the E.164 digits), both made at ingest from
the plaintext, ``external_id``, ``ip_address`` (hashed when sent) +
``user_agent``, ``click_id`` (the ``rdt_cid`` click id) and ``uuid`` (the ``_rdt_uuid``
cookie). Names and address are not sent, so they do not count.

The weights are Meta's (:mod:`signalyard.sinks.meta.quality`) for the corresponding keys:
with no published formula, borrowing the one transparent table keeps the scores of the
platforms comparable, so a difference between them comes only from what each is sent.
Reddit's click id ``rdt_cid`` takes the weight of Meta's click cookie ``fbc``, its browser
cookie ``_rdt_uuid`` that of ``fbp``:

=======================  =====  ==============================================================
signal                   p      why
=======================  =====  ==============================================================
email (``em.reddit``)    0.55   the strongest personal key
phone (``ph.e164``)      0.40   second strongest personal key
ip + user_agent          0.30   the pair (IP alone 0.10, user agent alone 0.02)
rdt_cid                  0.25   click id: deterministic when the user came from a Reddit ad
rdt_uuid                 0.15   browser id, links to Reddit Pixel traffic
external_id              0.10   advertiser id, helps across the pixel and the API
=======================  =====  ==============================================================

So every key together scores about 8.9, the email alone 5.5, the phone alone 4.0.
"""

from __future__ import annotations

from signalyard.insights.quality import Column, MatchModel, Single
from signalyard.sinks.match_parts import IP_UA, IP_UA_COLUMNS, SHARED_ADVICE

__all__ = ["MODEL"]

MODEL = MatchModel(
    title="Estimated Reddit match quality",
    note="Estimate of how well Reddit can match these events, not a Reddit score (Reddit"
    " publishes none); see the model in signalyard.sinks.reddit.quality (docs/dashboard.md)."
    " Only what Reddit is sent counts: the email and the phone only when they arrived in"
    " plaintext (Reddit hashes both by rules of its own), rdt_uuid only when the page passes"
    " Reddit's _rdt_uuid cookie.",
    rules=(
        Single("em.reddit", 0.55),
        Single("ph.e164", 0.40),
        Single("rdt_cid", 0.25),
        Single("rdt_uuid", 0.15),
        Single("external_id", 0.10),
        IP_UA,
    ),
    keys=(
        "em.reddit",
        "ph.e164",
        "external_id",
        "client_ip_address",
        "client_user_agent",
        "rdt_cid",
        "rdt_uuid",
    ),
    columns=(
        Column("email", ("em.reddit",)),
        Column("phone", ("ph.e164",)),
        Column("rdt_cid", ("rdt_cid",)),
        Column("rdt_uuid", ("rdt_uuid",)),
        Column("external_id", ("external_id",)),
        *IP_UA_COLUMNS,
    ),
    advice={
        "rdt_uuid": (
            0.8,
            "the page does not pass Reddit's _rdt_uuid cookie as browser_ids.rdt_uuid (the"
            " Reddit Pixel does not run on every page, or consent was refused)",
        ),
        "em.reddit": (
            0.6,
            "send the customer's email in plaintext when you have it: Reddit hashes it by a"
            " rule of its own, which Signalyard can apply only to the plaintext",
        ),
        "ph.e164": (
            0.5,
            "send the phone number in plaintext: Reddit hashes +E.164, which Signalyard can"
            " make only from the plaintext (a phone that arrived hashed is not sent)",
        ),
        **SHARED_ADVICE,
    },
    customer_keys=frozenset(("em.reddit", "ph.e164", "external_id")),
)
