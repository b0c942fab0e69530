"""Match quality *estimates*, 0-10, per dataset, destination kind and event name: a generic
engine, fed by each platform's :class:`MatchModel` (``signalyard/sinks/<kind>/quality.py``,
listed by the sink registry as ``SinkSpec.match_model``). This module names no platform.

No platform publishes how it matches events to its accounts, nor the weights of its keys.
A model is a transparent stand-in so users can see which keys move the score: it is never
the platform's own number, and the dashboard and sandbox say so wherever they show it.

The engine
----------
Each event gets a chance of being matched, built from independent *rules*, each with a match
probability ``p`` when the event carries the rule's signals::

    P(match) = 1 - Π (1 - p_rule)        over the rules the event satisfies
    score    = 10 * mean P(match) over the events received for that name

Rules: :class:`Single` (one signal), :class:`Pair` (two signals worth more together, such as
IP + user agent or first + last name), :class:`FirstOf` (the platform takes one of several,
the first present: click ids) and :class:`Address` (several signals, scaled by how many are
present, or counted only when all are).

The mask
--------
At ingest the statistics recorder stores, per day and event name, a histogram of *masks*:
bit ``i`` set when the stored event carries a usable value of :data:`SIGNALS` ``[i]``
(:func:`event_mask`). Bits 0..14 are the ``user_data`` keys (:data:`MATCH_KEYS`, unchanged
since the first rollups, so stored rows keep their meaning); then the signals the stored
event keeps outside ``user_data`` (:data:`EXTRA_SIGNALS`): a browser cookie passed on as
``_browser_ids``, click ids kept as ``_click_ids``, and the identity variants kept as
``_identity`` (a key hashed by another rule than the base one, which only the plaintext
allows: a value that arrived hashed has none). Every model reads the same histogram.

Only *usable* values count: hashed keys must look hashed (cleaning has hashed them), a cookie
in the format its platform needs (:data:`COOKIE_FORMATS`; a hashed one matches nothing), the
user agent must not be a hash, the IP must parse. Coverage is the share of events that carry
a usable value of a key; *drivers* are the keys whose removal would lower the score most;
*suggestions* are the keys that, added to every event, would raise it most.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from signalyard.transforms.identity import VARIANTS

__all__ = [
    "BIT",
    "EXTRA_SIGNALS",
    "MATCH_KEYS",
    "SIGNALS",
    "Address",
    "Column",
    "FirstOf",
    "MatchModel",
    "Pair",
    "Rule",
    "Single",
    "estimate",
    "event_mask",
    "match_probability",
    "score_of",
    "usable_mask",
]

#: The ``user_data`` keys, bits 0..14 of a mask, in their historical order (never reorder).
MATCH_KEYS: tuple[str, ...] = (
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
)
_BROWSER_SIGNALS: tuple[str, ...] = ("ttp",)
"""Browser ids kept in ``_browser_ids``."""
_CLICK_SIGNALS: tuple[str, ...] = ("ttclid", "gclid", "gbraid", "wbraid")
"""Click ids kept in ``_click_ids`` (``fbclid`` is already in ``fbc``)."""
_VARIANT_SIGNALS: tuple[str, ...] = ("ph.e164", "em.gmail")
"""Identity variants kept in ``_identity`` (:mod:`signalyard.transforms.identity`)."""
_MORE_CLICK_SIGNALS: tuple[str, ...] = ("ScCid", "epik", "rdt_cid", "li_fat_id")
"""Click ids of Snapchat, Pinterest, Reddit and LinkedIn, kept in ``_click_ids`` (bits appended
after the variants: stored masks keep their meaning)."""
_MORE_BROWSER_SIGNALS: tuple[str, ...] = ("ga", "scid", "rdt_uuid")
"""GA4's client id (``_ga`` cookie), Snapchat's ``_scid`` and Reddit's ``_rdt_uuid`` cookies,
kept in ``_browser_ids``."""
_MORE_VARIANT_SIGNALS: tuple[str, ...] = ("em.reddit",)
"""Identity variants added later (bits appended)."""
#: Signals outside ``user_data``: bits 15 and up, appended only (never reorder).
EXTRA_SIGNALS: tuple[str, ...] = (
    _BROWSER_SIGNALS
    + _CLICK_SIGNALS
    + _VARIANT_SIGNALS
    + _MORE_CLICK_SIGNALS
    + _MORE_BROWSER_SIGNALS
    + _MORE_VARIANT_SIGNALS
)
#: Every signal a mask can carry; bit ``i`` of a mask = signal ``i``.
SIGNALS: tuple[str, ...] = MATCH_KEYS + EXTRA_SIGNALS
BIT: dict[str, int] = {key: 1 << i for i, key in enumerate(SIGNALS)}

# fb.<subdomain index>.<creation time>.<value>[.<appendix>] (what the sandbox accepts too).
_FB_COOKIE = re.compile(r"fb\.[0-9]+\.[0-9]+\.[^.]+(?:\.[A-Za-z0-9_-]{2}|\.[A-Za-z0-9_-]{8})?")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{32}")
#: ``user_data`` cookies usable only in their own format (a hashed one is kept and sent, but
#: matches nothing).
COOKIE_FORMATS: dict[str, re.Pattern[str]] = {"fbc": _FB_COOKIE, "fbp": _FB_COOKIE}


def usable_mask(user_data: Mapping[str, object]) -> int:
    """The mask of ``user_data`` keys (bits 0..14) in a *cleaned* ``user_data`` (as Signalyard
    stores and sends it) whose values a platform can use: cookies only in their format
    (:data:`COOKIE_FORMATS`), a user agent that is not a hash. Cleaning has already hashed
    the hashed keys and refused invalid IP addresses, so those count when present. The
    sandbox applies the same rules to what it receives."""
    mask = 0
    usable = _USABLE.get
    for key, value in user_data.items():
        entry = usable(key)
        if entry is None:
            continue
        bit, check = entry
        if check is not None:
            if not isinstance(value, str):
                continue
            if check is _HEX_DIGEST:  # a user agent: any but a hash
                if check.fullmatch(value) is not None:
                    continue
            elif check.fullmatch(value) is None:  # a cookie: only in its format
                continue
        mask |= bit
    return mask


def event_mask(event: Mapping[str, Any]) -> int:
    """The mask of a stored (cleaned) event: :func:`usable_mask` of its ``user_data``, and the
    signals it keeps outside it: ``_browser_ids`` and ``_click_ids`` entries with a value, and
    identity variants with at least one hash (as :func:`~signalyard.transforms.identity.
    variant_hashes` reads them: not when every value arrived hashed, or the variant was not
    made). Runs for every event received (a few microseconds of each event's ingest): one
    pass over each table, no list built, no generator."""
    user_data = event.get("user_data")
    if not _is_mapping(user_data):
        return 0
    mask = usable_mask(user_data)
    for table, bits in _ID_TABLES:
        ids = event.get(table)
        if _is_mapping(ids):
            for name, value in ids.items():
                bit = bits.get(name)
                if bit is not None and isinstance(value, str) and value.strip():
                    mask |= bit
    identity = event.get("_identity")
    if _is_mapping(identity):
        for name, entries in identity.items():
            variant = _VARIANT_OF.get(name)
            if variant is None or not _is_mapping(entries):
                continue
            bit, key = variant
            base = user_data.get(key)
            if mask & bit or not isinstance(base, list):
                continue
            for hashed in base:
                made = entries.get(hashed, hashed)
                if isinstance(made, str) and made:
                    mask |= bit
                    break
    return mask


def _is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    """``isinstance(value, Mapping)``, without the abstract class's check for a dict (what a
    stored event is made of)."""
    return type(value) is dict or isinstance(value, Mapping)


_USABLE: dict[str, tuple[int, re.Pattern[str] | None]] = {
    key: (
        BIT[key],
        COOKIE_FORMATS.get(key, _HEX_DIGEST if key == "client_user_agent" else None),
    )
    for key in MATCH_KEYS
}
"""``user_data`` key -> (its bit, the pattern its value is checked against: a cookie's format
it must match, or for the user agent the hash it must not be)."""
_BROWSER_BITS = {name: BIT[name] for name in _BROWSER_SIGNALS + _MORE_BROWSER_SIGNALS}
_CLICK_BITS = {name: BIT[name] for name in _CLICK_SIGNALS + _MORE_CLICK_SIGNALS}
_ID_TABLES = (("_browser_ids", _BROWSER_BITS), ("_click_ids", _CLICK_BITS))
_VARIANT_OF = {
    name: (BIT[name], VARIANTS[name].key) for name in _VARIANT_SIGNALS + _MORE_VARIANT_SIGNALS
}
"""Identity variant -> (its bit, the ``user_data`` key whose hashes it is made from)."""


# The model ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Single:
    """One signal, worth ``p``."""

    key: str
    p: float

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,)

    def probability(self, mask: int) -> float:
        return self.p if mask & BIT[self.key] else 0.0


@dataclass(frozen=True, slots=True)
class Pair:
    """Two signals worth ``both`` together, ``first_alone`` / ``second_alone`` on their own
    (IP + user agent, first + last name)."""

    first: str
    second: str
    both: float
    first_alone: float = 0.0
    second_alone: float = 0.0

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.first, self.second)

    def probability(self, mask: int) -> float:
        a, b = bool(mask & BIT[self.first]), bool(mask & BIT[self.second])
        if a and b:
            return self.both
        if a:
            return self.first_alone
        return self.second_alone if b else 0.0


@dataclass(frozen=True, slots=True)
class FirstOf:
    """Signals of which the platform takes one, the first present (``options``: key, p):
    click ids, where a conversion is attributed to one click."""

    options: tuple[tuple[str, float], ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.options)

    def probability(self, mask: int) -> float:
        for key, p in self.options:
            if mask & BIT[key]:
                return p
        return 0.0


@dataclass(frozen=True, slots=True)
class Address:
    """An address made of ``keys``: worth ``p`` scaled by how many are present, or (with
    ``together``) ``p`` only when every one is."""

    parts: tuple[str, ...]
    p: float
    together: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        return self.parts

    def probability(self, mask: int) -> float:
        present = sum(1 for key in self.parts if mask & BIT[key])
        if self.together:
            return self.p if present == len(self.parts) else 0.0
        return self.p * present / len(self.parts) if present else 0.0


Rule = Single | Pair | FirstOf | Address


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the dashboard's table: the mean coverage of ``keys``, labelled ``label``;
    ``id`` names it in the page (default: its only key)."""

    label: str
    keys: tuple[str, ...]
    id: str = ""
    title: str = ""

    @property
    def name(self) -> str:
        return self.id or self.keys[0]

    def coverage(self, coverage: Mapping[str, float]) -> float:
        return sum(coverage.get(k, 0.0) for k in self.keys) / len(self.keys)


