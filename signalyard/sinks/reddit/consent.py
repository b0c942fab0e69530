"""How a consent action changes what Reddit receives.

``ldu`` marks the event for Reddit's Limited Data Use: the payload sends
``user.data_processing_options = {"modes": ["LDU"], "country", "region"}`` with the person's
region (``US-CA`` -> country ``US``, region ``US-CA``), as it does for an event that arrived
with Meta's ``data_processing_options: ["LDU"]``. ``no_pii`` keeps only the user agent in
``user_data``: the e-mail, phone, external id and the IP address (Reddit takes it hashed, but
it still names a person) go, with the identity variants made from them; the ``_rdt_uuid``
cookie and the click id travel beside ``user_data`` and name no one. Pure; the stored event
is never changed.
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
        if region:
            out["_ldu_region"] = region
        return out
    if action == "no_pii":
        return without_personal_data(event, NO_PII_KEEP)
    return event
