"""The checks LinkedIn makes of a conversion event, in two kinds (LinkedIn's Conversions API docs):

*Shape* (:func:`check_shape`): what Rest.li's schema validation refuses before anything is
taken: the request is answered 400 ``ERROR :: /elements/<i>/<field> :: <why>`` and nothing
is recorded. A record that is not one, a required field missing (``conversion``,
``conversionHappenedAt``, ``user``, ``user.userIds``, ``idType``/``idValue``, ``userInfo``'s
``firstName``/``lastName``, ``conversionValue``'s ``currencyCode``/``amount``), a value of
the wrong type (``conversionHappenedAt`` must be a long, ``amount`` a string), a field the
schema does not know, an ``idType`` outside the enum, more than one ``externalIds``.

*Meaning* (:func:`check_meaning`): what LinkedIn refuses per element, answered in the batch
answer as that element's ``{"status": 400, "error": {...}}`` while the others are taken:
``conversionHappenedAt`` more than 90 days ago or more than 10 minutes ahead; no user id
(an empty ``userIds`` without ``userInfo``); a ``SHA256_EMAIL`` that is not a SHA-256 hex
digest (a plaintext address is refused without being echoed).

Diagnostics (accepted, counted at ``/_sandbox/summary``): ``no_event_id`` (nothing to
deduplicate against the Insight Tag), ``uppercase_hash`` (LinkedIn asks for lowercase hex),
``no_value`` (a conversion without ``conversionValue``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from ..diagnostics import NO_DIAGNOSTICS, Diagnostic
from . import errors

__all__ = [
    "CONVERSION_URN",
    "ID_TYPES",
    "MAX_AGE_MS",
    "MAX_BATCH",
    "Checked",
    "check_meaning",
    "check_shape",
    "rule_id_of",
]

MAX_BATCH: Final = 5000
MAX_AGE_MS: Final = 90 * 86400 * 1000
MAX_AHEAD_MS: Final = 600 * 1000
CONVERSION_URN: Final = re.compile(r"urn:lla:llaPartnerConversion:([0-9]{1,20})")
ID_TYPES: Final = frozenset(
    ("SHA256_EMAIL", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "AXCIOM_ID", "ORACLE_MOAT_ID")
)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_AMOUNT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,10})?")
_FIELDS = {
    "": {"conversion", "conversionHappenedAt", "conversionValue", "eventId", "user"},
    "/user": {"userIds", "userInfo", "externalIds"},
    "/user/userInfo": {"firstName", "lastName", "companyName", "title", "countryCode"},
    "/conversionValue": {"currencyCode", "amount"},
}
REQUIRED = "field is required but not found and has no default value"

#: Coverage bits of an accepted element (``/_sandbox/summary``).
BIT: Final = {"sha256_email": 1, "li_fat_id": 2, "user_info": 4, "other_id": 8}


@dataclass(slots=True)
class Checked:
    """One element whose shape passed, with what its meaning gave."""

    index: int
    raw: dict[str, Any]
    rule_id: str
    event_id: str | None
    happened_at: int
    error: str | None = None
    diagnostics: tuple[Diagnostic, ...] = NO_DIAGNOSTICS
    mask: int = 0

    @property
    def accepted(self) -> bool:
        return self.error is None


def rule_id_of(element: Any) -> str | None:
    """The rule id of an element's ``conversion`` URN, or None."""
    if not isinstance(element, dict):
        return None
    urn = element.get("conversion")
    found = CONVERSION_URN.fullmatch(urn) if isinstance(urn, str) else None
    return found.group(1) if found else None


def _kind(value: Any) -> str:
    return {
        dict: "record",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "long",
        float: "double",
    }.get(type(value), "null")


def _fields(record: dict[str, Any], base: str, where: str) -> None:
    for key in record:
        if key not in _FIELDS[where]:
            raise errors.invalid(
                f"{base}{where}/{str(key)[:64]}", "unrecognized field found but not allowed"
            )


