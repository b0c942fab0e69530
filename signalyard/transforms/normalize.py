"""Normalizers for the hashed ``user_data`` keys, one per key (reference §3.1, §3.4).

Each takes the plaintext value and returns its normalized form, ready to hash, or ``None``
when the value is unusable (the caller drops it with a warning). They are pure and never
raise on any ``str``. ``RULES`` says, per key, what a usable value is (used in warnings, which
never quote the value: it is personal data).

They follow Meta's customer-information rules more closely than the official SDKs do:
phone numbers are completed with the dataset's country through ``phonenumbers``, dates of
birth are parsed from common formats, US/Canadian state names and country names are mapped to
their codes, and non-Latin letters are kept in names and cities.
"""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
from collections.abc import Iterable

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    ValidationResult,
    is_possible_number_with_reason,
    national_significant_number,
    region_code_for_country_code,
)

__all__ = [
    "RULES",
    "normalize_country",
    "normalize_ct",
    "normalize_db",
    "normalize_em",
    "normalize_external_id",
    "normalize_fn",
    "normalize_ge",
    "normalize_ln",
    "normalize_ph",
    "normalize_st",
    "normalize_zp",
    "phone_e164",
    "phone_rule",
]

RULES: dict[str, str] = {
    "em": "not an email address (name@domain.tld)",
    "fn": "no letters left after removing spaces and punctuation",
    "ln": "no letters left after removing spaces and punctuation",
    "ge": "not a recognised gender (m/male/man/mr or f/female/woman/mrs/ms)",
    "db": "not a date of birth in a recognised format (YYYYMMDD, YYYY-MM-DD, MM/DD/YYYY, "
    "DD.MM.YYYY...) with a year from 1900 to this year",
    "ct": "no letters left after removing spaces, digits and punctuation",
    "st": "no letters left after removing spaces and punctuation",
    "zp": "no letters or digits left after removing spaces and punctuation",
    "country": "not a country name or ISO 3166-1 code",
    "external_id": "empty",
}


def phone_rule(default_country: str | None) -> str:
    """What :func:`normalize_ph` needs, as said in a warning."""
    if default_country:
        return (
            "not a phone number that can be completed with the default country "
            f"{default_country.upper()}"
        )
    return "not a phone number with a country code (the dataset has no default country)"


# --- character classes -------------------------------------------------------------------

# For ASCII text, bytes.translate is several times faster than str.translate with a table.
_ASCII_NON_ALNUM = bytes(c for c in range(128) if not chr(c).isalnum())
_ASCII_NON_LOWER = bytes(c for c in range(128) if not ("a" <= chr(c) <= "z"))


def _ascii_delete(value: str, delete: bytes) -> str:
    """``value`` (ASCII) without the characters in ``delete``."""
    return value.encode().translate(None, delete).decode()


class _CategoryFilter(dict[int, "int | None"]):
    """A ``str.translate`` table keeping the code points whose Unicode general category starts
    with one of ``keep`` (``L`` letters, ``M`` marks, ``N`` numbers) and deleting the rest.
    Filled lazily, bounded so that hostile input cannot grow it without limit."""

    _LIMIT = 1 << 16

    def __init__(self, keep: str) -> None:
        super().__init__()
        self._keep = tuple(keep)

    def __missing__(self, cp: int) -> int | None:
        kept = cp if unicodedata.category(chr(cp))[0] in self._keep else None
        if len(self) < self._LIMIT:
            self[cp] = kept
        return kept


_KEEP_WORD = _CategoryFilter("LMN")  # letters of any script (with their marks) and digits
_KEEP_LETTERS = _CategoryFilter("LM")  # letters of any script (with their marks)

_nfc = functools.partial(unicodedata.normalize, "NFC")


def _word(value: str) -> str:
    """Lowercase (Unicode), NFC, only letters, marks and digits kept."""
    if value.isascii():
        low = value.lower()
        return low if low.isalnum() else _ascii_delete(low, _ASCII_NON_ALNUM)
    return _nfc(value.lower()).translate(_KEEP_WORD)


def _letters(value: str) -> str:
    """Lowercase (Unicode), NFC, only letters and marks kept."""
    if value.isascii():
        low = value.lower()
        return low if low.isalpha() else _ascii_delete(low, _ASCII_NON_LOWER)
    return _nfc(value.lower()).translate(_KEEP_LETTERS)


def _fold(value: str) -> str:
    """A lookup key: lowercase, accents removed, letters and digits only (``Québec`` ->
    ``quebec``, ``Viet Nam`` -> ``vietnam``)."""
    if value.isascii():
        return _ascii_delete(value.lower(), _ASCII_NON_ALNUM)
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


# --- em ------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[^@\s]++@[^@\s.]++(?:\.[^@\s.]++)++")


