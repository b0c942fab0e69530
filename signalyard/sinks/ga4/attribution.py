"""Attribution: GA4 has no click id of its own (Google Ads clicks are Google's), so no order is
credited to it; it takes no part in the click windows.
"""

from signalyard.attribution.windows import ClickWindows

CLICK_WINDOWS: ClickWindows | None = None
