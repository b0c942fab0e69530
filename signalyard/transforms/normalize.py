"""Normalizers for the hashed ``user_data`` keys, one per key (reference §3.1, §3.4).

Each takes the plaintext value and returns its normalized form, ready to hash, or ``None``
when the value is unusable (the caller drops it with a warning). They are pure and never
raise on any ``str``. ``RULES`` says, per key, what a usable value is (used in warnings, which
never quote the value: it is personal data).

They follow Meta's customer-information rules more closely than the official SDKs do:
phone numbers are completed with the dataset's country through ``phonenumbers``, dates of
birth are parsed from common formats, US/Canadian state names and country names are mapped to
their codes, and non-Latin letters are kept in names and cities.

The phone and date-of-birth normalizers, the largest, live in :mod:`.phone` and
:mod:`.birthdate`; they are re-exported here, so callers import every normalizer from this
module.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final

# Imported into this namespace (not wrapped): the per-call path has no extra indirection.
from signalyard.transforms.birthdate import normalize_db
from signalyard.transforms.phone import normalize_ph, phone_e164, phone_rule

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


# --- character classes -------------------------------------------------------------------

# For ASCII text, bytes.translate is several times faster than str.translate with a table.
_ASCII_NON_ALNUM: Final = bytes(c for c in range(128) if not chr(c).isalnum())
_ASCII_NON_LOWER: Final = bytes(c for c in range(128) if not ("a" <= chr(c) <= "z"))


def _ascii_delete(value: str, delete: bytes) -> str:
    """``value`` (ASCII) without the characters in ``delete``."""
    return value.encode().translate(None, delete).decode()


_FILTER_LIMIT: Final = 1 << 16  # code points per table (a module constant: see setup.py)


class _CategoryFilter(dict[int, "int | None"]):
    """A ``str.translate`` table keeping the code points whose Unicode general category starts
    with one of ``keep`` (``L`` letters, ``M`` marks, ``N`` numbers) and deleting the rest.
    Filled lazily, bounded so that hostile input cannot grow it without limit."""

    def __init__(self, keep: str) -> None:
        super().__init__()
        self._keep = tuple(keep)

    def __missing__(self, cp: int) -> int | None:
        kept = cp if unicodedata.category(chr(cp))[0] in self._keep else None
        if len(self) < _FILTER_LIMIT:
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

_EMAIL: Final = re.compile(r"[^@\s]++@[^@\s.]++(?:\.[^@\s.]++)++")


def normalize_em(value: str) -> str | None:
    """Trimmed, lowercased; must look like ``name@domain.tld``."""
    v = value.strip().lower()
    return v if _EMAIL.fullmatch(v) else None


# --- fn, ln --------------------------------------------------------------------------------


def normalize_fn(value: str) -> str | None:
    """Lowercased, NFC, spaces and punctuation removed; letters of every script kept
    (``Valéry`` -> ``valéry``, ``정`` -> ``정``, ``Mary-Jane`` -> ``maryjane``)."""
    return _word(value) or None


normalize_ln = normalize_fn


# --- ge ------------------------------------------------------------------------------------

_GENDERS: Final[dict[str, str]] = {
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


_CACHED_TEXT: Final = 64
"""Longer values are normalized without their cache: a cache of 4,096 entries stays small
whatever clients send."""


def normalize_st(value: str) -> str | None:
    """A US state or Canadian province as its lowercase 2-letter code (``California`` ->
    ``ca``, ``Québec`` -> ``qc``, ``US-NY`` -> ``ny``); a 2-letter code as is, lowercased;
    any other region lowercased with spaces and punctuation removed (letters of any script
    kept: ``Île-de-France`` -> ``îledefrance``)."""
    if len(value) <= _CACHED_TEXT:
        return _normalize_st_cached(value)
    return _normalize_st(value)


@functools.lru_cache(maxsize=4096)
def _normalize_st_cached(value: str) -> str | None:
    return _normalize_st(value)


def _normalize_st(value: str) -> str | None:
    code = _state_table().get(_fold(value))
    if code is not None:
        return code
    return _letters(value) or None


# --- zp ------------------------------------------------------------------------------------

# Possessive: linear on any input (``\s*(?:[-+]|\s)\s*`` backtracked quadratically over a
# long run of spaces).
_US_ZIP4: Final = re.compile(r"(\d{5})(?:\s*+[-+]\s*+|\s++)\d{4}")


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


def normalize_country(value: str) -> str | None:
    """Lowercase ISO 3166-1 alpha-2 from an alpha-2, alpha-3 or numeric code or a common or
    official name, ignoring case, accents, spaces and punctuation (``USA``, ``United
    States``, ``Viet Nam``, ``UK`` -> ``gb``); ``None`` when not a known country."""
    if len(value) <= _CACHED_TEXT:
        return _normalize_country_cached(value)
    return _country_table().get(_fold(value))


@functools.lru_cache(maxsize=4096)
def _normalize_country_cached(value: str) -> str | None:
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
