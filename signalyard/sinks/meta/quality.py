"""Meta's match model: an *estimate* of Meta's Event Match Quality (EMQ), 0-10, for the
dashboard (what Signalyard sends) and the Meta sandbox (what a platform would see), computed
by the generic engine :mod:`signalyard.insights.quality`.

Meta computes EMQ from which customer-information keys are sent, their quality and the share
of events it matches to an account; it publishes neither the weights nor the formula. This
model is a transparent stand-in so users can see which keys move the score. It is not Meta's
number, and the sandbox and dashboard say so wherever they show it.

============================  =====  ==========================================================
signal                        p      why
============================  =====  ==========================================================
em                            0.55   Meta's highest-value key; median ACR lift about +59 %
ph                            0.40   second strongest personal key
client_ip_address + UA        0.30   the pair, as Meta uses it (IP alone 0.10, UA alone 0.02)
fbc                           0.25   click id: deterministic when the user came from an ad
fbp                           0.15   browser id, links to Pixel traffic
external_id                   0.10   advertiser id, helps across Pixel and CAPI
fn + ln                       0.08   name (one of the two alone 0.02)
ct, st, zp, country           0.06   address, scaled by how many of the four are present
db                            0.04   date of birth
ge                            0.01   gender
============================  =====  ==========================================================

So ``em`` alone scores 5.5; ``em`` + IP + UA + ``fbp`` about 7.3; IP + UA + ``fbp`` (a typical
browser-only forward) about 4.0; every key about 9.1. Only usable values count: ``fbc``/``fbp``
in Meta's cookie format (a hashed ``fbp`` is unusable: Meta needs the cookie as it is), a user
agent that is not a hash (:func:`signalyard.insights.quality.usable_mask`).

The weights and rules are those the dashboard used before models were per platform, in the
same order, so Meta's scores (from stored rollups too) are unchanged.
"""

from __future__ import annotations

from signalyard.insights.quality import Address, Column, MatchModel, Pair, Single
from signalyard.sinks.match_parts import EMAIL_ADVICE, IP_UA, IP_UA_COLUMNS, SHARED_ADVICE

__all__ = ["MODEL"]

MODEL = MatchModel(
    title="Estimated Event Match Quality",
    note="Estimate of Event Match Quality, not Meta's score; see the model in"
    " signalyard.sinks.meta.quality (docs/dashboard.md). Coverage counts only values Meta"
    " can use: a hashed or malformed fbc/fbp, or a hashed user agent, counts as missing"
    " (see Diagnostics).",
    rules=(
        Single("em", 0.55),
        Single("ph", 0.40),
        Single("fbc", 0.25),
        Single("fbp", 0.15),
        Single("external_id", 0.10),
        Single("db", 0.04),
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
        "fbc",
        "fbp",
        "db",
        "ge",
        "ct",
        "st",
        "zp",
        "country",
    ),
    columns=(
        Column("em", ("em",)),
        Column("ph", ("ph",)),
        Column("fbc", ("fbc",)),
        Column("fbp", ("fbp",)),
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
        "fbc": (
            0.5,
            "landing pages lack the script, or redirects drop the fbclid (people who clicked an"
            " ad are not recognised)",
        ),
        "fbp": (
            0.8,
            "the script or the Meta Pixel does not run on every page, or consent was refused",
        ),
        "em": EMAIL_ADVICE,
        "ph": (
            0.5,
            "send the phone number; national numbers are completed with the dataset's country",
        ),
        **SHARED_ADVICE,
    },
    customer_keys=frozenset(("em", "ph", "external_id")),
)