def _record(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.invalid(path, f"{_kind(value)} cannot be coerced to record")
    return value


def _string(record: dict[str, Any], key: str, path: str, *, required: bool) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise errors.invalid(f"{path}/{key}", REQUIRED)
        return None
    if not isinstance(value, str):
        raise errors.invalid(f"{path}/{key}", f"{_kind(value)} is not a string")
    return value


def check_shape(element: Any, index: int, base: str) -> Checked:
    """The element's shape (``base``: ``/elements/<index>``, or empty for a single create);
    raises the 400 :class:`~.errors.LinkedInError` naming the first field that fails."""
    record = _record(element, base or "/")
    _fields(record, base, "")
    urn = _string(record, "conversion", base, required=True)
    found = CONVERSION_URN.fullmatch(urn or "")
    if found is None:
        raise errors.invalid(f"{base}/conversion", "invalid urn: urn:lla:llaPartnerConversion:<id>")
    happened = record.get("conversionHappenedAt")
    if happened is None:
        raise errors.invalid(f"{base}/conversionHappenedAt", REQUIRED)
    if isinstance(happened, bool) or not isinstance(happened, int):
        raise errors.invalid(f"{base}/conversionHappenedAt", f"{_kind(happened)} is not a long")
    if "conversionValue" in record:
        value = _record(record["conversionValue"], f"{base}/conversionValue")
        _fields(value, base, "/conversionValue")
        currency = _string(value, "currencyCode", f"{base}/conversionValue", required=True)
        if not _CURRENCY.fullmatch(currency or ""):
            raise errors.invalid(f"{base}/conversionValue/currencyCode", "not an ISO 4217 code")
        amount = _string(value, "amount", f"{base}/conversionValue", required=True)
        if not _AMOUNT.fullmatch(amount or ""):
            raise errors.invalid(f"{base}/conversionValue/amount", "not a decimal number")
    event_id = _string(record, "eventId", base, required=False)
    if "user" not in record:
        raise errors.invalid(f"{base}/user", REQUIRED)
    user = _record(record["user"], f"{base}/user")
    _fields(user, base, "/user")
    ids = user.get("userIds")
    if ids is None:
        raise errors.invalid(f"{base}/user/userIds", REQUIRED)
    if not isinstance(ids, list):
        raise errors.invalid(f"{base}/user/userIds", f"{_kind(ids)} is not an array")
    for j, item in enumerate(ids):
        path = f"{base}/user/userIds/{j}"
        one = _record(item, path)
        id_type = _string(one, "idType", path, required=True)
        if id_type not in ID_TYPES:
            raise errors.invalid(f"{path}/idType", f"{str(id_type)[:40]!r} is not an enum symbol")
        _string(one, "idValue", path, required=True)
    if "userInfo" in user:
        info = _record(user["userInfo"], f"{base}/user/userInfo")
        _fields(info, base, "/user/userInfo")
        for key in ("firstName", "lastName"):
            _string(info, key, f"{base}/user/userInfo", required=True)
        for key in ("companyName", "title", "countryCode"):
            _string(info, key, f"{base}/user/userInfo", required=False)
    external = user.get("externalIds")
    if external is not None and (
        not isinstance(external, list)
        or len(external) > 1
        or not all(isinstance(e, str) for e in external)
    ):
        raise errors.invalid(f"{base}/user/externalIds", "at most one string is allowed")
    return Checked(index, record, found.group(1), event_id, happened)


def check_meaning(c: Checked, now: float) -> Checked:
    """Fill in the element's own refusal (``error``), diagnostics and coverage mask."""
    now_ms = int(now * 1000)
    if c.happened_at < now_ms - MAX_AGE_MS:
        c.error = (
            f"conversionHappenedAt {c.happened_at} is more than 90 days in the past;"
            " conversions older than 90 days are not accepted"
        )
        return c
    if c.happened_at > now_ms + MAX_AHEAD_MS:
        c.error = f"conversionHappenedAt {c.happened_at} is in the future"
        return c
    user = c.raw["user"]
    ids: list[dict[str, Any]] = user["userIds"]
    found: list[Diagnostic] = []
    for j, one in enumerate(ids):
        value = one["idValue"]
        if one["idType"] == "SHA256_EMAIL":
            if not _HEX64.fullmatch(value):
                plain = "@" in value
                c.error = (
                    f"/user/userIds/{j}/idValue: SHA256_EMAIL must be the SHA-256 hex digest of"
                    " the lowercased email" + (" (a plaintext email was sent)" if plain else "")
                )
                return c
            if value != value.lower():
                found.append(
                    Diagnostic(
                        "uppercase_hash",
                        f"user.userIds.{j}.idValue",
                        "SHA256_EMAIL should be lowercase hex",
                    )
                )
            c.mask |= BIT["sha256_email"]
        elif one["idType"] == "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID":
            c.mask |= BIT["li_fat_id"] if value.strip() else 0
        else:
            c.mask |= BIT["other_id"]
    if "userInfo" in user:
        c.mask |= BIT["user_info"]
    if not ids and "userInfo" not in user:
        c.error = "At least one user identifier (user.userIds) or user.userInfo is required"
        return c
    if c.event_id is None:
        found.append(
            Diagnostic(
                "no_event_id", "eventId", "no eventId: cannot be deduplicated with the Insight Tag"
            )
        )
    if "conversionValue" not in c.raw:
        found.append(Diagnostic("no_value", "conversionValue", "no conversion value"))
    c.diagnostics = tuple(found)
    return c