def normalize_em(value: str) -> str | None:
    """Trimmed, lowercased; must look like ``name@domain.tld``."""
    v = value.strip().lower()
    return v if _EMAIL.fullmatch(v) else None


# --- ph ------------------------------------------------------------------------------------

_PHONE_SEPARATORS = str.maketrans(
    {"\uff0b": "+"} | dict.fromkeys(" \t\n\r\u00a0-().\u2010\u2011\u2012\u2013\u2014/")
)
_PHONE_SEPARATORS_ASCII = b" \t\n\r-()./"
_PHONE_MAX_INPUT = 100
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


@functools.cache
def _region_info(region: str) -> _Region | None:
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


_CallingCode = tuple[int, "str | None", "re.Pattern[str] | None", frozenset[int]]
_calling_codes: dict[str, _CallingCode] = {}


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


def _parse(text: str, region: str | None) -> str | None:
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


@functools.lru_cache(maxsize=65536)
def phone_e164(value: str, region: str | None) -> str | None:
    """:func:`normalize_ph` for an uppercase ``region`` (or ``None``): the cached core."""
    if len(value) > _PHONE_MAX_INPUT:
        return None
    if value[:1] == "+":  # the most common form, "+16505551212", first
        digits = value[1:]
        if digits.isdigit() and digits.isascii():
            fast = _fast_international(digits)
            return fast if fast is not None else _parse(value, None)
    if value.isdigit():
        cleaned = value
    elif value.isascii():
        cleaned = _ascii_delete(value, _PHONE_SEPARATORS_ASCII)
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
        # Not a number of the default country: digits with their country code (Meta's own
        # normalized form, ``16505551212``) or after the ``00`` international prefix.
        if cleaned.startswith("00"):
            return _international(cleaned[2:], "+" + cleaned[2:])
        if cleaned[0] != "0":
            return _international(cleaned, "+" + cleaned)
    return None


def normalize_ph(value: str, default_country: str | None = None) -> str | None:
    """E.164 digits without ``+`` (``16505551212``), or ``None``.

    The number is parsed with ``phonenumbers``: a national number is completed with
    ``default_country`` (ISO alpha-2; ``0912 345 678`` in VN -> ``84912345678``); a number
    written with ``+`` (or the ``00`` international prefix) keeps its own country whatever the
    default; digits that do not form a number of the default country are tried as digits
    starting with a country code (Meta's normalized form). The result must have a possible
    length for its country (a local-only number, without area code, is refused).

    Results are cached per (value, country): parsing is the slow part of ingest.
    """
    return phone_e164(value, default_country.upper() if default_country else None)


# --- fn, ln --------------------------------------------------------------------------------


def normalize_fn(value: str) -> str | None:
    """Lowercased, NFC, spaces and punctuation removed; letters of every script kept
    (``Valéry`` -> ``valéry``, ``정`` -> ``정``, ``Mary-Jane`` -> ``maryjane``)."""
    return _word(value) or None


normalize_ln = normalize_fn


# --- ge ------------------------------------------------------------------------------------

_GENDERS: dict[str, str] = {
    **dict.fromkeys(
        (
            "m",
            "male",
            "man",
            "men",
            "mr",
            "boy",
            "he",
            "him",
            "masculine",
            "masc",
            "herr",
            "homme",
            "hombre",
            "masculin",
            "masculino",
            "maschio",
            "mannlich",
            "sr",
            "senor",
        ),
        "m",
    ),
    **dict.fromkeys(
        (
            "f",
            "female",
            "woman",
            "women",
            "mrs",
            "ms",
            "miss",
            "girl",
            "she",
            "her",
            "feminine",
            "fem",
            "frau",
            "femme",
            "mujer",
            "feminin",
            "femenino",
            "feminino",
            "femmina",
            "weiblich",
            "mme",
            "mlle",
            "sra",
            "srta",
            "senora",
        ),
        "f",
    ),
}


def normalize_ge(value: str) -> str | None:
    """``m`` or ``f`` from common synonyms (``Male``, ``Mr.``, ``woman``, ``Mrs``...)."""
    return _GENDERS.get(_fold(value))


# --- db ------------------------------------------------------------------------------------

_DB_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?", re.DOTALL)
_DB_PARTS = re.compile(r"(\d{1,4})\s*([-/.]|\s)\s*(\d{1,2})\s*(?:[-/.]|\s)\s*(\d{1,4})")
_MONTHS: dict[str, int] = {}
for _i, _name in enumerate(
    (
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ),
    start=1,
):
    _MONTHS[_name] = _MONTHS[_name[:3]] = _i
_MONTHS["sept"] = 9
_DB_DAY_MONTH = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s*[-/ ]?\s*([a-z]+)\.?,?\s*[-/ ]?\s*(\d{4})")
_DB_MONTH_DAY = re.compile(r"([a-z]+)\.?\s*[-/ ]?\s*(\d{1,2})(?:st|nd|rd|th)?,?\s*[-/ ]?\s*(\d{4})")


