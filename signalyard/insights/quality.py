"""An *estimate* of Meta's Event Match Quality (EMQ), 0-10, per dataset and event name: the
same model for the sandbox (what a platform would see) and the dashboard (what Signalyard
sends).

Meta computes EMQ from which customer-information keys are sent, their quality and the share
of events it matches to an account; it publishes neither the weights nor the formula
(reference §6). This module is a transparent stand-in so users can see which keys move the
score. It is not Meta's number, and the sandbox and dashboard say so wherever they show it.

The model
---------
Each event gets a chance of being matched, built from independent *signals*, each with a
match probability ``p``::

    P(match) = 1 - Π (1 - p_signal)        over the signals the event carries
    score    = 10 * mean P(match) over the events received for that name

============================  =====  ==========================================================
signal                        p      why
============================  =====  ==========================================================
em                            0.55   Meta's highest-value key; median ACR lift ≈ +59 % (§6)
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
browser-only forward) about 4.0; every key about 9.1.

Only *usable* values count, in the sandbox and the dashboard alike: hashed keys must look
hashed (plaintext is not matched by Meta), ``fbc``/``fbp`` must be in Meta's cookie format
(a hashed ``fbp`` is unusable: Meta needs the cookie as it is), the user agent must not be a
hash, the IP must parse. Coverage is the share of events that carry a usable value for a key;
:func:`usable_mask` decides it for the events Signalyard stores. *Drivers* are the keys
whose removal would lower the score most; *suggestions* are the keys that, added to every
event, would raise it most.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: The keys whose coverage is reported, in display order. Bit ``i`` of a mask = key ``i``.
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
BIT: dict[str, int] = {key: 1 << i for i, key in enumerate(MATCH_KEYS)}
ALL_KEYS_MASK = (1 << len(MATCH_KEYS)) - 1

# fb.<subdomain index>.<creation time>.<value>[.<appendix>] (what the sandbox accepts too).
_COOKIE = re.compile(r"fb\.[0-9]+\.[0-9]+\.[^.]+(?:\.[A-Za-z0-9_-]{2}|\.[A-Za-z0-9_-]{8})?")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{32}")
_COOKIE_KEYS = frozenset(("fbc", "fbp"))


def usable_mask(user_data: Mapping[str, object]) -> int:
    """The mask of match keys in a *cleaned* ``user_data`` (as Signalyard stores and sends it)
    whose values the platform can use: ``fbc``/``fbp`` only in Meta's cookie format (a hashed
    or malformed one is kept and sent, but matches nothing), a user agent that is not a hash.
    Cleaning has already hashed the hashed keys and refused invalid IP addresses, so those
    count when present. The sandbox applies the same rules to what it receives."""
    mask = 0
    for key, value in user_data.items():
        bit = BIT.get(key)
        if bit is None:
            continue
        if key in _COOKIE_KEYS:
            if not isinstance(value, str) or _COOKIE.fullmatch(value) is None:
                continue
        elif key == "client_user_agent" and (
            not isinstance(value, str) or _HEX_DIGEST.fullmatch(value) is not None
        ):
            continue
        mask |= bit
    return mask


_SINGLE = {
    "em": 0.55,
    "ph": 0.40,
    "fbc": 0.25,
    "fbp": 0.15,
    "external_id": 0.10,
    "db": 0.04,
    "ge": 0.01,
}
_IP, _UA = BIT["client_ip_address"], BIT["client_user_agent"]
_FN, _LN = BIT["fn"], BIT["ln"]
_ADDRESS = (BIT["ct"], BIT["st"], BIT["zp"], BIT["country"])


def match_probability(mask: int) -> float:
    """The modelled chance that an event carrying the keys in ``mask`` is matched."""
    miss = 1.0
    for key, p in _SINGLE.items():
        if mask & BIT[key]:
            miss *= 1.0 - p
    ip, ua = bool(mask & _IP), bool(mask & _UA)
    if ip and ua:
        miss *= 1.0 - 0.30
    elif ip:
        miss *= 1.0 - 0.10
    elif ua:
        miss *= 1.0 - 0.02
    fn, ln = bool(mask & _FN), bool(mask & _LN)
    if fn and ln:
        miss *= 1.0 - 0.08
    elif fn or ln:
        miss *= 1.0 - 0.02
    address = sum(1 for bit in _ADDRESS if mask & bit)
    if address:
        miss *= 1.0 - 0.06 * address / 4
    return 1.0 - miss


def score_of(masks: Mapping[int, int]) -> float:
    """10 * the mean match probability over events (``masks``: key mask -> event count)."""
    total = sum(masks.values())
    if not total:
        return 0.0
    return 10.0 * sum(match_probability(m) * n for m, n in masks.items()) / total


def _with(masks: Mapping[int, int], bit: int, present: bool) -> dict[int, int]:
    out: dict[int, int] = {}
    for mask, n in masks.items():
        changed = mask | bit if present else mask & ~bit
        out[changed] = out.get(changed, 0) + n
    return out


def estimate(masks: Mapping[int, int]) -> dict[str, Any]:
    """Score, per-key coverage, drivers and suggestions for one event name."""
    total = sum(masks.values())
    score = score_of(masks)
    coverage = {
        key: round(sum(n for m, n in masks.items() if m & bit) / total, 4) if total else 0.0
        for key, bit in BIT.items()
    }
    drops: list[tuple[float, str]] = []
    gains: list[tuple[float, str]] = []
    for key, bit in BIT.items():
        if coverage[key] > 0:
            drop = score - score_of(_with(masks, bit, False))
            if drop >= 0.05:
                drops.append((round(drop, 2), key))
        if coverage[key] < 1:
            gain = score_of(_with(masks, bit, True)) - score
            if gain >= 0.05:
                gains.append((round(gain, 2), key))
    drops.sort(key=lambda d: (-d[0], d[1]))
    gains.sort(key=lambda g: (-g[0], g[1]))
    drivers = [{"key": key, "contribution": drop} for drop, key in drops]
    suggestions = [{"key": key, "gain_if_always_sent": gain} for gain, key in gains]
    return {
        "score": round(score, 1),
        "estimate": True,
        "note": "Estimate of Event Match Quality, not Meta's score; see the model in "
        "signalyard.insights.quality (docs/dashboard.md).",
        "events": total,
        "coverage": coverage,
        "drivers": drivers,
        "suggestions": suggestions[:5],
    }
