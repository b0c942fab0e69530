"""Phone numbers (``ph``) to E.164 digits, for hashing (reference §3.1).

:func:`normalize_ph` parses a number with ``phonenumbers``, completing a national number
with the dataset's default country. Most numbers are decided by fast paths on lookup tables
built once from ``phonenumbers``' metadata (calling codes, prefixes, possible lengths), which
agree with ``phonenumbers.parse`` wherever they decide; the rest go through ``parse``.
:func:`phone_e164` is the core, called directly by the ingest hot path; what goes through
``parse`` is cached.
:mod:`.normalize` re-exports the public names.
"""

from __future__ import annotations

import functools
import re
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    ValidationResult,
    is_possible_number_with_reason,
    national_significant_number,
    region_code_for_country_code,
)

__all__ = ["normalize_ph", "phone_e164", "phone_rule"]


def phone_rule(default_country: str | None) -> str:
    """What :func:`normalize_ph` needs, as said in a warning."""
    if default_country:
        return (
            "not a phone number that can be completed with the default country "
            f"{default_country.upper()}"
        )
    return (
        "not a phone number in international form (+ and the country code); the dataset has"
        " no default country to complete a national number, so it cannot be made E.164 and"
        " is not hashed"
    )


_PHONE_SEPARATORS: Final = str.maketrans(
    {"\uff0b": "+"} | dict.fromkeys(" \t\n\r\u00a0-().\u2010\u2011\u2012\u2013\u2014/")
)
_PHONE_SEPARATORS_ASCII: Final = b" \t\n\r-()./"
_PHONE_MAX_INPUT: Final = 100
_IS_POSSIBLE = ValidationResult.IS_POSSIBLE


def _prefix(pattern: str | None) -> tuple[str | None, re.Pattern[str] | None]:
    """A ``phonenumbers`` prefix pattern (national or international prefix) as plain digits,
    matched with ``startswith`` (most are), or else as a compiled regex."""
    if not pattern:
        return None, None
    if pattern.isascii() and pattern.isdigit():
        return pattern, None
    return None, re.compile(pattern)


def _lengths(metadata: PhoneMetadata) -> frozenset[int]:
    desc = metadata.general_desc
    if desc is None or not desc.possible_length or desc.possible_length[0] == -1:
        return frozenset()
    return frozenset(desc.possible_length) - frozenset(desc.possible_length_local_only or ())


@functools.cache
def _calling_code_info(cc: int) -> tuple[str | None, re.Pattern[str] | None, frozenset[int]]:
    """For a country calling code: its national prefix (for parsing), and the national number
    lengths that ``phonenumbers`` calls IS_POSSIBLE (possible and not local-only) for the main
    region of the code, as ``is_possible_number_with_reason`` does."""
    region = region_code_for_country_code(cc)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(cc, region)
    if metadata is None:
        return None, None, frozenset()
    return (*_prefix(metadata.national_prefix_for_parsing), _lengths(metadata))


_Region = tuple[str, tuple[str, ...], tuple["re.Pattern[str]", ...], frozenset[int]]


def _region_info(region: str) -> _Region | None:
    """:func:`_load_region_info`, memoized in a plain dict (cheaper than ``functools.cache``
    on this per-phone path, compiled or not)."""
    try:
        return _region_infos[region]
    except KeyError:
        info = _region_infos[region] = _load_region_info(region)
        return info


