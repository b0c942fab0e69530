"""How a consent action changes what Pinterest receives.

``ldu`` sends the event with Pinterest's Limited Data Processing flag
(``custom_data.opt_out_type: "LDP"``: the payload sends it for Meta's
``data_processing_options: ["LDU"]``, which this sets). Pinterest reads the person's state of
residence from the hashed ``st`` and ``country`` of the same event; when the event carries
none, those of the consent ``region`` (``US-CA`` -> SHA-256 of ``ca`` and ``us``) are added.

``no_pii`` removes every hashed identifier and keeps only what Pinterest needs to accept a
web event that names no one: Pinterest takes an event only with an e-mail, a mobile ad id or
the pair IP address + user agent (reference §5), so the user agent is kept with the IP
address **truncated to its network** (IPv4: the last octet zeroed, ``203.0.113.0``; IPv6:
the first 48 bits), which no longer points at one device; ``opt_out: true`` tells Pinterest
the person opted out of tracking. The ``epik`` click id travels beside them. Pure; the stored
event is never changed.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from signalyard.event import ServerEvent
from signalyard.transforms.consent import without_personal_data

__all__ = ["NO_PII_KEEP", "apply_consent", "truncated_ip"]

NO_PII_KEEP = frozenset(("client_user_agent", "client_ip_address"))
"""``user_data`` keys kept by ``no_pii`` (the IP address truncated)."""


def truncated_ip(value: object) -> str | None:
    """The network of an IP address: IPv4 /24, IPv6 /48 (``None`` if not an address)."""
    if not isinstance(value, str):
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apply_consent(event: ServerEvent, action: str, region: str | None) -> ServerEvent:
    """The event as sent under ``action`` (``full``: unchanged)."""
    if action == "ldu":
        out = dict(event)
        out["data_processing_options"] = ["LDU"]
        country, _, state = (region or "").strip().lower().partition("-")
        stored = event.get("user_data")
        user_data: dict[str, Any] = dict(stored) if isinstance(stored, dict) else {}
        if len(country) == 2 and country.isalpha() and not user_data.get("country"):
            user_data["country"] = [_sha256(country)]
            if len(state) == 2 and state.isalpha() and not user_data.get("st"):
                user_data["st"] = [_sha256(state)]
        out["user_data"] = user_data
        return out
    if action == "no_pii":
        out = without_personal_data(event, NO_PII_KEEP)
        user_data = dict(out.get("user_data") or {})
        network = truncated_ip(user_data.pop("client_ip_address", None))
        if network:
            user_data["client_ip_address"] = network
        out["user_data"] = user_data
        out["opt_out"] = True
        return out
    return event
