"""Pinterest's match model: an *estimate* of how well Pinterest can match the events
Signalyard sends it to Pinterest accounts, 0-10, computed by the generic engine
:mod:`signalyard.insights.quality`. It is not a Pinterest number: Pinterest publishes no
match-quality formula and no weights.

It counts only what :mod:`signalyard.sinks.pinterest.payload` sends in ``user_data``: ``em``,
``ph``, ``external_id``, ``fn`` + ``ln``, the address (``ct``, ``st``, ``zp``, ``country``),
``db``, ``ge``, ``client_ip_address`` + ``client_user_agent`` and ``click_id`` (the ``epik``
click id). (``st`` and ``country`` are sent only when their hash is of a two-letter code;
the mask cannot tell, so an ``st`` outside the US and Canada is counted although not sent.)

The weights are Meta's (:mod:`signalyard.sinks.meta.quality`) for the same keys: with no
published formula, borrowing the one transparent table keeps the platforms' scores
comparable, so a difference between them comes only from what each is sent. The ``epik``
click id takes the weight of Meta's click id ``fbc``:

=======================  =====  ==============================================================
signal                   p      why
=======================  =====  ==============================================================
email (``em``)           0.55   the strongest personal key
phone (``ph``)           0.40   second strongest personal key
ip + user_agent          0.30   the pair (IP alone 0.10, user agent alone 0.02)
epik                     0.25   click id: deterministic when the user came from a Pinterest ad
fn + ln                  0.08   the pair (either alone 0.02)
address                  0.06   ct, st, zp, country, scaled by how many are present
external_id              0.10   advertiser id, the same in browser and server
db                       0.04   date of birth
ge                       0.01   gender
=======================  =====  ==============================================================
"""

from __future__ import annotations

from signalyard.insights.quality import Address, Column, MatchModel, Pair, Single
from signalyard.sinks.match_parts import EMAIL_ADVICE, IP_UA, IP_UA_COLUMNS, SHARED_ADVICE

__all__ = ["MODEL"]

MODEL = MatchModel(
    title="Estimated Pinterest match quality",
    note="Estimate of how well Pinterest can match these events, not a Pinterest score"
    " (Pinterest publishes none); see the model in signalyard.sinks.pinterest.quality"
    " (docs/dashboard.md). Only what Pinterest is sent counts: the epik click id only when"
    " the page passes the _epik cookie or the URL's epik parameter.",
    rules=(
        Single("em", 0.55),
        Single("ph", 0.40),
        IP_UA,
        Single("epik", 0.25),
        Pair("fn", "ln", 0.08, 0.02, 0.02),
        Address(("ct", "st", "zp", "country"), 0.06),
        Single("external_id", 0.10),
        Single("db", 0.04),
        Single("ge", 0.01),
    ),
    keys=(
        "em",
        "ph",
        "external_id",
        "fn",
        "ln",
        "ct",
        "st",
        "zp",
        "country",
        "db",
        "ge",
        "client_ip_address",
        "client_user_agent",
        "epik",
    ),
    columns=(
        Column("email", ("em",)),
        Column("phone", ("ph",)),
        Column("epik", ("epik",)),
        Column("external_id", ("external_id",)),
        Column("name", ("fn", "ln"), id="name"),
        Column("address", ("ct", "st", "zp", "country"), id="address"),
        *IP_UA_COLUMNS,
    ),
    advice={
        "epik": (
            0.5,
            "the page does not pass Pinterest's click id (the _epik cookie or the epik URL"
            " parameter) as click_ids.epik",
        ),
        "em": EMAIL_ADVICE,
        "ph": (0.5, "send the customer's phone number with its country code"),
        **SHARED_ADVICE,
    },
    customer_keys=frozenset(("em", "ph", "external_id")),
)
