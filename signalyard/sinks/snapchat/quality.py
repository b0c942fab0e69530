"""Snap's match model: an *estimate* of how well Snap can match the events Signalyard sends
it to Snapchatters, 0-10, computed by the generic engine :mod:`signalyard.insights.quality`.
It is not a Snap number: Snap publishes no match-quality formula and no weights.

It counts only what :mod:`signalyard.sinks.snapchat.payload` sends in ``user_data``: ``em``,
``ph`` (Meta's hashes: Snap's rules are the same), ``fn`` + ``ln``, ``ge``, the address keys
``ct``/``st``/``zp``/``country``, ``external_id``, ``client_ip_address`` +
``client_user_agent``, ``sc_click_id`` (the event's own ``ScCid`` click id) and
``sc_cookie1`` (the ``_scid`` cookie passed on as ``browser_ids.scid``). ``db`` is not sent
(not a field of Snap's v3 ``UserData``), so it does not count.

The weights are Meta's (:mod:`signalyard.sinks.meta.quality`) for the corresponding keys:
with no published formula, borrowing the one transparent table keeps the scores of the
platforms comparable, so a difference comes only from what each is sent. Snap's click id
``ScCid`` takes the weight of Meta's ``fbc``, its cookie ``_scid`` that of ``fbp``:

=======================  =====  ==============================================================
signal                   p      why
=======================  =====  ==============================================================
email (``em``)           0.55   the strongest personal key
phone (``ph``)           0.40   second strongest personal key
ip + user_agent          0.30   the pair (IP alone 0.10, user agent alone 0.02); Snap's
                                alternative to a hashed email or phone
ScCid                    0.25   click id: deterministic when the user came from a Snap ad
scid                     0.15   browser id, links to Snap Pixel traffic
external_id              0.10   advertiser id
fn + ln                  0.08   (each alone 0.02)
address                  0.06   ct, st, zp, country, scaled by how many are present
ge                       0.01
=======================  =====  ==============================================================

Not counted: an ``ScCid`` the sink finds only in ``event_source_url`` (the mask counts the
event's own click ids; the browser script passes the URL's as ``click_ids``).
"""

from __future__ import annotations

from signalyard.insights.quality import Address, Column, MatchModel, Pair, Single
from signalyard.sinks.match_parts import EMAIL_ADVICE, IP_UA, IP_UA_COLUMNS, SHARED_ADVICE

__all__ = ["MODEL"]

MODEL = MatchModel(
    title="Estimated Snapchat match quality",
    note="Estimate of how well Snap can match these events, not a Snap score (Snap publishes"
    " none); see the model in signalyard.sinks.snapchat.quality (docs/dashboard.md). Only"
    " what Snap is sent counts: the _scid cookie only when the page passes it as"
    " browser_ids.scid, the click id only when the ScCid parameter was kept.",
    rules=(
        Single("em", 0.55),
        Single("ph", 0.40),
        Single("ScCid", 0.25),
        Single("scid", 0.15),
        Single("external_id", 0.10),
        Single("ge", 0.01),
        IP_UA,
        Pair("fn", "ln", 0.08, 0.02, 0.02),
        Address(("ct", "st", "zp", "country"), 0.06),
    ),
    keys=(
        "em",
        "ph",
        "fn",
        "ln",
        "external_id",
        "client_ip_address",
        "client_user_agent",
        "ScCid",
        "scid",
        "ge",
        "ct",
        "st",
        "zp",
        "country",
    ),
    columns=(
        Column("email", ("em",)),
        Column("phone", ("ph",)),
        Column("ScCid", ("ScCid",)),
        Column("_scid", ("scid",)),
        Column("external_id", ("external_id",)),
        *IP_UA_COLUMNS,
        Column(
            "address",
            ("ct", "st", "zp", "country"),
            id="address",
            title="mean coverage of ct, st, zp, country",
        ),
    ),
    advice={
        "ScCid": (
            0.5,
            "landing pages lack the script, or redirects drop the ScCid parameter (people who"
            " clicked a Snap ad are not recognised)",
        ),
        "scid": (
            0.8,
            "the page does not pass Snap's _scid cookie as browser_ids.scid (the Snap Pixel"
            " does not run on every page, or consent was refused)",
        ),
        "em": EMAIL_ADVICE,
        "ph": (0.5, "send the customer's phone number when you have it"),
        **SHARED_ADVICE,
    },
    customer_keys=frozenset(("em", "ph", "external_id")),
)
