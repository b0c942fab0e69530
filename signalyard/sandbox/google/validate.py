"""The API's own rules for ``events:ingest``, after :mod:`.schema` mapped the JSON.

Fail-fast (reference §1.3): one invalid record refuses the whole request, 400
``INVALID_ARGUMENT``, with every violation found (up to :data:`MAX_VIOLATIONS`) in a
``google.rpc.BadRequest`` and the first one's reason in the ``ErrorInfo``. Reasons are the
API's ``ErrorReason`` values.

Request
    ``destinations`` 1..10 (``TOO_MANY_DESTINATIONS``), each with ``operatingAccount``
    (``accountId``; ``accountType``, or the deprecated ``product``, not unspecified) and
    ``productDestinationId``; for Google Ads the account id and the conversion action id are
    digits (``INVALID_FORMAT``, ``INVALID_CONVERSION_ACTION_ID``); references unique
    (``DUPLICATE_DESTINATION_REFERENCE``). ``events`` 1..2000 (``TOO_MANY_EVENTS``).
    ``encoding`` (HEX or BASE64) is required as soon as an event carries ``userData``.
Event
    ``eventTimestamp`` required, not more than 5 minutes ahead (``EVENT_TIME_INVALID``);
    ``destinationReferences`` name destinations of the request; ``eventSource`` required for
    Google Ads destinations (since v1.2); ``userData.userIdentifiers`` 1..10
    (``TOO_MANY_USER_IDENTIFIERS``), each one of ``emailAddress``/``phoneNumber`` (SHA-256 in
    the request's encoding: plaintext is refused, ``INVALID_HEX_ENCODING`` /
    ``INVALID_BASE64_ENCODING``, a wrong length ``INVALID_SHA256_FORMAT``) or ``address``
    (``givenName``/``familyName`` hashed, ``regionCode`` ISO 3166-1 alpha-2
    (``INVALID_COUNTRY_CODE``), ``postalCode`` in plaintext (``INVALID_POSTAL_CODE``));
    at least one user identifier, ad identifier or Google Analytics id
    (``NO_IDENTIFIERS_PROVIDED``); IP addresses
    valid (``INVALID_FORMAT``); ``currency`` ISO 4217 (``INVALID_CURRENCY_CODE``); cart item
    quantities not negative (``INVALID_NUMBER_FORMAT``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import pycountry

from . import errors
from .errors import FieldViolation, GoogleError
from .schema import decode, parse_timestamp

MAX_DESTINATIONS = 10
MAX_EVENTS = 2000
MAX_IDENTIFIERS = 10
MAX_VIOLATIONS = 100
FUTURE_SKEW = 300
GOOGLE_ADS = "GOOGLE_ADS"
UNSPECIFIED = "CONSENT_STATUS_UNSPECIFIED"
AD_ID_FIELDS = ("gclid", "gbraid", "wbraid", "dclid", "mobileDeviceId", "sessionAttributes")
GA_ID_FIELDS = ("clientId", "userId", "appInstanceId")
"""Google Analytics' own identifiers of an event (destinations of type
GOOGLE_ANALYTICS_PROPERTY): they count as identifiers too."""
_HEX = re.compile(r"[0-9a-fA-F]*")
_DIGITS = re.compile(r"\d{1,20}")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class Destination:
    """One destination of a request: where its events go."""

    reference: str | None
    account_type: str
    account_id: str
    conversion_action: str
    login_account_id: str | None
    sent: dict[str, Any]

    @property
    def is_google_ads(self) -> bool:
        return self.account_type == GOOGLE_ADS


@dataclass(frozen=True, slots=True)
class CheckedEvent:
    """A valid event: what the recorder and the statistics need of it."""

    index: int
    event: dict[str, Any]
    transaction_id: str | None
    timestamp: float
    destinations: tuple[int, ...]
    keys: frozenset[str]
    ad_user_data: str
    ad_personalization: str


@dataclass(frozen=True, slots=True)
class CheckedRequest:
    destinations: tuple[Destination, ...]
    events: tuple[CheckedEvent, ...]
    validate_only: bool
    encoding: str | None


class _Violations:
    def __init__(self) -> None:
        self.found: list[FieldViolation] = []

    def add(self, field: str, description: str, reason: str) -> None:
        if len(self.found) < MAX_VIOLATIONS:
            self.found.append(FieldViolation(field, description, reason))

    def required(self, field: str) -> None:
        self.add(field, "Required field is missing.", "REQUIRED_FIELD_MISSING")

    @property
    def full(self) -> bool:
        return len(self.found) >= MAX_VIOLATIONS


def _account(v: _Violations, path: str, account: dict[str, Any]) -> tuple[str, str]:
    account_type = account.get("accountType")
    product = account.get("product")
    if account_type is None and product is not None:
        account_type = product
    elif account_type is not None and product is not None and product != account_type:
        v.add(
            f"{path}.product",
            "product and accountType must match when both are set.",
            "INVALID_ARGUMENT",
        )
    if account_type is None:
        v.required(f"{path}.accountType")
        account_type = ""
    elif account_type.endswith("_UNSPECIFIED"):
        v.add(f"{path}.accountType", "Enum value cannot be used.", "INVALID_ENUM_VALUE")
    account_id = account.get("accountId", "")
    if not account_id:
        v.required(f"{path}.accountId")
    elif account_type == GOOGLE_ADS and _DIGITS.fullmatch(account_id) is None:
        v.add(
            f"{path}.accountId",
            "A Google Ads account id is its customer id in digits, without dashes.",
            "INVALID_FORMAT",
        )
    return account_type, account_id


def _destinations(v: _Violations, raw: list[dict[str, Any]]) -> list[Destination]:
    out: list[Destination] = []
    references: set[str] = set()
    for i, dest in enumerate(raw):
        path = f"destinations[{i}]"
        operating = dest.get("operatingAccount")
        if operating is None:
            v.required(f"{path}.operatingAccount")
            account_type, account_id = "", ""
        else:
            account_type, account_id = _account(v, f"{path}.operatingAccount", operating)
        login = dest.get("loginAccount")
        if login is not None:
            _account(v, f"{path}.loginAccount", login)
        if dest.get("linkedAccount") is not None:
            _account(v, f"{path}.linkedAccount", dest["linkedAccount"])
        action = dest.get("productDestinationId", "")
        if not action:
            v.required(f"{path}.productDestinationId")
        elif account_type == GOOGLE_ADS and _DIGITS.fullmatch(action) is None:
            v.add(
                f"{path}.productDestinationId",
                "Conversion action ID is not valid: it is the conversion action's numeric id.",
                "INVALID_CONVERSION_ACTION_ID",
            )
        reference = dest.get("reference") or None
        if reference is not None:
            if reference in references:
                v.add(
                    f"{path}.reference",
                    "Two or more destinations in the request have the same reference.",
                    "DUPLICATE_DESTINATION_REFERENCE",
                )
            references.add(reference)
        out.append(
            Destination(
                reference=reference,
                account_type=account_type,
                account_id=account_id,
                conversion_action=action,
                login_account_id=None if login is None else login.get("accountId"),
                sent=dest,
            )
        )
    return out


def _hashed(v: _Violations, path: str, value: str, encoding: str | None) -> None:
    """A SHA-256 digest in the request's encoding; plaintext is refused."""
    if not value:
        v.required(path)
        return
    if encoding == "HEX":
        if _HEX.fullmatch(value) is None:
            v.add(
                path,
                "The HEX encoded value is malformed: send the SHA-256 hash of the normalized "
                "value as 64 hex digits, not the value itself.",
                "INVALID_HEX_ENCODING",
            )
        elif len(value) != 64:
            v.add(
                path,
                f"The SHA256 encoded value is malformed: {len(value)} hex digits, not 64.",
                "INVALID_SHA256_FORMAT",
            )
    elif encoding == "BASE64":
        try:
            raw = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            v.add(
                path,
                "The base64 encoded value is malformed: send the SHA-256 hash of the "
                "normalized value in base64, not the value itself.",
                "INVALID_BASE64_ENCODING",
            )
            return
        if len(raw) != 32:
            v.add(
                path,
                f"The SHA256 encoded value is malformed: {len(raw)} bytes, not 32.",
                "INVALID_SHA256_FORMAT",
            )


