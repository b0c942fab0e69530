"""Attribution: which click ids are Reddit's clicks, and its click windows.

Reddit's default click-through window is 28 days.
"""

from signalyard.attribution.windows import DAY, ClickWindows

CLICK_WINDOWS = ClickWindows(
    kinds=("rdt_cid",),
    default_seconds=28 * DAY,
    max_seconds=28 * DAY,
    channel="paid_social",
)
