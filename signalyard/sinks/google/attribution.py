"""Attribution: which click ids are Google's clicks, and its click windows.

A Google Ads conversion action's click-through window is 30 days by default and at most 90
(`click_through_lookback_window_days`).
"""

from signalyard.attribution.windows import DAY, ClickWindows

CLICK_WINDOWS = ClickWindows(
    kinds=("gclid", "gbraid", "wbraid"),
    default_seconds=30 * DAY,
    max_seconds=90 * DAY,
    channel="paid_search",
)