def _ymd(year: int, month: int, day: int, current_year: int) -> str | None:
    if not 1900 <= year <= current_year:
        return None
    try:
        datetime.date(year, month, day)
    except ValueError:
        return None
    return f"{year:04d}{month:02d}{day:02d}"


def _first_date(candidates: Iterable[tuple[int, int, int]], current_year: int) -> str | None:
    for year, month, day in candidates:
        result = _ymd(year, month, day, current_year)
        if result is not None:
            return result
    return None


def normalize_db(value: str, current_year: int | None = None) -> str | None:
    """``YYYYMMDD`` from common date formats, or ``None``.

    Accepted: ``19970216``; ``1997-02-16`` (also an ISO datetime, its date part taken as
    written); ``1997/02/16``; ``02/16/1997`` (US month/day; ``16/02/1997`` is read day/month
    because 16 cannot be a month; an ambiguous ``03/04/1997`` is US: March 4th);
    ``16.02.1997`` (dots are the day.month.year convention: ``03.04.1997`` is April 3rd);
    English month names (``16 Feb 1997``, ``February 16, 1997``). The year must be from 1900
    to ``current_year`` (default: this year) and the date must exist. Two-digit years are
    refused (the century would be a guess).
    """
    v = value.strip()
    if current_year is None:
        current_year = datetime.date.today().year
    n = len(v)
    if n == 8 and v.isascii() and v.isdigit():
        if "01" <= v[4:6] <= "12" and "01" <= v[6:] <= "28" and 1900 <= int(v[:4]) <= current_year:
            return v  # the common case: a day that exists in every month
        a, b, c = int(v[:4]), int(v[4:6]), int(v[6:])
        d, e, f = int(v[:2]), int(v[2:4]), int(v[4:])
        # YYYYMMDD, else MMDDYYYY, else DDMMYYYY
        return _first_date(((a, b, c), (f, d, e), (f, e, d)), current_year)
    if n == 10 and v[4] == "-" and v[7] == "-":  # YYYY-MM-DD, the ISO form, without regex
        compact = v[:4] + v[5:7] + v[8:]
        if (
            compact.isascii()
            and compact.isdigit()
            and "01" <= compact[4:6] <= "12"
            and "01" <= compact[6:] <= "28"
            and 1900 <= int(compact[:4]) <= current_year
        ):
            return compact
    if n > 40 or not v.isascii():
        return None
    m = _DB_ISO.fullmatch(v)
    if m:
        return _ymd(int(m[1]), int(m[2]), int(m[3]), current_year)
    m = _DB_PARTS.fullmatch(v)
    if m:
        first, sep, middle, last = m[1], m[2], int(m[3]), m[4]
        if len(first) == 4 and len(last) <= 2:
            return _ymd(int(first), middle, int(last), current_year)
        if len(last) == 4 and len(first) <= 2:
            x, year = int(first), int(last)
            if sep == "." or x > 12:  # day.month.year, or a first number that is no month
                return _first_date(((year, middle, x), (year, x, middle)), current_year)
            return _ymd(year, x, middle, current_year)
        return None
    low = v.lower()
    m = _DB_DAY_MONTH.fullmatch(low)
    if m and m[2] in _MONTHS:
        return _ymd(int(m[3]), _MONTHS[m[2]], int(m[1]), current_year)
    m = _DB_MONTH_DAY.fullmatch(low)
    if m and m[1] in _MONTHS:
        return _ymd(int(m[3]), _MONTHS[m[1]], int(m[2]), current_year)
    return None


# --- ct ------------------------------------------------------------------------------------


def normalize_ct(value: str) -> str | None:
    """Lowercased, NFC, only letters kept (any script): spaces, digits and punctuation
    removed (``New York`` -> ``newyork``, ``Zürich`` -> ``zürich``)."""
    return _letters(value) or None


# --- st ------------------------------------------------------------------------------------

_STATE_ALIASES = {
    "washingtondc": "dc",
    "virginislands": "vi",
    "usvirginislands": "vi",
    "pei": "pe",
    "newfoundland": "nl",
    "yukonterritory": "yt",
}


@functools.cache
def _state_table() -> dict[str, str]:
    """Folded US state / Canadian province names (and ``US-CA``-style ISO 3166-2 codes) to
    their 2-letter code, built once from ``pycountry.subdivisions``."""
    import pycountry

    table: dict[str, str] = {}
    for sub in pycountry.subdivisions:
        if sub.country_code in ("US", "CA"):
            code = sub.code.split("-", 1)[1].lower()
            table.setdefault(_fold(sub.name), code)
            table.setdefault(_fold(sub.code), code)
    for name, code in _STATE_ALIASES.items():
        table.setdefault(name, code)
    return table