def _address(v: _Violations, path: str, address: dict[str, Any], encoding: str | None) -> None:
    for name in ("givenName", "familyName"):
        _hashed(v, f"{path}.{name}", address.get(name, ""), encoding)
    region = address.get("regionCode", "")
    if not region:
        v.required(f"{path}.regionCode")
    elif len(region) != 2 or pycountry.countries.get(alpha_2=region.upper()) is None:
        v.add(
            f"{path}.regionCode",
            "Country code is not valid: a 2-letter ISO 3166-1 alpha-2 code, in plaintext.",
            "INVALID_COUNTRY_CODE",
        )
    postal = address.get("postalCode", "")
    if not postal:
        v.required(f"{path}.postalCode")
    elif _SHA256_HEX.fullmatch(postal) or len(postal) > 32:
        v.add(
            f"{path}.postalCode",
            "Postal code is not valid: it is sent in plaintext, not hashed.",
            "INVALID_POSTAL_CODE",
        )


def _user_data(
    v: _Violations, path: str, user_data: dict[str, Any], encoding: str | None
) -> set[str]:
    keys: set[str] = set()
    identifiers = user_data.get("userIdentifiers", [])
    if not identifiers:
        v.required(f"{path}.userIdentifiers")
        return keys
    if len(identifiers) > MAX_IDENTIFIERS:
        v.add(
            f"{path}.userIdentifiers",
            f"Maximum number of user identifiers allowed is {MAX_IDENTIFIERS}; "
            f"this event has {len(identifiers)}.",
            "TOO_MANY_USER_IDENTIFIERS",
        )
        return keys
    for j, ident in enumerate(identifiers):
        at = f"{path}.userIdentifiers[{j}]"
        if "emailAddress" in ident:
            keys.add("email")
            _hashed(v, f"{at}.emailAddress", ident["emailAddress"], encoding)
        elif "phoneNumber" in ident:
            keys.add("phone")
            _hashed(v, f"{at}.phoneNumber", ident["phoneNumber"], encoding)
        elif "address" in ident:
            keys.add("address")
            _address(v, f"{at}.address", ident["address"], encoding)
        else:
            v.add(
                at,
                "Exactly one of emailAddress, phoneNumber or address must be set.",
                "REQUIRED_FIELD_MISSING",
            )
    return keys