def _load_region_info(region: str) -> _Region | None:
    """For a default region: its calling code as text; the prefixes that make ``parse`` do
    more than take digits as a national number (the calling code, the international and the
    national prefix), as plain digits and as regexes; the IS_POSSIBLE lengths."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.country_code is None:
        return None
    cc = metadata.country_code
    literals = [str(cc)]
    regexes = []
    for pattern in (metadata.international_prefix, metadata.national_prefix_for_parsing):
        literal, regex = _prefix(pattern)
        if literal is not None:
            literals.append(literal)
        if regex is not None:
            regexes.append(regex)
    return str(cc), tuple(literals), tuple(regexes), _calling_code_info(cc)[2]


_region_infos: Final[dict[str, _Region | None]] = {}

_CallingCode = tuple[int, "str | None", "re.Pattern[str] | None", frozenset[int]]
_calling_codes: Final[dict[str, _CallingCode]] = {}


def _load_calling_codes() -> dict[str, _CallingCode]:
    """Every country calling code as text (``"1"``, ``"44"``, ``"84"``) to: the length of the
    code, its national prefix (as plain digits, or else as a regex) and its IS_POSSIBLE
    national number lengths. Built once."""
    if not _calling_codes:
        table: dict[str, _CallingCode] = {}
        for cc in COUNTRY_CODE_TO_REGION_CODE:
            text = str(cc)
            table[text] = (len(text), *_calling_code_info(cc))
        _calling_codes.update(table)
    return _calling_codes


def _fast_international(digits: str) -> str | None:
    """``+<digits>`` (ASCII digits) decided without ``phonenumbers.parse`` when ``parse``
    would take the digits as they are (no national prefix or leading zero to strip): the
    E.164 digits if the number has a possible length, ``None`` when undecided."""
    codes = _calling_codes or _load_calling_codes()
    # Calling codes are prefix-free, and never start with 0 ("0" is no key).
    info = codes.get(digits[:1]) or codes.get(digits[:2]) or codes.get(digits[:3])
    if info is None:
        return None
    n, literal, regex, lengths = info
    national = digits[n:]
    if (
        len(national) not in lengths
        or national[0] == "0"
        or (literal is not None and national.startswith(literal))
        or (regex is not None and regex.match(national) is not None)
    ):
        return None
    return digits


def _fast_national(digits: str, region: str) -> str | None:
    """A national number (ASCII digits) in ``region`` decided without ``phonenumbers.parse``,
    when ``parse`` would take the digits as the national number unchanged (no international,
    national or country-code prefix to strip). ``None`` when undecided."""
    info = _region_info(region)
    if info is None or digits[0] == "0":
        return None
    cc_text, literals, regexes, lengths = info
    if len(digits) not in lengths or digits.startswith(literals):
        return None
    for regex in regexes:
        if regex.match(digits) is not None:
            return None
    return cc_text + digits


@functools.lru_cache(maxsize=65536)
def _parse(text: str, region: str | None) -> str | None:
    """``phonenumbers.parse`` and its possible-length check: the slow path, cached per
    (text, region). The fast paths cost less than a lookup in a large cache, so they are not
    cached."""
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if is_possible_number_with_reason(number) != _IS_POSSIBLE:
        return None
    return f"{number.country_code}{national_significant_number(number)}"


def _international(digits: str, text: str) -> str | None:
    """A number given with its country code; ``digits`` are what follows ``+`` (or ``00``)
    with separators removed, ``text`` is what ``phonenumbers.parse`` gets if needed."""
    if digits.isascii() and digits.isdigit():
        fast = _fast_international(digits)
        if fast is not None:
            return fast
    return _parse(text, None)


def phone_e164(value: str, region: str | None) -> str | None:
    """:func:`normalize_ph` for an uppercase ``region`` (or ``None``): the core."""
    if len(value) > _PHONE_MAX_INPUT:
        return None
    if value[:1] == "+":  # the most common form, "+16505551212", first
        digits = value[1:]
        if digits.isdigit() and digits.isascii():
            fast = _fast_international(digits)
            return fast if fast is not None else _parse(value, None)
    if value.isdigit():
        cleaned = value
    elif value.isascii():  # bytes.translate is several times faster than str.translate
        cleaned = value.encode().translate(None, _PHONE_SEPARATORS_ASCII).decode()
    else:
        cleaned = value.translate(_PHONE_SEPARATORS)
    if not cleaned or len(cleaned) > _PHONE_MAX_INPUT:
        return None
    if cleaned[0] == "+":
        digits = cleaned[1:]
        if digits.isdigit() and digits.isascii():
            fast = _fast_international(digits)
            if fast is not None:
                return fast
        return _parse(value, None)
    plain = cleaned.isascii() and cleaned.isdigit()
    if region is not None:
        if plain:
            fast = _fast_national(cleaned, region)
            if fast is not None:
                return fast
        national = _parse(value, region)
        if national is not None:
            return national
    if plain:
        # Not a number of the default country: digits after the ``00`` international prefix,
        # or (only when there is a default country) digits with their country code, Meta's
        # own normalized form (``16505551212``). Without a default country such digits are a
        # national number: no country is ever guessed from its leading digits.
        if cleaned.startswith("00"):
            return _international(cleaned[2:], "+" + cleaned[2:])
        if region is not None and cleaned[0] != "0":
            return _international(cleaned, "+" + cleaned)
    return None


def normalize_ph(value: str, default_country: str | None = None) -> str | None:
    """E.164 digits without ``+`` (``16505551212``), or ``None``.

    The number is parsed with ``phonenumbers``: a national number is completed with
    ``default_country`` (ISO alpha-2; ``0912 345 678`` in VN -> ``84912345678``); a number
    written with ``+`` (or the ``00`` international prefix) keeps its own country whatever the
    default; with a default country, digits that do not form a number of it are tried as
    digits starting with a country code (Meta's normalized form). Without a default country
    only a number in international form (``+`` or ``00``) is usable: a national number
    (``(650) 555-1212``, ``6505551212``) is ``None``, never read as if its first digits were
    a country code. The result must have a possible length for its country (a local-only
    number, without area code, is refused).

    Numbers that need ``phonenumbers.parse`` (the slow part of ingest) are cached per (text,
    country); the rest is decided by fast paths on lookup tables.
    """
    return phone_e164(value, default_country.upper() if default_country else None)
