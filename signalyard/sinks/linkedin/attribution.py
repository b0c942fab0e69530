"""Attribution: which click ids are Linkedin's clicks, and its click windows.

LinkedIn's conversion click window is 30 days by default and at most 90.
"""

from signalyard.attribution.windows import DAY, ClickWindows

CLICK_WINDOWS = ClickWindows(
    kinds=("li_fat_id",),
    default_seconds=30 * DAY,
    max_seconds=90 * DAY,
    channel="paid_social",
)