def _ip(v: _Violations, path: str, device: dict[str, Any] | None) -> None:
    if device is None or not device.get("ipAddress"):
        return
    try:
        ipaddress.ip_address(device["ipAddress"])
    except ValueError:
        v.add(
            f"{path}.ipAddress",
            "Format is invalid: an IPv4 or IPv6 address, in plaintext.",
            "INVALID_FORMAT",
        )


def _targets(
    v: _Violations, path: str, event: dict[str, Any], destinations: list[Destination]
) -> tuple[int, ...]:
    wanted = event.get("destinationReferences", [])
    if not wanted:
        return tuple(range(len(destinations)))
    out: list[int] = []
    for j, reference in enumerate(wanted):
        found = [k for k, d in enumerate(destinations) if d.reference == reference]
        if not found:
            v.add(
                f"{path}.destinationReferences[{j}]",
                "This Destination is not valid: no destination of the request has this reference.",
                "INVALID_DESTINATION",
            )
        out.extend(k for k in found if k not in out)
    return tuple(out)


def _event(
    v: _Violations,
    index: int,
    event: dict[str, Any],
    destinations: list[Destination],
    encoding: str | None,
    request_consent: dict[str, Any],
    now: float,
) -> CheckedEvent:
    path = f"events[{index}]"
    stamp = event.get("eventTimestamp")
    timestamp = 0.0
    if stamp is None:
        v.required(f"{path}.eventTimestamp")
    else:
        timestamp = parse_timestamp(stamp) or 0.0
        if timestamp > now + FUTURE_SKEW:
            v.add(
                f"{path}.eventTimestamp",
                "The event time is in the future.",
                "EVENT_TIME_INVALID",
            )
    targets = _targets(v, path, event, destinations)
    source = event.get("eventSource")
    if source == "EVENT_SOURCE_UNSPECIFIED":
        v.add(f"{path}.eventSource", "Enum value cannot be used.", "INVALID_ENUM_VALUE")
    elif source is None and any(destinations[k].is_google_ads for k in targets):
        v.add(
            f"{path}.eventSource",
            "Required field is missing: eventSource (WEB, APP, IN_STORE, PHONE or OTHER) is "
            "required for Google Ads conversions.",
            "REQUIRED_FIELD_MISSING",
        )
    keys: set[str] = set()
    user_data = event.get("userData")
    if user_data is not None:
        keys |= _user_data(v, f"{path}.userData", user_data, encoding)
    ad_ids = event.get("adIdentifiers") or {}
    keys |= {name for name in AD_ID_FIELDS if ad_ids.get(name)}
    keys |= {name for name in GA_ID_FIELDS if event.get(name)}
    if not keys:
        v.add(
            path,
            "Events data contains no user identifiers or ad identifiers.",
            "NO_IDENTIFIERS_PROVIDED",
        )
    _ip(v, f"{path}.adIdentifiers.landingPageDeviceInfo", ad_ids.get("landingPageDeviceInfo"))
    _ip(v, f"{path}.eventDeviceInfo", event.get("eventDeviceInfo"))
    currency = event.get("currency")
    if currency and (len(currency) != 3 or pycountry.currencies.get(alpha_3=currency) is None):
        v.add(
            f"{path}.currency",
            "The currency code is not supported: an ISO 4217 code such as USD.",
            "INVALID_CURRENCY_CODE",
        )
    for j, item in enumerate((event.get("cartData") or {}).get("items", [])):
        if item.get("quantity", 0) < 0:
            v.add(
                f"{path}.cartData.items[{j}].quantity",
                "Invalid number format: a quantity is not negative.",
                "INVALID_NUMBER_FORMAT",
            )
    consent = event.get("consent") or {}
    transaction_id = event.get("transactionId") or None
    return CheckedEvent(
        index=index,
        event=event,
        transaction_id=transaction_id,
        timestamp=timestamp,
        destinations=targets,
        keys=frozenset(keys),
        ad_user_data=_consent("adUserData", consent, request_consent),
        ad_personalization=_consent("adPersonalization", consent, request_consent),
    )


