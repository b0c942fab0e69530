"""The first start of ``serve``: the demo dataset's default country, asked or read from the
locale, and said aloud (it completes national phone numbers, so a wrong one is costly)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping

import click

from signalyard.country import CountryChoice, country_code, country_from_locale
from signalyard.runtime import DEMO_DATASET, settings_country
from signalyard.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["choose_country", "country_message"]


def choose_country(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    interactive: bool | None = None,
    ask: Callable[..., str] = click.prompt,
) -> CountryChoice:
    """The ``default_country`` setting when set; else, on a terminal, the operator's answer
    (the locale's country offered as the default); else the locale's country, or none."""
    if settings.default_country:
        return settings_country(settings)
    from_locale = country_from_locale(environ)
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not interactive:
        return from_locale or CountryChoice(None, _no_locale(environ))
    answer = ask(
        "Default country of the demo dataset, to complete phone numbers written without"
        " +country code (ISO code such as US or VN; '-' for none)",
        default=from_locale.country if from_locale and from_locale.country else "-",
        value_proc=_answer,
    )
    return CountryChoice(None if answer == "-" else answer, "your answer")


def _answer(value: str) -> str:
    if value.strip() == "-":
        return "-"
    try:
        return country_code(value)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def _no_locale(environ: Mapping[str, str]) -> str:
    name = environ.get("LC_ALL") or environ.get("LANG")
    return f"the locale {name} names no country" if name else "no locale is set (LC_ALL, LANG)"


def country_message(choice: CountryChoice, dataset_id: str = DEMO_DATASET) -> str:
    """What ``serve`` says (and logs) about the demo dataset's default country."""
    change = f"`signalyard datasets set-country {dataset_id} XX`"
    if choice.country is None:
        text = (
            f"No default country for dataset {dataset_id} ({choice.source}): national phone"
            " numbers (written without a +country code) cannot be completed and are left out"
            f" of its events; set one with {change}"
        )
    else:
        text = f"Default country {choice.country}, from {choice.source}; change with {change}"
    log.info("%s", text)
    return text
