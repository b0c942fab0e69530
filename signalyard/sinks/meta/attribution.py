"""Attribution: which click ids are Meta's clicks, and its click windows.

Meta's default attribution setting is 7-day click; 28-day click survives as a reporting window
(the 7- and 28-day view windows left the Ads Insights API on 2026-01-12).

``ctwa_clid`` is the click on a click-to-WhatsApp ad that opened a chat: a sale closed in that
chat (a ``business_messaging`` Purchase carrying it) is that ad's, whenever it is closed; and
``referral_ad_id`` the click-to-Messenger or click-to-Instagram ad that opened one (its
webhook's ``referral.ad_id``, on an event of that chat), likewise.
"""

from signalyard.attribution.windows import DAY, ClickWindows

CLICK_WINDOWS = ClickWindows(
    kinds=("fbclid", "ctwa_clid", "referral_ad_id"),
    default_seconds=7 * DAY,
    max_seconds=28 * DAY,
    channel="paid_social",
)
