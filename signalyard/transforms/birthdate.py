"""Dates of birth (``db``) to ``YYYYMMDD``, for hashing (reference §3.1).

:func:`normalize_db` reads the common written forms (compact, ISO, US and European numeric
orders, English month names) and keeps only dates that exist, with a plausible year.
:mod:`.normalize` re-exports it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable

__all__ = ["normalize_db"]

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
