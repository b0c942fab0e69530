"""How a consent action changes what LinkedIn receives.

LinkedIn's Conversions API has no restricted-processing flag (no equivalent of Meta's Limited
Data Use or Google's consent fields): an event LinkedIn receives is used for attribution and
optimization in full. So both actions withhold what names a person:

- ``no_pii`` keeps only the user agent in ``user_data`` (LinkedIn is not sent it anyway): the
  hashed email goes, and only LinkedIn's own first-party click id ``li_fat_id`` (kept in
  ``_click_ids``, set by LinkedIn's own ad click) can still attribute the event;
- ``ldu`` (a person who opted out of the sale or sharing of their data) is applied the same
  way, since LinkedIn cannot be told to restrict what it is sent.

An event left without any user id is then refused before sending (LinkedIn requires one).
Pure; the stored event is never changed.
"""

from __future__ import annotations

from signalyard.event import ServerEvent
from signalyard.transforms.consent import without_personal_data

__all__ = ["NO_PII_KEEP", "apply_consent"]

NO_PII_KEEP = frozenset(("client_user_agent",))


def apply_consent(event: ServerEvent, action: str, region: str | None) -> ServerEvent:
    """The event as sent under ``action`` (``full``: unchanged)."""
    if action in ("ldu", "no_pii"):
        return without_personal_data(event, NO_PII_KEEP)
    return event