@dataclass(frozen=True, slots=True)
class MatchModel:
    """One platform's match model: what its estimate shows and how it is computed."""

    title: str
    """Heading of the estimate, such as "Estimated Event Match Quality"."""
    note: str
    """Shown with every score: that it is an estimate, not the platform's number, and what
    counts as usable."""
    rules: tuple[Rule, ...]
    keys: tuple[str, ...]
    """The signals whose coverage is reported, in display order: exactly the rules' keys."""
    columns: tuple[Column, ...]
    """The dashboard table's coverage columns."""
    advice: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    """Key -> (coverage under which to advise, why): "*key* missing on N% of *event* events:
    *why*"."""
    customer_keys: frozenset[str] = frozenset()
    """Keys advised on only for conversion events, where the customer is usually known."""

    def __post_init__(self) -> None:
        used = {key for rule in self.rules for key in rule.keys}
        unknown = (used | set(self.keys)) - set(BIT)
        if unknown:
            raise ValueError(f"unknown signals: {sorted(unknown)}")
        if used != set(self.keys) or len(self.keys) != len(set(self.keys)):
            raise ValueError("keys must list each signal of the rules once")
        for column in self.columns:
            if not column.keys or set(column.keys) - used:
                raise ValueError(f"column {column.label!r} must name keys of the model")
        if set(self.advice) - used or self.customer_keys - used:
            raise ValueError("advice and customer_keys must name keys of the model")


