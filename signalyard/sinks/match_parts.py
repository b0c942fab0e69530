"""Match-model pieces the ``quality.py`` of every kind that borrows Meta's weights shares: the
IP and user-agent pair, its two columns, and the advice for the keys every such kind names
alike (see :mod:`signalyard.sinks.meta.quality` for the weights)."""

from __future__ import annotations

from typing import Final

from signalyard.insights.quality import Column, Pair

__all__ = ["EMAIL_ADVICE", "IP_UA", "IP_UA_COLUMNS", "SHARED_ADVICE"]

IP_UA: Final = Pair("client_ip_address", "client_user_agent", 0.30, 0.10, 0.02)
"""The pair as Meta uses it (IP alone 0.10, user agent alone 0.02)."""

IP_UA_COLUMNS: Final = (
    Column("IP", ("client_ip_address",)),
    Column("UA", ("client_user_agent",)),
)

EMAIL_ADVICE: Final = (0.6, "send the customer's email when you have it (checkout, sign-up, CRM)")
"""The advice for ``em`` when the platform takes Meta's hash of it."""

SHARED_ADVICE: Final[dict[str, tuple[float, str]]] = {
    "external_id": (
        0.5,
        "send your own customer id as external_id, the same in browser and server",
    ),
    "client_ip_address": (0.8, "server events should forward the browser's IP address"),
    "client_user_agent": (0.8, "server events should forward the browser's user agent"),
}
"""The advice for ``external_id``, the IP address and the user agent, last in a model's."""
