"""Identity variants: a customer value normalized by another rule than the base one, hashed.

The base rules (:mod:`.normalize`) make the hashes stored in ``user_data``. Some destinations
hash some keys by another rule, which only the plaintext allows; the plaintext is never
stored, so the variants the destinations of a dataset declare are made at ingest, once, from
the normalized value the base hash was made from (no parsing again), and stored with the
event as ``_identity`` (``_`` fields are never sent to a platform).

The catalogue (:data:`VARIANTS`), by name ``<key>.<rule>``:

- ``ph.e164``: ``+`` and the E.164 digits (``+16505551212``; the base is the digits only,
  ``16505551212``). It differs from the base for every phone: every phone gets an entry.
- ``em.gmail``: for a ``gmail.com`` or ``googlemail.com`` address, the local part without
  its dots and without a ``+`` and what follows it (``jo.hn+shop@gmail.com`` ->
  ``john@gmail.com``); any other address as it is. Only the gmail/googlemail addresses
  whose local part has a dot or a ``+`` differ from the base, and only they get an entry.
- ``em.reddit``: Reddit's rule for any domain: the local part cut at its first ``+`` and
  without any character that is not a letter or a digit (``Al.ice$+Apple@Example.Com`` ->
  ``alice@example.com``). Only the addresses whose local part has such a character differ.

The stored form, ``payload["_identity"]``::

    {"ph.e164": {"<base hash>": "<variant hash>", "<base hash>": null}, "em.gmail": {}}

- a variant's name is present when it was computed for the event (its key had values);
  its mapping holds an entry only for the base hashes whose variant differs from them: a
  base hash without an entry *is* its variant;
- ``null``: the value arrived hashed, so the variant cannot be made from it;
- ``""``: the variant's rule leaves nothing usable (``+tag@gmail.com``);
- a name absent while its key has values: not computed (no destination of the dataset
  needed it when the event was received): no variant hash is known.

A mapping holds at most as many entries as its key has values, so the per-key cap
(``MAX_VALUES_PER_KEY``) bounds it. Keyed by base hash, not by position, so copies merged
later (a richer duplicate) join by union. :func:`variant_hashes` reads it back for a sink.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "VARIANTS",
    "Variant",
    "build_identity",
    "check_variants",
    "keys_of",
    "merge_identity",
    "unavailable",
    "variant_hashes",
]

Entries = dict[str, "str | None"]
"""Base hash -> variant hash; ``None``: arrived hashed; ``""``: the rule leaves nothing."""


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    key: str
    """The ``user_data`` key it is made from."""
    rule: Callable[[str], str | None]
    """From the value as the base rule normalized it to the value to hash, or ``None`` when
    the rule leaves nothing usable. Pure."""
    description: str


def _e164_plus(digits: str) -> str | None:
    """The base phone (E.164 digits, no ``+``) with its ``+``."""
    return "+" + digits


_GMAIL_DOMAINS: Final = frozenset(("gmail.com", "googlemail.com"))


def _gmail(email: str) -> str | None:
    """A normalized address (trimmed, lowercased, one ``@``) with the gmail rule applied."""
    at = email.rfind("@")
    if email[at + 1 :] not in _GMAIL_DOMAINS:
        return email
    local = email[:at]
    plus = local.find("+")
    if plus >= 0:
        local = local[:plus]
    local = local.replace(".", "")
    if not local:
        return None
    return local + email[at:]


def _reddit(email: str) -> str | None:
    """A normalized address with Reddit's rule: the local part cut at its first ``+``, then
    only its letters and digits kept (any domain)."""
    at = email.rfind("@")
    local = email[:at]
    plus = local.find("+")
    if plus >= 0:
        local = local[:plus]
    local = "".join(c for c in local if c.isalnum())
    if not local:
        return None
    return local + email[at:]


VARIANTS: Final[dict[str, Variant]] = {
    "ph.e164": Variant("ph.e164", "ph", _e164_plus, "E.164 with its leading +"),
    "em.gmail": Variant(
        "em.gmail",
        "em",
        _gmail,
        "gmail.com/googlemail.com local part without dots and +suffix",
    ),
    "em.reddit": Variant(
        "em.reddit",
        "em",
        _reddit,
        "local part cut at its first + and reduced to letters and digits (any domain)",
    ),
}
"""Every identity variant a destination may declare, by name."""


def check_variants(names: Iterable[str]) -> frozenset[str]:
    """``names`` as a frozenset; ``ValueError`` naming the unknown ones."""
    found = frozenset(names)
    unknown = sorted(name for name in found if name not in VARIANTS)
    if unknown:
        raise ValueError(
            f"unknown identity variant(s) {', '.join(unknown)};"
            f" known: {', '.join(sorted(VARIANTS))}"
        )
    return found


def keys_of(names: Iterable[str]) -> frozenset[str]:
    """The ``user_data`` keys the variants ``names`` are made from."""
    return frozenset(VARIANTS[name].key for name in names)


_sha256: Final = hashlib.sha256


def build_identity(
    names: Iterable[str], normalized: Mapping[str, list[tuple[str, str | None]]]
) -> dict[str, Entries]:
    """The ``_identity`` of an event: for each variant in ``names`` (in order) whose key has
    values, its entries; ``normalized[key]`` are the key's ``(base hash, normalized value)``
    pairs as stored, the value ``None`` where it arrived hashed. Empty when there is nothing
    to record."""
    identity: dict[str, Entries] = {}
    for name in names:
        variant = VARIANTS[name]
        pairs = normalized.get(variant.key)
        if not pairs:
            continue
        rule = variant.rule
        entries: Entries = {}
        for hashed, value in pairs:
            if value is None:
                entries[hashed] = None
                continue
            made = rule(value)
            if made is None:
                entries[hashed] = ""
            elif made != value:
                entries[hashed] = _sha256(made.encode()).hexdigest()
        identity[name] = entries
    return identity


def variant_hashes(payload: Mapping[str, Any], name: str) -> tuple[list[str], int]:
    """For a sink: the hashes of variant ``name`` of a stored event (de-duplicated, in the
    order of the base values), and how many of the key's values have none (arrived hashed,
    left nothing by the rule, or the variant was not computed for the event)."""
    variant = VARIANTS[name]
    user_data = payload.get("user_data")
    base = user_data.get(variant.key) if isinstance(user_data, Mapping) else None
    if not isinstance(base, list) or not base:
        return [], 0
    identity = payload.get("_identity")
    entries = identity.get(name) if isinstance(identity, Mapping) else None
    if not isinstance(entries, Mapping):
        return [], len(base)
    out: list[str] = []
    seen: set[str] = set()
    missing = 0
    for hashed in base:
        made = entries.get(hashed, hashed)
        if not made or not isinstance(made, str):
            missing += 1
        elif made not in seen:
            seen.add(made)
            out.append(made)
    return out, missing


def unavailable(identity: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """``(variant name, values that arrived hashed, values the rule left nothing of)`` for
    each variant of an event's ``_identity`` that could not be made for some value."""
    found = []
    for name, entries in identity.items():
        if not isinstance(entries, Mapping):
            continue
        hashed = left = 0
        for made in entries.values():
            if made is None:
                hashed += 1
            elif made == "":
                left += 1
        if hashed or left:
            found.append((name, hashed, left))
    return found


