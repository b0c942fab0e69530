"""How a consent action changes what GA4 receives.

GA4 takes consent as data: the request's ``consent.ad_user_data`` and
``ad_personalization`` come from the event's consent state. ``ldu`` (a US opt-out of sale or
sharing) sends the event with both ``DENIED``, so Google uses it for measurement and never
for advertising, whatever the state said. ``no_pii`` sends no personal data: no hashed email
or phone, no IP address, and not the ``_ga`` cookie's client id either (a persistent
identifier of the browser), so the event goes with a client id made for it alone, as Google's
consent mode sends cookieless pings (or is refused, with ``missing_client_id=reject``). Pure;
the stored event is never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signalyard.event import ServerEvent
from signalyard.transforms.consent import without_personal_data

__all__ = ["NO_PII_KEEP", "apply_consent"]

NO_PII_KEEP: frozenset[str] = frozenset()
"""``user_data`` keys kept under ``no_pii``: none (GA4 is not sent the user agent)."""


def apply_consent(event: ServerEvent, action: str, region: str | None) -> ServerEvent:
    """The event as sent under ``action`` (``full``: unchanged)."""
    if action == "ldu":
        out = dict(event)
        stored = event.get("_consent")
        consent: dict[str, Any] = dict(stored) if isinstance(stored, Mapping) else {}
        consent["state"] = "denied"
        out["_consent"] = consent
        return out
    if action == "no_pii":
        out = without_personal_data(event, NO_PII_KEEP)
        browser = event.get("_browser_ids")
        if isinstance(browser, Mapping) and "ga" in browser:
            out["_browser_ids"] = {k: v for k, v in browser.items() if k != "ga"}
        return out
    return event
