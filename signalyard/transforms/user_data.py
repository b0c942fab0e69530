"""Clean an event's ``user_data``: normalize and hash personal keys, keep the plaintext ones.

After :func:`clean_user_data` every personal key (``em``, ``ph``, ``fn``...) holds a list of
SHA-256 hex digests, and only the keys Meta needs in plaintext (``client_ip_address``,
``client_user_agent``, ``fbc``, ``fbp``, platform ids) hold plaintext (reference §3.1).

Wrong *types* raise :class:`~signalyard.errors.InputError`; unusable *values* are dropped
with a warning. Warnings and errors name the field and the rule, never the value.
"""

from __future__ import annotations

import socket
from typing import Any, Final

from signalyard.errors import InputError
from signalyard.transforms.hashing import HASHED_LENGTHS
from signalyard.transforms.identity import build_identity, keys_of
from signalyard.transforms.normalize import (
    _ASCII_NON_LOWER,
    _EMAIL,
    normalize_db,
    normalize_zp,
    phone_e164,
)
from signalyard.transforms.user_data_general import (
    _FB_COOKIE,
    _IPV4,
    _KINDS,
    _REPEATED_CACHE,
    _REPEATED_CACHE_LIMIT,
    _REPEATED_CACHE_TEXT,
    HASHED_KEYS,
    MAX_VALUES_PER_KEY,
    PLAINTEXT_KEYS,
    _clean_key,
    _sha256,
    _year,
    clean_keeping_normalized,
)

__all__ = [
    "HASHED_KEYS",
    "MAX_VALUES_PER_KEY",
    "PLAINTEXT_KEYS",
    "clean_user_data",
    "clean_user_data_with_identity",
]


# --- fast paths -----------------------------------------------------------------------------
# One function per kind of key, for the common case: a single string that is clearly usable.
# Each returns what goes in the output (a one-hash list, or the plaintext), or ``None`` when
# the general path (:func:`_clean_key`) must decide: hashed-looking values, unusual text,
# anything to warn about. That path then handles the value from the start, so a fast path
# only ever agrees with it. A value with a length in HASHED_LENGTHS may look hashed: it always
# goes the general way.

_email_match: Final = _EMAIL.fullmatch
_ipv4_match: Final = _IPV4.fullmatch
_cookie_match: Final = _FB_COOKIE.fullmatch


def _fast_em(value: str) -> list[str] | None:
    # normalize_em; an email address (it has "@") never looks hashed.
    text = value.strip().lower()
    if _email_match(text) is None:
        return None
    try:
        return [_sha256(text.encode()).hexdigest()]
    except UnicodeEncodeError:
        return None


def _fast_word(value: str) -> list[str] | None:
    # fn, ln: ASCII letters and digits are their own normalized form, lowercased (_word).
    if value.isascii() and value.isalnum() and len(value) not in HASHED_LENGTHS:
        return [_sha256(value.lower().encode()).hexdigest()]
    return None


def _fast_zp(value: str) -> list[str] | None:
    text = value.strip()
    if not text.isascii() or len(text) in HASHED_LENGTHS:
        return None
    normalized = text.lower() if text.isalnum() else normalize_zp(text)
    if normalized is None:
        return None
    return [_sha256(normalized.encode()).hexdigest()]


def _fast_external_id(value: str) -> list[str] | None:
    text = value.strip()  # normalize_external_id
    if not text or len(text) in HASHED_LENGTHS:
        return None
    try:
        return [_sha256(text.encode()).hexdigest()]
    except UnicodeEncodeError:
        return None


def _fast_ph(value: str, country: str | None) -> list[str] | None:
    text = value.strip()
    if not text or len(text) in HASHED_LENGTHS:
        return None
    normalized = phone_e164(text, country)  # normalize_ph; country is uppercase
    if normalized is None:
        return None
    return [_sha256(normalized.encode()).hexdigest()]  # ASCII digits


def _fast_db(value: str, now: float | None) -> list[str] | None:
    text = value.strip()
    n = len(text)
    if n == 8:  # YYYYMMDD
        compact = text
    elif n == 10 and text[4] == "-" and text[7] == "-":  # YYYY-MM-DD
        compact = text[:4] + text[5:7] + text[8:]
    else:
        if not text or n in HASHED_LENGTHS:
            return None
        normalized = normalize_db(text, _year(now))
        return None if normalized is None else [_sha256(normalized.encode()).hexdigest()]
    # normalize_db's own fast path: a day that exists in every month, a year from 1900 on.
    if not (
        compact.isascii()
        and compact.isdigit()
        and "01" <= compact[4:6] <= "12"
        and "01" <= compact[6:] <= "28"
        and 1900 <= int(compact[:4]) <= _year(now)
    ):
        return None
    return [_sha256(compact.encode()).hexdigest()]


