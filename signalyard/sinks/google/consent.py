"""How a consent action changes what Google receives.

Google takes consent as data: the payload sends ``consent.adUserData`` and
``adPersonalization`` from the event's consent state. ``ldu`` (a US opt-out of sale or
sharing) sends the event with both ``CONSENT_DENIED``, so Google uses it for measurement only
and never for personalization, whatever the state said; ``no_pii`` keeps only the user agent
in ``user_data`` (the click ids travel beside it). Pure; the stored event is never changed.
"""

from __future__ import annotations

from typing import Any

from signalyard.event import ServerEvent
from signalyard.transforms.consent import without_personal_data

__all__ = ["NO_PII_KEEP", "apply_consent"]

NO_PII_KEEP = frozenset(("client_user_agent",))


def apply_consent(event: ServerEvent, action: str, region: str | None) -> ServerEvent:
    """The event as sent under ``action`` (``full``: unchanged)."""
    if action == "ldu":
        out = dict(event)
        stored = event.get("_consent")
        consent: dict[str, Any] = dict(stored) if isinstance(stored, dict) else {}
        consent["state"] = "denied"
        out["_consent"] = consent
        return out
    if action == "no_pii":
        return without_personal_data(event, NO_PII_KEEP)
    return event
