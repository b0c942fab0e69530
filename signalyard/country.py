"""A dataset's default country: checking an ISO code, and reading one from the locale.

The default country completes national phone numbers (``0912 345 678`` in VN) into E.164.
A new install takes it from the operator (asked on a terminal) or from the locale of the
process (``LC_ALL``, then ``LANG``: ``en_US.UTF-8`` gives ``US``), and says which; it is never
guessed from phone digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CountryChoice", "country_code", "country_from_locale"]

_LOCALE = re.compile(r"^[A-Za-z]{2,3}_([A-Za-z]{2})(?:[.@]|$)")
"""``language_TERRITORY[.codeset][@modifier]`` (POSIX locale names)."""
LOCALE_VARIABLES = ("LC_ALL", "LANG")


@dataclass(frozen=True, slots=True)
class CountryChoice:
    country: str | None
    """ISO 3166-1 alpha-2, or ``None``: national numbers cannot be completed."""
    source: str
    """Where it came from, said to the operator: ``the locale en_US.UTF-8``."""


def country_code(value: str) -> str:
    """``value`` as an upper-case ISO 3166-1 alpha-2 code; ``ValueError`` naming the rule."""
    import pycountry

    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code such as VN or US")
    return code


def country_from_locale(environ: Mapping[str, str]) -> CountryChoice | None:
    """The territory of the first locale variable set (``LC_ALL``, then ``LANG``), when it is a
    country; ``None`` for ``C``, ``POSIX``, ``C.UTF-8``, a bare language or nothing set."""
    for variable in LOCALE_VARIABLES:
        name = environ.get(variable, "").strip()
        if not name:
            continue
        match = _LOCALE.match(name)
        if match is None:
            return None
        try:
            return CountryChoice(country_code(match[1]), f"the locale {name} (${variable})")
        except ValueError:
            return None
    return None
