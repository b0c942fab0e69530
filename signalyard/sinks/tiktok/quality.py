"""TikTok's match model: an *estimate* of how well TikTok can match the events Signalyard
sends it to TikTok accounts, 0-10, computed by the generic engine
:mod:`signalyard.insights.quality`. It is not a TikTok number: TikTok publishes no
match-quality formula and no weights.

It counts only what :mod:`signalyard.sinks.tiktok.payload` sends in ``user``: ``email``
(Meta's ``em`` hashes, the same rule as TikTok's), ``phone`` (only the ``ph.e164`` identity
variant: ``+`` and the E.164 digits, made at ingest from a plaintext phone; a phone that
arrived hashed is not sent), ``external_id``, ``ip`` + ``user_agent``, ``ttclid`` (the
event's own click id) and ``ttp`` (the ``_ttp`` cookie passed on as ``browser_ids``). Names,
address, date of birth and gender are not sent, so they do not count.

The weights are Meta's (:mod:`signalyard.sinks.meta.quality`) for the corresponding keys:
with no published formula, borrowing the one transparent table keeps the scores of the two
platforms comparable, so a difference between them comes only from what each is sent. TikTok's
click id ``ttclid`` takes the weight of Meta's ``fbclid`` cookie ``fbc``, its browser cookie
``ttp`` that of ``fbp``:

=======================  =====  ==============================================================
signal                   p      why
=======================  =====  ==============================================================
email (``em``)           0.55   the strongest personal key
phone (``ph.e164``)      0.40   second strongest personal key
ip + user_agent          0.30   the pair (IP alone 0.10, user agent alone 0.02)
ttclid                   0.25   click id: deterministic when the user came from a TikTok ad
ttp                      0.15   browser id, links to TikTok Pixel traffic
external_id              0.10   advertiser id, helps across Pixel and Events API
=======================  =====  ==============================================================

So ``email`` alone scores 5.5; every key about 8.9. Not counted: a ``ttclid`` TikTok's sink
finds only in ``event_source_url`` (the mask counts the event's own click ids; the browser
script passes the URL's as ``click_ids``, so this rarely matters).
"""

from __future__ import annotations

from signalyard.insights.quality import Column, MatchModel, Single
from signalyard.sinks.match_parts import EMAIL_ADVICE, IP_UA, IP_UA_COLUMNS, SHARED_ADVICE

__all__ = ["MODEL"]

MODEL = MatchModel(
    title="Estimated TikTok match quality",
    note="Estimate of how well TikTok can match these events, not a TikTok score (TikTok"
    " publishes none); see the model in signalyard.sinks.tiktok.quality (docs/dashboard.md)."
    " Only what TikTok is sent counts: the phone only when it arrived in plaintext (TikTok"
    " hashes +E.164), ttp only when the page passes TikTok's _ttp cookie.",
    rules=(
        Single("em", 0.55),
        Single("ph.e164", 0.40),
        Single("ttclid", 0.25),
        Single("ttp", 0.15),
        Single("external_id", 0.10),
        IP_UA,
    ),
    keys=(
        "em",
        "ph.e164",
        "external_id",
        "client_ip_address",
        "client_user_agent",
        "ttclid",
        "ttp",
    ),
    columns=(
        Column("email", ("em",)),
        Column("phone", ("ph.e164",)),
        Column("ttclid", ("ttclid",)),
        Column("ttp", ("ttp",)),
        Column("external_id", ("external_id",)),
        *IP_UA_COLUMNS,
    ),
    advice={
        "ttp": (
            0.8,
            "the page does not pass TikTok's _ttp cookie as browser_ids.ttp (the TikTok Pixel"
            " does not run on every page, or consent was refused)",
        ),
        "em": EMAIL_ADVICE,
        "ph.e164": (
            0.5,
            "send the phone number in plaintext: TikTok hashes +E.164, which Signalyard can"
            " make only from the plaintext (a phone that arrived hashed is not sent)",
        ),
        **SHARED_ADVICE,
    },
    customer_keys=frozenset(("em", "ph.e164", "external_id")),
)
