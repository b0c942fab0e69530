"""How a consent action changes what TikTok receives.

``ldu`` marks the event for Limited Data Use (the payload sends ``limited_data_use: true``,
as it does for an event that arrived with ``data_processing_options: ["LDU"]``); ``no_pii``
keeps only the user agent in ``user_data`` (the ``_ttp`` cookie and the click id travel
beside it and name no one). Pure; the stored event is never changed.
"""

from __future__ import annotations

from signalyard.event import ServerEvent
from signalyard.transforms.consent import without_personal_data

__all__ = ["NO_PII_KEEP", "apply_consent"]

NO_PII_KEEP = frozenset(("client_user_agent",))


def apply_consent(event: ServerEvent, action: str, region: str | None) -> ServerEvent:
    """The event as sent under ``action`` (``full``: unchanged)."""
    if action == "ldu":
        out = dict(event)
        out["data_processing_options"] = ["LDU"]
        return out
    if action == "no_pii":
        return without_personal_data(event, NO_PII_KEEP)
    return event
