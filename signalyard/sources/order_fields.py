"""Reading the fields of an order webhook, the same way for Shopify and WooCommerce: times,
amounts, ids, addresses, line items, the person (``user_data``), the browser ids carried in
the cart/order attributes, the HMAC signature and the JSON body. A field that cannot be used
is ``None``; a request that cannot be handled raises :class:`WebhookError`."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from signalyard.sources.extensions import BROWSER_ID_KINDS, CLICK_ID_KINDS
from signalyard.transforms.phone import phone_e164

CLICK_IDS = {kind.lower(): kind for kind in CLICK_ID_KINDS if kind != "referral_ad_id"}
"""Click ids read from the order's attributes (with or without a leading ``_``, any case);
not a chat's referral (it belongs to a chat's events, not a web order's cart)."""
ATTRIBUTE_BROWSER_IDS = tuple(kind for kind in BROWSER_ID_KINDS if kind != "checkout")
"""Browser ids read from the order's attributes: not a checkout token (a cart's attributes
are written before its checkout exists; the order carries its own)."""
CONSENT_KEYS = ("sy_consent",)
"""Attribute names (with or without a leading ``_``) holding the browser's consent state."""
EVENT_ID_KEYS = ("sy_eid", "sy_event_id")
"""Attribute names (with or without a leading ``_``) holding the browser's Purchase event_id."""
_MAX_EVENT_ID = 256
_MAX_BROWSER_ID = 256
_DECIMAL = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?")


class WebhookError(Exception):
    """A request that cannot be handled: answered with ``status`` and ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class BrowserIds:
    """What the browser put in the cart/order attributes."""

    event_id: str | None = None
    fbp: str | None = None
    fbc: str | None = None
    click_ids: dict[str, str] = field(default_factory=dict)
    consent: str | None = None
    """``granted``, ``denied`` or ``pending``, as the storefront recorded it in the cart."""
    browser_ids: dict[str, str] = field(default_factory=dict)
    """Platform tags' first-party cookies (``_ttp``, ``_ga``, ``_scid``, ``_rdt_uuid``), by
    browser id kind (:data:`~signalyard.sources.extensions.BROWSER_ID_KINDS`)."""


# Parsing helpers shared by the platforms -------------------------------------------------------


def parse_time(value: object) -> float | None:
    """An ISO 8601 time as epoch seconds; ``None`` if absent or unreadable. A time without an
    offset (WooCommerce ``*_gmt``) is UTC."""
    try:
        parsed = datetime.datetime.fromisoformat(value.strip())  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def text(value: object) -> str | None:
    """A non-empty stripped string, or ``None`` (numbers are turned into text)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return (value.strip() or None) if isinstance(value, str) else None


def obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def decimal(value: object) -> str | None:
    """A money amount as a decimal string (Shopify and WooCommerce send strings)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        return value.strip()
    return None


def order_id(value: object, field_name: str = "id") -> str:
    """A platform order id (a 64-bit integer, sent as a number or a string)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,20}", value.strip()):
        return value.strip()
    raise WebhookError(400, f"{field_name}: the order id is missing or not a number")


def ip_address(value: object) -> str | None:
    candidate = text(value)
    try:
        return str(ipaddress.ip_address(candidate)) if candidate else None
    except ValueError:
        return None


def browser_ids(pairs: Iterable[tuple[object, object]], *, at: float | None) -> BrowserIds:
    """Read the browser's event_id, ``_fbp``, ``_fbc``, click ids and browser ids (``_ttp``,
    ``_ga``, ``_scid``, ``_rdt_uuid``) from name/value pairs
    (Shopify ``note_attributes``, WooCommerce ``meta_data``). Names are matched without a
    leading ``_`` and case-insensitively. Without ``fbc`` but with an ``fbclid``, ``fbc`` is
    made from it (``fb.1.<at in ms>.<fbclid>``, Meta's format for a value made server-side)."""
    found: dict[str, str] = {}
    for name, value in pairs:
        key = text(name)
        val = text(value)
        if key is None or val is None or not isinstance(value, str):
            continue
        key = key.lstrip("_").lower()
        if key not in found:
            found[key] = val
    event_id = next((found[k] for k in EVENT_ID_KEYS if k in found), None)
    if event_id is not None and (len(event_id) > _MAX_EVENT_ID or not event_id.isprintable()):
        event_id = None
    clicks = {kind: found[key] for key, kind in CLICK_IDS.items() if key in found}
    fbc = found.get("fbc")
    if fbc is None and "fbclid" in clicks and at is not None:
        fbc = f"fb.1.{int(at * 1000)}.{clicks['fbclid']}"
    consent = next((found[k].lower() for k in CONSENT_KEYS if k in found), None)
    if consent not in ("granted", "denied", "pending"):
        consent = None
    browser = {
        kind: found[kind][:_MAX_BROWSER_ID] for kind in ATTRIBUTE_BROWSER_IDS if kind in found
    }
    return BrowserIds(event_id, found.get("fbp"), fbc, clicks, consent, browser)


def contents(line_items: object, content_id: str, variant_key: str) -> list[dict[str, Any]]:
    """Meta ``contents`` (``id``, ``quantity``, ``item_price``) of the order's line items. The
    id is the option ``content_id``: the variant (default; the product without one), the
    product, or the SKU (the variant without one). Lines with no product are left out."""
    out = []
    for item in items(line_items):
        variant = text(item.get(variant_key)) if item.get(variant_key) not in (0, "0") else None
        product = text(item.get("product_id"))
        cid = text(item.get("sku")) if content_id == "sku" else None
        cid = cid or (product or variant if content_id == "product_id" else variant or product)
        if cid is None:
            continue
        entry: dict[str, Any] = {"id": cid}
        if type(item.get("quantity")) is int:
            entry["quantity"] = item["quantity"]
        if (price := decimal(item.get("price"))) is not None:
            entry["item_price"] = float(price)
        out.append(entry)
    return out


def person(*, browser: BrowserIds | None, **fields: object) -> dict[str, Any]:
    """Meta ``user_data`` from Meta's keys (``em=[...]``, ``fn=...``), plaintext (the pipeline
    normalizes and hashes it): lists de-duplicated, phones made international with the
    order's own country (not the dataset's), an unusable IP address left out, the browser's
    ``fbp``/``fbc`` added, empty keys removed."""
    data: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, list):
            data[key] = list(dict.fromkeys(t for t in map(text, value) if t))
        else:
            data[key] = ip_address(value) if key == "client_ip_address" else text(value)
    country = (data.get("country") or "").upper()
    if data.get("ph") and len(country) == 2:
        data["ph"] = [f"+{e}" if (e := phone_e164(p, country)) else p for p in data["ph"]]
    if browser is not None:
        data["fbp"], data["fbc"] = browser.fbp, browser.fbc
    return {k: v for k, v in data.items() if v}


# HTTP ---------------------------------------------------------------------------------------


def signature_matches(header: str | None, body: bytes, secrets: Iterable[str]) -> bool:
    """Constant-time check of a base64 HMAC-SHA256 of the raw body against each secret."""
    if not header or not body:
        return False
    given = header.strip().encode("latin-1", "replace")
    ok = False
    for secret in secrets:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        ok |= hmac.compare_digest(given, base64.b64encode(digest))
    return ok


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise WebhookError(400, f"body: not valid JSON ({error.msg})") from None
    if not isinstance(parsed, dict):
        raise WebhookError(400, "body: must be a JSON object")
    return parsed