def _consent(name: str, event: dict[str, Any], request: dict[str, Any]) -> str:
    """The event's own consent status, else the request's (an unspecified one is unset)."""
    for level in (event, request):
        value = level.get(name)
        if value is not None and value != UNSPECIFIED:
            return str(value)
    return UNSPECIFIED


def _too_many(field: str, limit: int, count: int, reason: str, what: str) -> GoogleError:
    return errors.invalid_argument(
        [
            FieldViolation(
                field,
                f"Maximum number of {what} allowed per request is {limit}; "
                f"this request has {count}.",
                reason,
            )
        ]
    )


def validate_request(request: dict[str, Any], now: float) -> CheckedRequest:
    """Check a decoded ``IngestEventsRequest`` at ``now``. Raises :class:`GoogleError`."""
    raw_destinations = request.get("destinations", [])
    raw_events = request.get("events", [])
    if len(raw_destinations) > MAX_DESTINATIONS:
        raise _too_many(
            "destinations",
            MAX_DESTINATIONS,
            len(raw_destinations),
            "TOO_MANY_DESTINATIONS",
            "destinations",
        )
    if len(raw_events) > MAX_EVENTS:
        raise _too_many("events", MAX_EVENTS, len(raw_events), "TOO_MANY_EVENTS", "events")
    v = _Violations()
    if not raw_destinations:
        v.required("destinations")
    if not raw_events:
        v.required("events")
    destinations = _destinations(v, raw_destinations)
    encoding = request.get("encoding")
    if encoding == "ENCODING_UNSPECIFIED":
        encoding = None
    if encoding is None and any("userData" in e for e in raw_events):
        v.add(
            "encoding",
            "Required field is missing: encoding (HEX or BASE64) is required when events "
            "carry userData.",
            "REQUIRED_FIELD_MISSING",
        )
    request_consent = request.get("consent") or {}
    checked: list[CheckedEvent] = []
    for i, event in enumerate(raw_events):
        if v.full:
            break
        checked.append(_event(v, i, event, destinations, encoding, request_consent, now))
    if v.found:
        raise errors.invalid_argument(v.found)
    return CheckedRequest(
        destinations=tuple(destinations),
        events=tuple(checked),
        validate_only=bool(request.get("validateOnly", False)),
        encoding=encoding,
    )


def check_payload(payload: Any, now: float) -> CheckedRequest:
    """A JSON-decoded ``IngestEventsRequest`` body checked as ``events:ingest`` checks it
    (the JSON mapping, then the rules), without HTTP: what a sink's conformance test runs its
    payloads through. Raises :class:`GoogleError` (``error.body()`` is the answer)."""
    return validate_request(decode("IngestEventsRequest", payload), now)