def match_probability(mask: int, model: MatchModel) -> float:
    """The modelled chance that an event carrying the signals in ``mask`` is matched."""
    miss = 1.0
    for rule in model.rules:
        p = rule.probability(mask)
        if p:
            miss *= 1.0 - p
    return 1.0 - miss


def score_of(masks: Mapping[int, int], model: MatchModel) -> float:
    """10 * the mean match probability over events (``masks``: mask -> event count)."""
    total = sum(masks.values())
    if not total:
        return 0.0
    return 10.0 * sum(match_probability(m, model) * n for m, n in masks.items()) / total


def _with(masks: Mapping[int, int], bit: int, present: bool) -> dict[int, int]:
    out: dict[int, int] = {}
    for mask, n in masks.items():
        changed = mask | bit if present else mask & ~bit
        out[changed] = out.get(changed, 0) + n
    return out


def estimate(masks: Mapping[int, int], model: MatchModel) -> dict[str, Any]:
    """Score, coverage of the model's keys, drivers and suggestions for one event name."""
    relevant = 0
    for key in model.keys:
        relevant |= BIT[key]
    # Signals the model ignores change nothing: fold them away (fewer masks to score).
    folded: dict[int, int] = {}
    for mask, n in masks.items():
        folded[mask & relevant] = folded.get(mask & relevant, 0) + n
    total = sum(folded.values())
    score = score_of(folded, model)
    coverage = {
        key: round(sum(n for m, n in folded.items() if m & BIT[key]) / total, 4) if total else 0.0
        for key in model.keys
    }
    drops: list[tuple[float, str]] = []
    gains: list[tuple[float, str]] = []
    for key in model.keys:
        bit = BIT[key]
        if coverage[key] > 0:
            drop = score - score_of(_with(folded, bit, False), model)
            if drop >= 0.05:
                drops.append((round(drop, 2), key))
        if coverage[key] < 1:
            gain = score_of(_with(folded, bit, True), model) - score
            if gain >= 0.05:
                gains.append((round(gain, 2), key))
    drops.sort(key=lambda d: (-d[0], d[1]))
    gains.sort(key=lambda g: (-g[0], g[1]))
    return {
        "score": round(score, 1),
        "estimate": True,
        "note": model.note,
        "events": total,
        "coverage": coverage,
        "drivers": [{"key": key, "contribution": drop} for drop, key in drops],
        "suggestions": [{"key": key, "gain_if_always_sent": gain} for gain, key in gains[:5]],
    }
