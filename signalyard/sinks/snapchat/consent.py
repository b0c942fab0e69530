"""How a consent action changes what Snap receives.

``ldu`` marks the event for limited use: the payload sends ``data_processing_options:
["LMU"]``, the value Snap's own request example uses (Snap's Parameters page lists "LMU"
among the root fields; Segment's Snap destination sends Meta's ``"LDU"`` instead, so the
exact value is unconfirmed, see docs/destinations/snapchat.md). ``no_pii`` keeps only the
user agent in ``user_data``: the ``ScCid`` click id and the ``_scid`` cookie travel beside it
and name no one. Pure; the stored event is never changed.
"""

from __future__ import annotations

from signalyard.event import ServerEvent
from signalyard.sinks.snapchat.payload import LIMITED_USE
from signalyard.transforms.consent import without_personal_data

__all__ = ["NO_PII_KEEP", "apply_consent"]

NO_PII_KEEP = frozenset(("client_user_agent",))


def apply_consent(event: ServerEvent, action: str, region: str | None) -> ServerEvent:
    """The event as sent under ``action`` (``full``: unchanged)."""
    if action == "ldu":
        out = dict(event)
        out["data_processing_options"] = [LIMITED_USE]
        return out
    if action == "no_pii":
        return without_personal_data(event, NO_PII_KEEP)
    return event
