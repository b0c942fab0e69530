"""Format predicates for ``user_data`` values (reference §3.1, §3.2, §11.10-12).

Pure functions, no rules about what to do with a failure: :mod:`.validate` decides that.
"""

from __future__ import annotations

import ipaddress
import re

#: Keys Meta wants SHA-256 hashed (``external_id``: hashing recommended, not required).
HASHED_KEYS = frozenset(
    {"em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id"}
)
#: Legacy/SDK hashed keys Meta may no longer use (ref §3.1); accepted, format-checked.
LEGACY_HASHED_KEYS = frozenset({"f5first", "f5last", "fi", "dobd", "dobm", "doby", "app_user_id"})
#: Keys that must be sent as they are, never hashed.
NEVER_HASHED_KEYS = frozenset(
    {
        "client_ip_address",
        "client_user_agent",
        "fbc",
        "fbp",
        "subscription_id",
        "fb_login_id",
        "lead_id",
        "anon_id",
        "madid",
        "page_id",
        "page_scoped_user_id",
        "ctwa_clid",
        "ig_account_id",
        "ig_sid",
        "whatsapp_business_account_id",
        "instagram_business_account_id",
    }
)
KNOWN_USER_DATA_KEYS = HASHED_KEYS | LEGACY_HASHED_KEYS | NEVER_HASHED_KEYS

# 64-hex SHA-256 (or 32-hex MD5), optionally ``.`` + a 2-char legacy token or an 8-char
# Parameter Builder appendix (ref §3.2).
_HASHED = re.compile(
    r"(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{32})(?:\.[A-Za-z0-9_-]{2}|\.[A-Za-z0-9_-]{8})?"
)
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{32}")
# fb.{subdomainIndex}.{creationTime ms}.{payload}[.{appendix}] (ref §11.12).
_COOKIE = re.compile(r"fb\.(\d+)\.(\d+)\.[^.]+(?:\.[A-Za-z0-9_-]{2}|\.[A-Za-z0-9_-]{8})?")
_APPENDIX = re.compile(r"[A-Za-z0-9_-]{2}|[A-Za-z0-9_-]{8}")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def looks_hashed(value: str) -> bool:
    """A SHA-256/MD5 hex digest, with or without an appendix: what hashed fields must hold."""
    return _HASHED.fullmatch(value) is not None


def is_hex_digest(value: str) -> bool:
    """A bare 64- or 32-hex string: what never-hashed fields must *not* hold."""
    return _HEX_DIGEST.fullmatch(value) is not None


def cookie_format(value: str) -> str | None:
    """``None`` if ``value`` is a well-formed ``fbc``/``fbp``, else what is wrong."""
    m = _COOKIE.fullmatch(value)
    if m is None:
        return "must look like fb.<subdomain index>.<creation time ms>.<value>[.<appendix>]"
    if len(m.group(2)) < 13:
        return "creation time must be Unix milliseconds (13 digits), not seconds"
    return None


def valid_ip(value: str) -> bool:
    """A valid IPv4/IPv6 address, optionally followed by a Parameter Builder appendix."""
    if _IPV4.fullmatch(value) is not None:
        return True
    try:
        ipaddress.ip_address(value)
    except ValueError:
        base, dot, appendix = value.rpartition(".")
        if not dot or _APPENDIX.fullmatch(appendix) is None:
            return False
        try:
            ipaddress.ip_address(base)
        except ValueError:
            return False
    return True