def merge_identity(
    stored: Mapping[str, Any] | None,
    keys_before: Iterable[str],
    extra: object,
    user_data: Mapping[str, Any],
) -> dict[str, Entries]:
    """The ``_identity`` of a stored event after a duplicate's ``user_data`` was merged into
    it: ``stored`` its own (or ``None``), ``keys_before`` the ``user_data`` keys it had before
    the merge, ``extra`` the duplicate's ``_identity``, ``user_data`` the merged one.

    A variant the stored copy has gets the duplicate's entries for the values it lacked. A
    variant it lacks is taken from the duplicate only when its key is new to it (added by
    the merge): otherwise the stored copy's own values stay without that variant (it was
    not computed for them, and an absent entry would read as "the same as the base").
    Entries are kept only for values in the merged ``user_data``."""
    merged: dict[str, Entries] = {}
    if isinstance(stored, Mapping):
        for name, entries in stored.items():
            if isinstance(entries, Mapping):
                merged[name] = dict(entries)
    if not isinstance(extra, Mapping):
        return merged
    before = frozenset(keys_before)
    for name, entries in extra.items():
        variant = VARIANTS.get(name)
        values = user_data.get(variant.key) if variant is not None else None
        if not isinstance(entries, Mapping) or not isinstance(values, list):
            continue
        have = merged.get(name)
        if have is None:
            if variant is None or variant.key in before:
                continue
            have = merged[name] = {}
        present = frozenset(v for v in values if isinstance(v, str))
        for hashed, made in entries.items():
            if hashed in present and hashed not in have:
                have[hashed] = made
    return merged
