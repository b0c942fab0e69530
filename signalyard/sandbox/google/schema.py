"""The request messages of ``events:ingest`` and their JSON mapping (proto3 JSON).

This is what Google's JSON front end does before the API sees a request: every field must
exist in its message (lowerCamel JSON name, or the proto's snake_case name), have the
field's type (string, number, integer as a number or a decimal string, bool, enum by name or
number, RFC 3339 timestamp, message, repeated), and at most one member of a ``oneof`` may be
set. The first mismatch refuses the request with ``Invalid JSON payload received. ...`` or
``Invalid value at '...'``. :func:`decode` returns the request with lowerCamel keys, enums as
names and integers as ints, for :mod:`.validate`.

Field names follow ``google/ads/datamanager/v1`` (``ingestion_service.proto``,
``event.proto``, ``destination.proto``, ``user_data.proto``, ``device_info.proto``,
``cart_data.proto``, ``consent.proto``) and the current discovery document (``itemId``,
``eventName``, ``clientId``, ...). Messages the sandbox does not model field by field
(``encryptionInfo``, ``userProperties``, ``experimentalFields``, ...) are accepted as any JSON
object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from . import errors
from .errors import GoogleError

ANY = "*"
"""A message the sandbox accepts as any JSON object."""


@dataclass(frozen=True, slots=True)
class F:
    """A field: its type (``string``, ``double``, ``int64``, ``bool``, ``timestamp``,
    ``enum:<Name>`` or a message name), repeated or not, and its oneof group."""

    type: str
    repeated: bool = False
    oneof: str | None = None


MESSAGES: dict[str, dict[str, F]] = {
    "IngestEventsRequest": {
        "destinations": F("Destination", repeated=True),
        "events": F("Event", repeated=True),
        "consent": F("Consent"),
        "validateOnly": F("bool"),
        "encoding": F("enum:Encoding"),
        "encryptionInfo": F(ANY),
    },
    "Destination": {
        "reference": F("string"),
        "loginAccount": F("ProductAccount"),
        "linkedAccount": F("ProductAccount"),
        "operatingAccount": F("ProductAccount"),
        "productDestinationId": F("string"),
    },
    "ProductAccount": {
        "product": F("enum:Product"),
        "accountId": F("string"),
        "accountType": F("enum:AccountType"),
    },
    "Event": {
        "destinationReferences": F("string", repeated=True),
        "transactionId": F("string"),
        "eventTimestamp": F("timestamp"),
        "lastUpdatedTimestamp": F("timestamp"),
        "userData": F("UserData"),
        "consent": F("Consent"),
        "adIdentifiers": F("AdIdentifiers"),
        "currency": F("string"),
        "conversionValue": F("double"),
        "eventSource": F("enum:EventSource"),
        "eventDeviceInfo": F("DeviceInfo"),
        "cartData": F("CartData"),
        "customVariables": F("CustomVariable", repeated=True),
        "experimentalFields": F(ANY, repeated=True),
        "userProperties": F(ANY),
        "eventName": F("string"),
        "clientId": F("string"),
        "userId": F("string"),
        "additionalEventParameters": F(ANY, repeated=True),
        "appInstanceId": F("string"),
        "conversionCount": F("double"),
        "eventLocation": F(ANY),
        "thirdPartyUserData": F(ANY),
        "callInfo": F(ANY),
    },
    "UserData": {"userIdentifiers": F("UserIdentifier", repeated=True)},
    "UserIdentifier": {
        "emailAddress": F("string", oneof="identifier"),
        "phoneNumber": F("string", oneof="identifier"),
        "address": F("AddressInfo", oneof="identifier"),
    },
    "AddressInfo": {
        "givenName": F("string"),
        "familyName": F("string"),
        "regionCode": F("string"),
        "postalCode": F("string"),
    },
    "AdIdentifiers": {
        "sessionAttributes": F("string"),
        "gclid": F("string"),
        "gbraid": F("string"),
        "wbraid": F("string"),
        "landingPageDeviceInfo": F("DeviceInfo"),
        "mobileDeviceId": F("string"),
        "dclid": F("string"),
        "impressionId": F("string"),
        "matchId": F("string"),
    },
    "DeviceInfo": {"userAgent": F("string"), "ipAddress": F("string")},
    "Consent": {
        "adUserData": F("enum:ConsentStatus"),
        "adPersonalization": F("enum:ConsentStatus"),
    },
    "CartData": {
        "merchantId": F("string"),
        "merchantFeedLabel": F("string"),
        "merchantFeedLanguageCode": F("string"),
        "transactionDiscount": F("double"),
        "items": F("Item", repeated=True),
    },
    "Item": {
        "merchantProductId": F("string"),
        "itemId": F("string"),
        "quantity": F("int64"),
        "unitPrice": F("double"),
        "additionalItemParameters": F(ANY, repeated=True),
    },
    "CustomVariable": {
        "variable": F("string"),
        "value": F("string"),
        "destinationReferences": F("string", repeated=True),
    },
}

ENUMS: dict[str, tuple[str, ...]] = {
    "Encoding": ("ENCODING_UNSPECIFIED", "HEX", "BASE64"),
    "Product": (
        "PRODUCT_UNSPECIFIED",
        "GOOGLE_ADS",
        "DISPLAY_VIDEO_PARTNER",
        "DISPLAY_VIDEO_ADVERTISER",
        "DATA_PARTNER",
    ),
    "AccountType": (
        "ACCOUNT_TYPE_UNSPECIFIED",
        "GOOGLE_ADS",
        "DISPLAY_VIDEO_PARTNER",
        "DISPLAY_VIDEO_ADVERTISER",
        "DATA_PARTNER",
        "GOOGLE_ANALYTICS_PROPERTY",
    ),
    "EventSource": ("EVENT_SOURCE_UNSPECIFIED", "WEB", "APP", "IN_STORE", "PHONE", "OTHER"),
    "ConsentStatus": ("CONSENT_STATUS_UNSPECIFIED", "CONSENT_GRANTED", "CONSENT_DENIED"),
}

_PROTO_TYPES = {"double": "TYPE_DOUBLE", "int64": "TYPE_INT64", "bool": "TYPE_BOOL"}
_PACKAGE = "google.ads.datamanager.v1"
_SNAKE = re.compile(r"_([a-z0-9])")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_INT = re.compile(r"-?\d{1,19}")
MAX_SHOWN = 64


def camel(name: str) -> str:
    """``event_timestamp`` -> ``eventTimestamp`` (proto3 JSON accepts both spellings)."""
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def parse_timestamp(text: str) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp with ``Z`` or an offset, or None."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    offset = match.group(2).upper()
    offset = "+00:00" if offset == "Z" else offset
    try:
        moment = datetime.fromisoformat(text[:10] + "T" + text[11:19] + offset)
    except ValueError:
        return None
    fraction = match.group(1)
    return moment.timestamp() + (float(fraction) if fraction else 0.0)


def _shown(value: Any) -> str:
    """How a refused value is named in a message: numbers and booleans as sent, a string or
    an object only by its kind (a misplaced email must not be echoed back or logged)."""
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = orjson.dumps(value).decode()
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def _invalid_value(path: str, type_name: str, value: Any) -> GoogleError:
    return errors.invalid_payload(path, f"Invalid value at '{path}' ({type_name}), {_shown(value)}")


def _unknown(path: str, name: str) -> GoogleError:
    where = path or "(root)"
    shown = name if len(name) <= MAX_SHOWN else name[:MAX_SHOWN] + "..."
    return errors.invalid_payload(
        path,
        f"Invalid JSON payload received. Unknown name \"{shown}\" at '{where}': Cannot find field.",
    )


def _scalar(path: str, kind: str, value: Any) -> Any:
    if kind == "string":
        if not isinstance(value, str):
            raise _invalid_value(path, "TYPE_STRING", value)
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _invalid_value(path, "TYPE_BOOL", value)
        return value
    if kind == "double":
        if isinstance(value, bool):
            raise _invalid_value(path, "TYPE_DOUBLE", value)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise _invalid_value(path, "TYPE_DOUBLE", value)
    if kind == "int64":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT.fullmatch(value):
            return int(value)
        raise _invalid_value(path, "TYPE_INT64", value)
    if kind == "timestamp":
        if not isinstance(value, str) or parse_timestamp(value) is None:
            raise _invalid_value(path, "type.googleapis.com/google.protobuf.Timestamp", value)
        return value
    enum = kind.removeprefix("enum:")
    names = ENUMS[enum]
    if isinstance(value, str) and value in names:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return names[value]
    raise _invalid_value(path, f"type.googleapis.com/{_PACKAGE}.{enum}", value)


def _value(path: str, spec: F, value: Any) -> Any:
    if spec.type == ANY:
        if not isinstance(value, dict):
            raise _invalid_value(path, "TYPE_MESSAGE", value)
        return value
    if spec.type in MESSAGES:
        return decode(spec.type, value, path)
    return _scalar(path, spec.type, value)


def decode(message: str, value: Any, path: str = "") -> dict[str, Any]:
    """``value`` as ``message`` with lowerCamel keys; ``null`` fields are dropped (proto3
    JSON: the default). Raises :class:`GoogleError` at the first mismatch."""
    if not isinstance(value, dict):
        if path:
            raise _invalid_value(path, f"type.googleapis.com/{_PACKAGE}.{message}", value)
        raise errors.invalid_payload(
            "", "Invalid JSON payload received. Expected an object at the top level."
        )
    fields = MESSAGES[message]
    out: dict[str, Any] = {}
    oneofs: dict[str, str] = {}
    for raw_name, item in value.items():
        name = camel(raw_name) if "_" in raw_name else raw_name
        spec = fields.get(name)
        if spec is None or name in out:
            if spec is None:
                raise _unknown(path, raw_name)
            raise errors.invalid_payload(
                path, f"Invalid JSON payload received. Duplicate field \"{name}\" at '{path}'."
            )
        if item is None:
            continue
        if spec.oneof is not None:
            taken = oneofs.get(spec.oneof)
            if taken is not None:
                raise errors.invalid_payload(
                    f"{path}.{name}" if path else name,
                    f"Invalid JSON payload received. Oneof field '{spec.oneof}' is already "
                    f"set. Cannot set '{name}'.",
                )
            oneofs[spec.oneof] = name
        if spec.type == "string" and type(item) is str and not spec.repeated:
            out[name] = item  # the common case, decided without building the field's path
            continue
        child = f"{path}.{name}" if path else name
        if spec.repeated:
            if not isinstance(item, list):
                raise _invalid_value(child, "list", item)
            out[name] = [_value(f"{child}[{i}]", spec, v) for i, v in enumerate(item)]
        else:
            out[name] = _value(child, spec, item)
    return out
