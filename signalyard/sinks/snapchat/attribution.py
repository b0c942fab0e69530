"""Attribution: which click ids are Snapchat's clicks, and its click windows.

Snapchat's default swipe-up (click) window is 28 days.
"""

from signalyard.attribution.windows import DAY, ClickWindows

CLICK_WINDOWS = ClickWindows(
    kinds=("ScCid",),
    default_seconds=28 * DAY,
    max_seconds=28 * DAY,
    channel="paid_social",
)
