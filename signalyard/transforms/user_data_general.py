"""The general path of :mod:`signalyard.transforms.user_data`: every key's rules, every type
(lists, numbers, str subclasses), the warnings and errors, and the tables both paths share
(which keys exist, how each is handled, the hash cache of keys with few values). The fast
paths in :mod:`~signalyard.transforms.user_data` hand anything unusual to
:func:`_clean_key`, which decides from the start.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import ipaddress
import math
import re
import socket
from collections.abc import Callable
from typing import Any, Final

from signalyard.errors import InputError
from signalyard.transforms.hashing import HASHED_LENGTHS, canonical_hash, looks_hashed
from signalyard.transforms.normalize import (
    RULES,
    normalize_country,
    normalize_ct,
    normalize_db,
    normalize_em,
    normalize_external_id,
    normalize_fn,
    normalize_ge,
    normalize_ln,
    normalize_ph,
    normalize_st,
    normalize_zp,
    phone_e164,
    phone_rule,
)

HASHED_KEYS: Final = frozenset(
    ("em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id")
)
"""Keys Meta takes only SHA-256 hashed (reference §3.1)."""

PLAINTEXT_KEYS: Final = frozenset(
    (
        "client_ip_address",
        "client_user_agent",
        "fbc",
        "fbp",
        "subscription_id",
        "fb_login_id",
        "lead_id",
        "anon_id",
        "madid",
        "page_id",
        "page_scoped_user_id",
        "ctwa_clid",
        "ig_account_id",
        "ig_sid",
        "whatsapp_business_account_id",
        "instagram_business_account_id",
    )
)
"""Keys Meta needs in plaintext: never hashed (reference §3.1)."""

# Plaintext keys that are numeric platform ids: an integer is kept as an integer.
_INT_OK: Final = frozenset(
    (
        "fb_login_id",
        "lead_id",
        "page_id",
        "page_scoped_user_id",
        "ig_account_id",
        "ig_sid",
        "whatsapp_business_account_id",
        "instagram_business_account_id",
        "subscription_id",
    )
)
MAX_VALUES_PER_KEY: Final = 20
"""The most values a hashed key may hold in a list (Meta takes lists; a person has a few
emails or phones, not thousands). More is a 400 naming the key: the request is refused before
any value is looked at, so a huge list costs nothing."""

# Hashed keys for which a JSON number is a natural way to send the value.
_NUMBER_OK: Final = frozenset(("ph", "zp", "external_id", "db"))
_MAX_INT = 10**30

_FB_COOKIE_RULE = "not in the format fb.<subdomain index>.<creation time>.<value>"
_FB_COOKIE: Final = re.compile(
    r"fb\.[0-9]++\.[0-9]++\.[^.]++(?:\.[A-Za-z0-9_-]{2}|\.[A-Za-z0-9_-]{8})?"
)
_SAFE_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Param-builder appendix on client_ip_address (reference §3.2): the 2-char language tokens
# (all contain a letter, so never confused with an IPv4 octet) or an 8-char base64url block.
_IP_APPENDIX: Final = re.compile(r"(.+)\.(?:AQ|Ag|Aw|BA|BQ|Bg|[A-Za-z0-9_-]{8})")

_sha256: Final = hashlib.sha256

_Normalizer = Callable[[str], "str | None"]
_SIMPLE: Final[dict[str, _Normalizer]] = {
    "em": normalize_em,
    "fn": normalize_fn,
    "ln": normalize_ln,
    "ge": normalize_ge,
    "ct": normalize_ct,
    "st": normalize_st,
    "zp": normalize_zp,
    "country": normalize_country,
    "external_id": normalize_external_id,
}

# Keys with few distinct values (countries, states, cities, genders): their hashes are cached.
# Their normalizers keep only letters or map to codes, so the result always encodes.
_REPEATED_KEYS = frozenset(("country", "st", "ct", "ge"))

# How each known key is handled.
_PLAIN, _SIMPLE_KIND, _REPEATED, _PHONE, _DATE = range(5)
_KINDS: Final[dict[str, int]] = {
    **dict.fromkeys(PLAINTEXT_KEYS, _PLAIN),
    **dict.fromkeys(_SIMPLE, _SIMPLE_KIND),
    **dict.fromkeys(_REPEATED_KEYS, _REPEATED),
    "ph": _PHONE,
    "db": _DATE,
}


def _number_text(field: str, value: int | float) -> str:
    if isinstance(value, int):
        if -_MAX_INT < value < _MAX_INT:
            return str(value)
        raise InputError(field, "must be a string (this number is out of range)")
    if math.isfinite(value) and value.is_integer() and abs(value) < _MAX_INT:
        return str(int(value))
    raise InputError(field, "must be a string (a number with a fraction is not usable here)")


_REPEATED_CACHE: Final[dict[str, dict[str, str | None]]] = {key: {} for key in _REPEATED_KEYS}
_MISS = ""  # never a hash
_REPEATED_CACHE_LIMIT: Final = 4096  # per key; past it, values are hashed without being cached
_REPEATED_CACHE_TEXT: Final = 64  # longer texts are never cached: the cache's size stays bounded


def _hash_repeated(key: str, text: str) -> str | None:
    """The hash of a value of a key with few distinct values, not in its cache yet; cached
    (bounded per key)."""
    cache = _REPEATED_CACHE[key]
    normalized = _SIMPLE[key](text)
    hashed = None if normalized is None else _sha256(normalized.encode()).hexdigest()
    if len(cache) < _REPEATED_CACHE_LIMIT and len(text) <= _REPEATED_CACHE_TEXT:
        cache[text] = hashed
    return hashed


def _warn_unusable(
    warnings: list[str], field: str, key: str, normalized: str | None, country: str | None
) -> None:
    """Say that the value at ``field`` was dropped, and why; never quote the value."""
    if normalized is not None:
        rule = "not valid Unicode text"  # lone surrogates: it could not be encoded
    elif key == "ph":
        rule = phone_rule(country)
    else:
        rule = RULES[key]
    warnings.append(f"{field}: {rule}; dropped")


def _hash_item(
    key: str, text: str, field: str, country: str | None, year: int, warnings: list[str]
) -> str | None:
    """The hash to send for one stripped, non-empty value of a hashed key, or ``None`` (and a
    warning) when it is unusable."""
    if looks_hashed(text):
        return canonical_hash(text)
    if key == "ph":
        normalized = normalize_ph(text, country)
    elif key == "db":
        normalized = normalize_db(text, year)
    else:
        normalized = _SIMPLE[key](text)
    if normalized is not None:
        try:
            return _sha256(normalized.encode()).hexdigest()
        except UnicodeEncodeError:
            pass
    _warn_unusable(warnings, field, key, normalized, country)
    return None


def _item_text(key: str, field: str, item: object, country: str | None) -> str:
    if isinstance(item, str):
        return item.strip()
    if isinstance(item, int | float) and not isinstance(item, bool):
        if key not in _NUMBER_OK:
            raise InputError(field, "must be a string")
        text = _number_text(field, item)
        if key == "zp" and isinstance(item, int) and country == "US":
            text = text.zfill(5)  # a US ZIP sent as a number loses its leading zeros
        return text
    what = "a string or a number" if key in _NUMBER_OK else "a string"
    raise InputError(field, f"must be {what}, or a list of them")


def _clean_hashed(
    key: str,
    value: object,
    out: dict[str, Any],
    warnings: list[str],
    country: str | None,
    year: int,
) -> None:
    """The general case: a list (at most :data:`MAX_VALUES_PER_KEY` values, checked before any
    is looked at), or a number (a single string is handled inline). Linear: de-duplicated
    with a set, in order."""
    items = _items(key, value)
    result: list[str] = []
    seen: set[str] = set()
    for field, item in items:
        if item is None:
            continue
        text = _item_text(key, field, item, country)
        if not text:
            continue
        hashed = _hash_item(key, text, field, country, year, warnings)
        if hashed is not None and hashed not in seen:
            seen.add(hashed)
            result.append(hashed)
    if result:
        out[key] = result


def _items(key: str, value: object) -> list[tuple[str, object]]:
    """``value``'s items with their field paths: a list's (at most
    :data:`MAX_VALUES_PER_KEY`, checked before any is looked at), else the value alone."""
    if not isinstance(value, list):
        return [(f"user_data.{key}", value)]
    if len(value) > MAX_VALUES_PER_KEY:
        raise InputError(
            f"user_data.{key}",
            f"holds {len(value)} values; at most {MAX_VALUES_PER_KEY} per key are accepted",
        )
    return [(f"user_data.{key}[{i}]", item) for i, item in enumerate(value)]


def clean_keeping_normalized(
    key: str,
    value: object,
    out: dict[str, Any],
    warnings: list[str],
    country: str | None,
    year: int,
) -> list[tuple[str, str | None]]:
    """A hashed key's value (a string, a number or a list), cleaned as :func:`_clean_key`
    cleans it (the same ``out[key]``, the same warnings and errors), and the ``(hash,
    normalized value)`` pair of each hash kept, in order; the value is ``None`` for a value
    that arrived hashed. For the identity variants (:mod:`.identity`), which are made from
    the normalized value: called only for the keys a variant is made from."""
    items = _items(key, value)
    pairs: list[tuple[str, str | None]] = []
    at: dict[str, int] = {}
    for field, item in items:
        if item is None:
            continue
        text = _item_text(key, field, item, country)
        if not text:
            continue
        normalized: str | None
        hashed: str | None
        if looks_hashed(text):
            hashed, normalized = canonical_hash(text), None
        else:
            if key == "ph":
                normalized = phone_e164(text, country)  # normalize_ph; country is uppercase
            elif key == "db":
                normalized = normalize_db(text, year)
            else:
                normalized = _SIMPLE[key](text)
            hashed = None
            if normalized is not None:
                try:
                    hashed = _sha256(normalized.encode()).hexdigest()
                except UnicodeEncodeError:
                    hashed = None  # lone surrogates: warned below
            if hashed is None:
                _warn_unusable(warnings, field, key, normalized, country)
                continue
        i = at.get(hashed)
        if i is None:
            at[hashed] = len(pairs)
            pairs.append((hashed, normalized))
        elif normalized is not None and pairs[i][1] is None:
            pairs[i] = (hashed, normalized)  # sent hashed and in plaintext: the plaintext
    if pairs:
        out[key] = [hashed for hashed, _ in pairs]
    return pairs


_IPV4: Final = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)


def _is_ip(text: str) -> bool:
    if _IPV4.fullmatch(text):
        return True
    if ":" in text and text.isascii():
        try:  # ~40x cheaper than ipaddress for IPv6; same verdicts for plain addresses
            socket.inet_pton(socket.AF_INET6, text)
            return True
        except (OSError, ValueError):
            pass
    try:
        ipaddress.ip_address(text)  # zone ids (fe80::1%eth0) and the rest
    except ValueError:
        return False
    return True


def _valid_ip(text: str) -> bool:
    """An IPv4 or IPv6 address, optionally with a parameter-builder appendix."""
    if _is_ip(text):
        return True
    m = _IP_APPENDIX.fullmatch(text)
    return m is not None and _is_ip(m[1])


def _plaintext_not_a_string(key: str, value: object, out: dict[str, Any]) -> None:
    """A plaintext key whose value is not a string: a numeric platform id, or an error."""
    field = f"user_data.{key}"
    if isinstance(value, int) and not isinstance(value, bool) and key in _INT_OK:
        if not 0 <= value < _MAX_INT:
            raise InputError(field, "must be a positive id")
        out[key] = value
        return
    if isinstance(value, list):
        raise InputError(field, "must be a single value, not a list")
    raise InputError(
        field, "must be a string or an integer" if key in _INT_OK else "must be a string"
    )


@functools.lru_cache(maxsize=16)
def _year_of_day(day: int) -> int:
    return datetime.date.fromordinal(_EPOCH_ORDINAL + day).year


_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


_last_year: tuple[float, int] = (-1.0, 0)  # the last ``now`` seen by _year, and its year


def _year(now: float | None) -> int:
    """The UTC year at ``now`` (epoch seconds); this year by the system clock if ``None``."""
    global _last_year
    last = _last_year  # one tuple: threads never see a year from another ``now``
    if now == last[0]:
        return last[1]
    if now is None or not 0 <= now < 1e11:  # also false for NaN
        return datetime.date.today().year
    year = _year_of_day(int(now // 86400))
    _last_year = (now, year)
    return year


def _clean_key(
    key: Any,
    value: object,
    out: dict[str, Any],
    warnings: list[str],
    country: str | None,
    now: float | None,
) -> None:
    """The general path for one key of ``user_data``: every type, every rule, the warnings."""
    kind = _KINDS.get(key)
    if kind is None:
        if value is None:
            return
        if isinstance(key, str) and _SAFE_KEY.fullmatch(key):
            warnings.append(f"user_data.{key}: not a Meta customer information key; dropped")
        else:
            warnings.append("user_data: a key that is not a Meta customer information key; dropped")
        return
    if type(value) is not str:
        if value is None:
            return
        if isinstance(value, str):
            value = str(value)  # a str subclass: handled as a str below
        elif kind == _PLAIN:
            _plaintext_not_a_string(key, value, out)
            return
        else:
            _clean_hashed(key, value, out, warnings, country, _year(now))
            return
    text = value.strip()
    if not text:
        return
    if kind == _PLAIN:
        if key == "client_ip_address":
            if not (_IPV4.fullmatch(text) or _valid_ip(text)):
                raise InputError(f"user_data.{key}", "must be a valid IPv4 or IPv6 address")
        elif len(text) in HASHED_LENGTHS and looks_hashed(text):
            warnings.append(f"user_data.{key}: looks hashed; Meta needs {key} in plaintext")
        elif (key == "fbc" or key == "fbp") and _FB_COOKIE.fullmatch(text) is None:
            warnings.append(f"user_data.{key}: {_FB_COOKIE_RULE}; kept")
        out[key] = text
        return
    if len(text) in HASHED_LENGTHS and looks_hashed(text):
        out[key] = [canonical_hash(text)]
        return
    if kind == _REPEATED:
        hashed = _REPEATED_CACHE[key].get(text, _MISS)
        if hashed is _MISS:
            hashed = _hash_repeated(key, text)
        if hashed is not None:
            out[key] = [hashed]
        else:
            _warn_unusable(warnings, f"user_data.{key}", key, None, country)
        return
    if kind == _PHONE:
        normalized = phone_e164(text, country)  # normalize_ph; country is uppercase
    elif kind == _DATE:
        normalized = normalize_db(text, _year(now))
    else:
        normalized = _SIMPLE[key](text)
    if normalized is not None:
        try:
            out[key] = [_sha256(normalized.encode()).hexdigest()]
            return
        except UnicodeEncodeError:
            pass
    _warn_unusable(warnings, f"user_data.{key}", key, normalized, country)
