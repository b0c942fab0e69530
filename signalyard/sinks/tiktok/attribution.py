"""Attribution: which click ids are TikTok's clicks, and its click windows.

TikTok's default click-through window is 7 days; 28 days is the longest it offers.
"""

from signalyard.attribution.windows import DAY, ClickWindows

CLICK_WINDOWS = ClickWindows(
    kinds=("ttclid",),
    default_seconds=7 * DAY,
    max_seconds=28 * DAY,
    channel="paid_social",
)
