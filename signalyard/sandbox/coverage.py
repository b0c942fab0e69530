"""Match-key coverage: from the counts of accepted events per match mask, the share of them
carrying each key (its bit in the mask), for a sandbox's summary. Counts only, no values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def coverage(
    masks: Mapping[int, int], bits: Mapping[str, int], *, with_any_key: bool = False
) -> dict[str, Any]:
    """Per key of ``bits``, the share (0-1, 3 decimals) of the events whose mask has its bit;
    ``with_any_key`` adds the share whose mask has any bit."""
    total = sum(masks.values())
    shares = {
        key: round(sum(n for mask, n in masks.items() if mask & bit) / total, 3) if total else 0.0
        for key, bit in bits.items()
    }
    out: dict[str, Any] = {"events": total, "keys": shares}
    if with_any_key:
        any_key = sum(n for mask, n in masks.items() if mask)
        out["with_any_key"] = round(any_key / total, 3) if total else 0.0
    return out
