"""How a consent action changes what Meta receives (reference meta-capi §2.5).

Meta has no consent field in the Conversions API, so consent decides *whether and how* an
event is sent: ``ldu`` sends it with Limited Data Use (``data_processing_options``, with the
US state's code when the region names one Meta lists, else geolocation by Meta), ``no_pii``
keeps only the browser cookies and the user agent, which Meta needs to accept a website event.
Pure; the stored event is never changed.
"""

from __future__ import annotations

from signalyard.event import ServerEvent
from signalyard.transforms.consent import without_personal_data

__all__ = ["LDU_STATE", "NO_PII_KEEP", "apply_consent"]

LDU_STATE = {
    "CA": 1000,
    "CO": 1001,
    "CT": 1002,
    "FL": 1003,
    "OR": 1004,
    "TX": 1005,
    "MT": 1006,
    "DE": 1007,
    "NE": 1008,
    "NH": 1009,
    "NJ": 1010,
    "MN": 1011,
    "MD": 1012,
    "RI": 1013,
}
"""Meta's Limited Data Use state codes, by US state."""

NO_PII_KEEP = frozenset(("fbp", "fbc", "client_user_agent"))
"""``user_data`` keys kept by ``no_pii``: pseudonymous, and what a website event needs."""


def apply_consent(event: ServerEvent, action: str, region: str | None) -> ServerEvent:
    """The event as sent under ``action`` (``full``: unchanged)."""
    if action == "ldu":
        out = dict(event)
        out["data_processing_options"] = ["LDU"]
        country, _, state = (region or "").partition("-")
        if country == "US" and state in LDU_STATE:
            out["data_processing_options_country"] = 1
            out["data_processing_options_state"] = LDU_STATE[state]
        else:
            out["data_processing_options_country"] = 0
            out["data_processing_options_state"] = 0
        return out
    if action == "no_pii":
        return without_personal_data(event, NO_PII_KEEP)
    return event
