"""LinkedIn's match model: an *estimate* of how well LinkedIn can match the events Signalyard
sends it to LinkedIn members, 0-10, computed by the generic engine
:mod:`signalyard.insights.quality`. It is not a LinkedIn number: LinkedIn publishes no
match-quality formula and no weights.

It counts only what :mod:`signalyard.sinks.linkedin.payload` sends in ``user.userIds``:
``SHA256_EMAIL`` (Meta's ``em`` hashes: the same rule) and
``LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID`` (the ``li_fat_id`` click id kept in
``_click_ids``). Names, company, title and country (``userInfo``) are not sent (LinkedIn
wants them in plaintext, which Signalyard does not keep), nor phone, IP or user agent
(LinkedIn's ``userIds`` have no type for them), so they do not count.

The weights are Meta's (:mod:`signalyard.sinks.meta.quality`) for the corresponding keys, as
TikTok's model borrows them, so the platforms' scores differ only by what each is sent; the
click id takes the weight of Meta's click cookie ``fbc``:

=======================  =====  ==============================================================
signal                   p      why
=======================  =====  ==============================================================
email (``em``)           0.55   the strongest personal key (a member's login or work email)
li_fat_id                0.25   click id: deterministic when the user came from a LinkedIn ad
=======================  =====  ==============================================================

So ``email`` alone scores 5.5, ``li_fat_id`` alone 2.5, both about 6.6.
"""

from __future__ import annotations

from signalyard.insights.quality import Column, MatchModel, Single

__all__ = ["MODEL"]

MODEL = MatchModel(
    title="Estimated LinkedIn match quality",
    note="Estimate of how well LinkedIn can match these events, not a LinkedIn score (LinkedIn"
    " publishes none); see the model in signalyard.sinks.linkedin.quality (docs/dashboard.md)."
    " Only what LinkedIn is sent counts: the hashed email and LinkedIn's li_fat_id click id.",
    rules=(Single("em", 0.55), Single("li_fat_id", 0.25)),
    keys=("em", "li_fat_id"),
    columns=(Column("email", ("em",)), Column("li_fat_id", ("li_fat_id",))),
    advice={
        "em": (
            0.6,
            "send the customer's email when you have it (checkout, sign-up, CRM): without it"
            " or li_fat_id LinkedIn refuses the event",
        ),
        "li_fat_id": (
            0.5,
            "pass LinkedIn's li_fat_id click id (the li_fat_id URL parameter of a LinkedIn ad"
            " click; enable auto-tagging in Campaign Manager) as click_ids.li_fat_id",
        ),
    },
    customer_keys=frozenset(("em",)),
)
