"""Diagnostics: what a platform accepts but flags in an event, and how many a recorded event
keeps (all are counted in the statistics).

Meta's and TikTok's sandboxes say which ones (``sandbox/<platform>/validate.py``); a
recorded event keeps its first :data:`MAX_DIAGNOSTICS`, their field and message cut (they may
name a key the sender made up, of any length).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .clip import MAX_KEY, clip_text

MAX_DIAGNOSTICS = 32
"""Diagnostics kept per recorded event (all of them are counted in the statistics)."""
DIAGNOSTIC_OVERHEAD = 128
"""Bytes a kept diagnostic costs beyond its strings."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """Something the platform accepts but flags: ``code`` is stable, ``field`` a dotted
    path."""

    code: str
    field: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "message": self.message}


NO_DIAGNOSTICS: tuple[Diagnostic, ...] = ()


def stored_diagnostics(diagnostics: tuple[Diagnostic, ...]) -> tuple[Diagnostic, ...]:
    """The first :data:`MAX_DIAGNOSTICS` of ``diagnostics``, their field and message cut."""
    if not diagnostics:
        return NO_DIAGNOSTICS
    return tuple(
        Diagnostic(d.code, clip_text(d.field, MAX_KEY), clip_text(d.message))
        for d in diagnostics[:MAX_DIAGNOSTICS]
    )


def diagnostics_footprint(diagnostics: Iterable[Diagnostic]) -> int:
    """The bytes kept diagnostics weigh, as a recorded event's footprint counts them."""
    return sum(
        DIAGNOSTIC_OVERHEAD + len(d.code) + len(d.field) + len(d.message) for d in diagnostics
    )