def _fast_ct(value: str) -> list[str] | None:
    # Cached as _hash_repeated caches; normalize_ct (_letters) of ASCII text: lowercased,
    # only the letters kept.
    cache = _REPEATED_CACHE["ct"]
    hashed = cache.get(value)
    if hashed is not None:
        return [hashed]
    text = value.strip()
    if not text.isascii() or len(text) in HASHED_LENGTHS:
        return None
    normalized = text.lower()
    if not normalized.isalpha():
        normalized = normalized.encode().translate(None, _ASCII_NON_LOWER).decode()
        if not normalized:
            return None
    hashed = _sha256(normalized.encode()).hexdigest()
    if len(cache) < _REPEATED_CACHE_LIMIT and len(text) <= _REPEATED_CACHE_TEXT:
        cache[text] = hashed
    return [hashed]


def _fast_cached(key: str, value: str) -> list[str] | None:
    # st, country, ge: the cache only (filled by the general path; its keys are stripped
    # texts that do not look hashed).
    hashed = _REPEATED_CACHE[key].get(value)
    return None if hashed is None else [hashed]


def _fast_ip(value: str) -> str | None:
    text = value.strip()
    if _ipv4_match(text) is not None:
        return text
    if ":" in text and text.isascii():
        try:
            socket.inet_pton(socket.AF_INET6, text)
        except (OSError, ValueError):
            return None
        return text
    return None


def _fast_cookie(value: str) -> str | None:
    # fbc, fbp in Meta's format (no warning); never case-changed. A value in that format never
    # looks hashed ("fb." is not 32 or 64 hex digits), whatever its length.
    text = value.strip()
    return None if _cookie_match(text) is None else text


def _fast_plain(value: str) -> str | None:
    # The other plaintext keys (client_user_agent, platform ids): kept trimmed.
    text = value.strip()
    if not text or len(text) in HASHED_LENGTHS:
        return None
    return text


_F_PLAIN: Final = 0
_F_IP: Final = 1
_F_COOKIE: Final = 2
_F_EM: Final = 3
_F_PH: Final = 4
_F_WORD: Final = 5
_F_ZP: Final = 6
_F_DB: Final = 7
_F_CT: Final = 8
_F_CACHED: Final = 9
_F_EXTERNAL_ID: Final = 10
_FAST: Final[dict[str, int]] = {
    **dict.fromkeys(PLAINTEXT_KEYS, _F_PLAIN),
    "client_ip_address": _F_IP,
    "fbc": _F_COOKIE,
    "fbp": _F_COOKIE,
    "em": _F_EM,
    "ph": _F_PH,
    "fn": _F_WORD,
    "ln": _F_WORD,
    "zp": _F_ZP,
    "db": _F_DB,
    "ct": _F_CT,
    "st": _F_CACHED,
    "country": _F_CACHED,
    "ge": _F_CACHED,
    "external_id": _F_EXTERNAL_ID,
}
assert _FAST.keys() == _KINDS.keys()


