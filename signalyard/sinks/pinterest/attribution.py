"""Attribution: which click ids are Pinterest's clicks, and its click windows.

Pinterest attributes clicks within 30 days by default, which is also the longest click window.
"""

from signalyard.attribution.windows import DAY, ClickWindows

CLICK_WINDOWS = ClickWindows(
    kinds=("epik",),
    default_seconds=30 * DAY,
    max_seconds=30 * DAY,
    channel="paid_social",
)
