"""Click windows: how long after its click an order may still be credited to a platform.

Each platform declares its own in its folder (``SinkSpec.click_attribution``, a
:class:`ClickWindows`): the click id kinds that are its clicks, and its window under each
profile. Two profiles ship:

- ``platform-default`` (the default): each platform's own default click window, so that our
  credit compares like with like with what the platform reports;
- ``max``: the longest click window each platform offers, the figures shop owners quote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_PROFILE", "PROFILES", "ClickWindows", "WindowTable"]

DAY = 86400
DEFAULT_PROFILE = "platform-default"
PROFILES = ("platform-default", "max")


@dataclass(frozen=True, slots=True)
class ClickWindows:
    """What a platform declares for attribution."""

    kinds: tuple[str, ...]
    """The click id kinds that are this platform's clicks (``gclid``, ``gbraid``...)."""
    default_seconds: int
    """Its default click window (``platform-default``)."""
    max_seconds: int
    """The longest click window it offers (``max``)."""
    channel: str = "paid_social"
    """The channel its clicks are (``paid_social``, ``paid_search``)."""

    def seconds(self, profile: str) -> int:
        return self.max_seconds if profile == "max" else self.default_seconds


@dataclass(frozen=True, slots=True)
class WindowTable:
    """Every platform's windows (built from the registry) under one profile."""

    profile: str
    by_platform: Mapping[str, ClickWindows]

    @classmethod
    def of(cls, declared: Iterable[tuple[str, ClickWindows | None]], profile: str) -> WindowTable:
        if profile not in PROFILES:
            raise ValueError(f"window profile must be one of {', '.join(PROFILES)}")
        return cls(profile, {kind: w for kind, w in declared if w is not None})

    @property
    def seconds(self) -> dict[str, int]:
        """Platform -> its window under this profile (what the model takes)."""
        return {p: w.seconds(self.profile) for p, w in self.by_platform.items()}

    def other(self) -> WindowTable:
        """The same platforms under the other profile."""
        return WindowTable(
            PROFILES[1] if self.profile == PROFILES[0] else PROFILES[0], self.by_platform
        )

    @property
    def platform_of_kind(self) -> dict[str, str]:
        """Click id kind -> platform."""
        return {kind: p for p, w in self.by_platform.items() for kind in w.kinds}

    @property
    def channel_of_kind(self) -> dict[str, str]:
        """Click id kind -> the channel of its platform's clicks."""
        return {kind: w.channel for w in self.by_platform.values() for kind in w.kinds}