@functools.lru_cache(maxsize=4096)
def normalize_st(value: str) -> str | None:
    """A US state or Canadian province as its lowercase 2-letter code (``California`` ->
    ``ca``, ``Québec`` -> ``qc``, ``US-NY`` -> ``ny``); a 2-letter code as is, lowercased;
    any other region lowercased with spaces and punctuation removed (letters of any script
    kept: ``Île-de-France`` -> ``îledefrance``)."""
    code = _state_table().get(_fold(value))
    if code is not None:
        return code
    return _letters(value) or None


# --- zp ------------------------------------------------------------------------------------

_US_ZIP4 = re.compile(r"(\d{5})\s*(?:[-+]|\s)\s*\d{4}")


def normalize_zp(value: str) -> str | None:
    """Lowercased, spaces, dashes and other punctuation removed; a US ZIP+4
    (``94035-1234``) cut to its 5-digit ZIP (``94035``); ``M1 1AE`` -> ``m11ae``."""
    v = value.strip()
    if v.isalnum() and v.isascii():
        return v.lower()
    m = _US_ZIP4.fullmatch(v)
    if m:
        return m[1]
    return _word(v) or None


# --- country -------------------------------------------------------------------------------

_COUNTRY_ALIASES = {
    "america": "us",
    "unitedstatesofamerica": "us",
    "usofa": "us",
    "uk": "gb",
    "greatbritain": "gb",
    "britain": "gb",
    "england": "gb",
    "scotland": "gb",
    "wales": "gb",
    "northernireland": "gb",
    "korea": "kr",
    "republicofkorea": "kr",
    "russia": "ru",
    "czechrepublic": "cz",
    "holland": "nl",
    "thenetherlands": "nl",
    "nederland": "nl",
    "ivorycoast": "ci",
    "turkey": "tr",
    "macedonia": "mk",
    "uae": "ae",
    "burma": "mm",
    "swaziland": "sz",
    "capeverde": "cv",
    "easttimor": "tl",
    "vatican": "va",
    "vaticancity": "va",
    "palestine": "ps",
    "brunei": "bn",
    "micronesia": "fm",
    "macau": "mo",
    "drc": "cd",
    "drcongo": "cd",
    "democraticrepublicofthecongo": "cd",
    "republicofthecongo": "cg",
    "usvirginislands": "vi",
    "britishvirginislands": "vg",
    "deutschland": "de",
    "espana": "es",
    "brasil": "br",
    "italia": "it",
    "schweiz": "ch",
    "suisse": "ch",
    "svizzera": "ch",
    "osterreich": "at",
    "belgique": "be",
    "belgie": "be",
    "polska": "pl",
    "sverige": "se",
    "norge": "no",
    "danmark": "dk",
    "suomi": "fi",
}


@functools.cache
def _country_table() -> dict[str, str]:
    """Folded alpha-2, alpha-3, numeric codes and names to alpha-2, built once from
    ``pycountry``. Codes win over names, names over aliases."""
    import pycountry

    table: dict[str, str] = {}
    countries = list(pycountry.countries)
    for attrs in (
        ("alpha_2",),
        ("alpha_3",),
        ("numeric",),
        ("name", "official_name", "common_name"),
    ):
        for country in countries:
            for attr in attrs:
                text = getattr(country, attr, None)
                if text:
                    table.setdefault(_fold(text), country.alpha_2.lower())
    for name, code in _COUNTRY_ALIASES.items():
        table.setdefault(name, code)
    return table


@functools.lru_cache(maxsize=4096)
def normalize_country(value: str) -> str | None:
    """Lowercase ISO 3166-1 alpha-2 from an alpha-2, alpha-3 or numeric code or a common or
    official name, ignoring case, accents, spaces and punctuation (``USA``, ``United
    States``, ``Viet Nam``, ``UK`` -> ``gb``); ``None`` when not a known country."""
    return _country_table().get(_fold(value))


# --- external_id ---------------------------------------------------------------------------


def normalize_external_id(value: str) -> str | None:
    """Trimmed only.

    Meta takes ``external_id`` as any advertiser id (a loyalty number, a user id...), hashed
    or not, and only needs it in the same format on the Pixel and on the server (M-PLAT). The
    official SDKs disagree on it (the Python SDK sends it as is; the Node SDK and the
    parameter builder lowercase it and strip whitespace, then hash it). Signalyard trims it
    and hashes it with SHA-256, and does **not** lowercase it: ids can be case-sensitive, and
    lowercasing would merge distinct customers. A value that already looks hashed is passed
    through by the caller (never hashed twice). Hash the Pixel's ``external_id`` the same
    way (SHA-256 of the trimmed id) so the two match.
    """
    return value.strip() or None