def clean_user_data(
    user_data: object, *, default_country: str | None, now: float | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Return ``(cleaned user_data, warnings)``.

    - Hashed keys (``em, ph, fn, ln, db, ge, ct, st, zp, country, external_id``): a string or
      a list of strings (numbers too for ``ph``, ``zp``, ``external_id``, ``db``). A value that
      already looks hashed (64/32 hex, optional param-builder appendix) is passed through
      with its hex lowercased, never hashed again; any other value is normalized
      (:mod:`~signalyard.transforms.normalize`, phones completed with ``default_country``)
      and SHA-256 hashed, or dropped with a warning when unusable. The output is a list,
      de-duplicated in order; a key left empty is removed. A list holds at most
      :data:`MAX_VALUES_PER_KEY` values (more: ``InputError`` naming the key).
    - Plaintext keys (``client_ip_address``, ``fbc``, ``fbp``, platform ids...): kept as given
      (trimmed); numeric platform ids may be integers. A warning when one looks hashed, or
      when ``fbc``/``fbp`` is not in Meta's cookie format. ``fbc`` is never case-changed.
    - Unknown keys are dropped with a warning. ``null`` and empty strings count as absent.

    ``now`` (epoch seconds) sets the current year for the date-of-birth check.

    Raises :class:`InputError` (field relative to the event: ``user_data.em[1]``) for a wrong
    type, or a ``client_ip_address`` that is not an IP address.
    """
    return _clean(user_data, default_country, now, _FAST, None)


def _fast_keeping(key: str, value: str, country: str | None) -> tuple[str, str] | None:
    """``(hash, normalized value)`` of a single string of ``em`` or ``ph`` that is clearly
    usable (as :func:`_fast_em` and :func:`_fast_ph` decide); ``None``: the general path
    (:func:`~signalyard.transforms.user_data_general.clean_keeping_normalized`) decides."""
    if key == "em":
        normalized = value.strip().lower()  # normalize_em; an address never looks hashed
        if _email_match(normalized) is None:
            return None
    elif key == "ph":
        text = value.strip()
        if not text or len(text) in HASHED_LENGTHS:
            return None
        found = phone_e164(text, country)  # normalize_ph; country is uppercase
        if found is None:
            return None
        normalized = found
    else:
        return None
    try:
        return _sha256(normalized.encode()).hexdigest(), normalized
    except UnicodeEncodeError:
        return None


def _keeping(variants: tuple[str, ...]) -> tuple[frozenset[str], dict[str, int]]:
    """The keys ``variants`` are made from, and :data:`_FAST` with those keys sent to the
    general path; made once per tuple of variants."""
    found = _KEEPING.get(variants)
    if found is None:
        keys = keys_of(variants)
        found = (keys, {key: -1 if key in keys else kind for key, kind in _FAST.items()})
        if len(_KEEPING) < 64:
            _KEEPING[variants] = found
    return found


_KEEPING: Final[dict[tuple[str, ...], tuple[frozenset[str], dict[str, int]]]] = {}


def clean_user_data_with_identity(
    user_data: object,
    *,
    default_country: str | None,
    now: float | None = None,
    variants: tuple[str, ...],
) -> tuple[dict[str, Any], list[str], dict[str, dict[str, str | None]]]:
    """:func:`clean_user_data` (the same output and warnings), and the identity variants
    named in ``variants`` (:data:`~signalyard.transforms.identity.VARIANTS`, in the order
    they are to be stored), made from the normalized values of their keys as those are
    hashed: the event's ``_identity``
    (:func:`~signalyard.transforms.identity.build_identity`), empty when there is nothing to
    record. The keys variants are made from skip their fast path (which keeps no normalized
    value); the others are cleaned as :func:`clean_user_data` cleans them."""
    keys, fast_kinds = _keeping(variants)
    normalized: dict[str, list[tuple[str, str | None]]] = {}
    out, warnings = _clean(user_data, default_country, now, fast_kinds, (keys, normalized))
    return out, warnings, build_identity(variants, normalized) if normalized else {}


def _clean(
    user_data: object,
    default_country: str | None,
    now: float | None,
    fast_kinds: dict[str, int],
    keeping: tuple[frozenset[str], dict[str, list[tuple[str, str | None]]]] | None,
) -> tuple[dict[str, Any], list[str]]:
    """:func:`clean_user_data`; with ``keeping`` (keys, a dict to fill), the keys' ``(hash,
    normalized value)`` pairs are kept in the dict (for :func:`clean_user_data_with_identity`;
    ``fast_kinds`` then sends those keys to the general path)."""
    if not isinstance(user_data, dict):
        raise InputError("user_data", "must be an object")
    out: dict[str, Any] = {}
    warnings: list[str] = []
    country = default_country.upper() if default_country else None
    result: list[str] | str | None
    for key, value in user_data.items():
        if type(value) is str:
            kind = fast_kinds.get(key, -1)
            if kind == _F_PLAIN:
                result = _fast_plain(value)
            elif kind == _F_IP:
                result = _fast_ip(value)
            elif kind == _F_COOKIE:
                result = _fast_cookie(value)
            elif kind == _F_EM:
                result = _fast_em(value)
            elif kind == _F_PH:
                result = _fast_ph(value, country)
            elif kind == _F_WORD:
                result = _fast_word(value)
            elif kind == _F_ZP:
                result = _fast_zp(value)
            elif kind == _F_DB:
                result = _fast_db(value, now)
            elif kind == _F_CT:
                result = _fast_ct(value)
            elif kind == _F_CACHED:
                result = _fast_cached(key, value)
            elif kind == _F_EXTERNAL_ID:
                result = _fast_external_id(value)
            else:
                result = None
            if result is not None:
                out[key] = result
                continue
        if keeping is not None and key in keeping[0]:
            pair = _fast_keeping(key, value, country) if type(value) is str else None
            if pair is not None:
                out[key] = [pair[0]]
                keeping[1][key] = [pair]
            else:
                keeping[1][key] = clean_keeping_normalized(
                    key, value, out, warnings, country, _year(now)
                )
            continue
        _clean_key(key, value, out, warnings, country, now)
    return out, warnings
