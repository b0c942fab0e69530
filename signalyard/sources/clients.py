"""Who a client is, for the limits counted per client (body budget, dashboard logins)."""

from __future__ import annotations

import ipaddress

__all__ = ["client_key"]


def client_key(address: str) -> str:
    """What a per-client limit counts against: an IPv4 address as it is, an IPv6 address's
    /64 (one subscriber's usual allocation: its addresses share one limit), an IPv4-mapped
    IPv6 address as its IPv4 address; anything else (not an address) as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return f"{ipaddress.IPv6Address(int(ip) >> 64 << 64)}/64"
    return str(ip)
