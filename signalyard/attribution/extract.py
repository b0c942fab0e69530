"""What attribution keeps from a stored event, pure: the evidence rows (:class:`Evidence`).

- **Identities**: every event's browser ids (``fbp``, and ``ga``, ``ttp``, ``scid``,
  ``rdt_uuid`` from the platform tags' cookies), its person keys (the hashed ``em``, ``ph``,
  ``external_id``) and its click ids are nodes of the identity graph; the nodes of one event
  are linked (they were seen together). The first is the event's node.
- **Touches**: an event with a page URL (``event_source_url``) that starts a visit (its
  referrer is another site, or it carries campaign parameters or a click id), classified into
  a channel (:mod:`.channels`).
- **Clicks**: each click id the event carries (a landing's, or an order's own from its
  attributes), to be given its click time from the click ledger; and the fbclid of a
  well-formed ``fbc`` cookie (``fb.<n>.<ms>.<fbclid>``), clicked no later than the cookie's
  creation time (Meta's ``fbc`` is set when the ad's link lands): what a shop's own server
  events carry when no page of the shop sent the landing. An order's ``fbc`` made at or after
  the order (from its own page's URL), made after the event (a clock ahead) or not in
  milliseconds dates nothing: its click is the event's as any other it carries.
- **Consent**: an event whose ad consent was declined gives no click, landing or link (its
  order still counts as revenue).
- **Orders**: a ``Purchase`` that is not a test event, with its order id
  (``custom_data.order_id``, else the ``event_id``), value and currency (Decimal), time and
  kind (from ``action_source``: a renewal is ``system_generated``, a shop counter sale
  ``physical_store``).

Nothing here is plaintext personal data: the person keys are the hashes the store holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple
from urllib.parse import unquote

import orjson

from signalyard.attribution.channels import classify
from signalyard.store.base import AttributionRows, StoredEvent

__all__ = ["ClickRow", "Evidence", "OrderRow", "TouchRow", "extract", "rows_of"]

BROWSER_KEYS = ("fbp", "page_scoped_user_id", "ig_sid")
"""``user_data`` keys that are a browser's or a chat user's id (not hashed): the ``fbp``
cookie, a Messenger user's page-scoped id, an Instagram-scoped id."""
BROWSER_ID_KINDS = ("ga", "ttp", "scid", "rdt_uuid", "cart", "checkout")
"""``_browser_ids`` kinds (first-party cookies: the platform tags', and a shop's cart and
checkout tokens, which its order carries too)."""
PERSON_KEYS = ("em", "ph", "external_id")
"""``user_data`` keys that identify a person (hashed)."""
MAX_VALUES = 5
"""Values per key taken from one event (the pipeline allows more; a few suffice to link)."""
MAX_NODE = 300
ORDER_EVENT = "Purchase"
KIND_OF_SOURCE = {
    "website": "web",
    "app": "web",
    "chat": "web",
    "business_messaging": "chat",
    "system_generated": "renewal",
    "physical_store": "pos",
}
"""An order's kind by its event's ``action_source``; any other is ``offline`` (e-mail, phone
call, other: not placed on the site). ``chat``: a sale closed in a conversation
(``business_messaging``), credited to the click-to-message ad that opened it when it carries
its click (``user_data.ctwa_clid``), else like a web order."""
FBC_KIND = "fbclid"
"""The click id an ``fbc`` cookie carries."""
CHAT_CLICK = "ctwa_clid"
"""The click-to-message ad's click a chat sale carries in ``user_data``."""
REFERRAL = "referral_ad_id"
"""``click_ids.referral_ad_id``: the ad of a Messenger or Instagram Direct chat opened from a
click-to-message ad (the ``referral.ad_id`` of the chat's webhook), on a ``business_messaging``
event of that chat (the sale itself, or any earlier one): the click that opened the chat,
one per chat user and ad."""
CHAT_USERS = ("page_scoped_user_id", "ig_sid")
"""The chat user's id a referral is that user's by (Messenger's PSID, Instagram's IGSID)."""
MAX_AMOUNT = Decimal("1e12")


class OrderRow(NamedTuple):
    order_id: str
    event_pk: int
    created_at: float
    currency: str
    gross: str
    """A Decimal, as text."""
    kind: str
    source: str
    node: str


class TouchRow(NamedTuple):
    event_pk: int
    at: float
    channel: str
    detail: str
    campaign: str | None
    node: str


class ClickRow(NamedTuple):
    kind: str
    click_id: str
    event_pk: int
    evidence: str
    """``order`` (the order's own attributes) or ``event``."""
    event_time: float
    """The event's time: a click first seen on an order at the order's own time has no
    known click time (the order's attributes carry no time)."""
    campaign: str | None = None
    """The ``utm_campaign`` (or ``utm_id``) of the landing that carried it."""


def rows_of(evidence: Evidence) -> AttributionRows:
    """What the store keeps (the row types are the store's tuples)."""
    return AttributionRows(evidence.orders, evidence.touches, evidence.clicks, evidence.links)


@dataclass(slots=True)
class Evidence:
    orders: list[OrderRow] = field(default_factory=list)
    touches: list[TouchRow] = field(default_factory=list)
    clicks: list[ClickRow] = field(default_factory=list)
    links: list[tuple[str, str, int, float]] = field(default_factory=list)
    """(node, node, event pk, event time): seen together in that event."""


def click_node(kind: str, click_id: str) -> str:
    return f"click:{kind}:{click_id}"


def extract(rows: Iterable[StoredEvent], click_channels: Mapping[str, str]) -> Evidence:
    """The evidence of ``rows``. ``click_channels``: click id kind -> channel (from the
    platforms' declarations); a click id of another kind is not a click (it may still start
    a visit: :func:`~.channels.classify` sees the URL)."""
    out = Evidence()
    for row in rows:
        _one(row, out, click_channels)
    return out


def _one(row: StoredEvent, out: Evidence, click_channels: Mapping[str, str]) -> None:
    try:
        payload = orjson.loads(row.payload)
    except orjson.JSONDecodeError:
        return
    if not isinstance(payload, dict):
        return
    is_order = row.event_name == ORDER_EVENT and not row.test_event_code
    consent = payload.get("_consent")
    if isinstance(consent, dict) and consent.get("state") == "denied":
        # Declined ad cookies: no click, landing or link from it; an order is still revenue.
        if is_order:
            user = payload.get("user_data")
            nodes = _nodes(user if isinstance(user, dict) else {}, None, {})
            order = _order(row, payload, nodes[0] if nodes else f"event:{row.pk}")
            if order is not None:
                out.orders.append(order)
                out.links.append((order.node, f"order:{order.order_id}", row.pk, row.event_time))
        return
    user = payload.get("user_data")
    user = user if isinstance(user, dict) else {}
    clicks = payload.get("_click_ids")
    clicks = clicks if isinstance(clicks, dict) else {}
    chat = payload.get("action_source") == "business_messaging"
    opener = user.get(CHAT_CLICK) if chat else None
    if is_order and isinstance(opener, str) and 0 < len(opener) <= MAX_NODE:
        clicks = {**clicks, CHAT_CLICK: opener}  # the chat's ad click, on the order itself
    if REFERRAL in clicks:  # a chat's (a test event's ties nothing)
        clicks = _referral(clicks, user if chat and not row.test_event_code else {})
    fbc = _fbc_click(user.get("fbc"))
    if fbc is not None and FBC_KIND in click_channels and FBC_KIND not in clicks:
        clicks = {**clicks, FBC_KIND: fbc[0]}
        created = fbc[1]
        if created is None or created > row.event_time or (is_order and created == row.event_time):
            # No time to trust (a clock ahead, seconds for milliseconds), or made from the
            # order's own page: the event's click as any other it carries.
            fbc = None
    else:
        fbc = None
    nodes = _nodes(user, payload.get("_browser_ids"), clicks)
    node = nodes[0] if nodes else f"event:{row.pk}"
    out.links.extend((node, other, row.pk, row.event_time) for other in nodes[1:])
    url = payload.get("event_source_url")
    landing = None
    if isinstance(url, str) and not is_order:
        referrer = payload.get("referrer_url")
        landing = classify(
            url, referrer if isinstance(referrer, str) else None, click_channels=click_channels
        )
    campaign = landing.campaign if landing is not None else None
    for kind, click_id in clicks.items():
        if isinstance(kind, str) and isinstance(click_id, str) and kind in click_channels:
            if fbc is not None and fbc[1] is not None and kind == FBC_KIND and click_id == fbc[0]:
                out.clicks.append(ClickRow(kind, click_id, row.pk, "fbc", fbc[1], campaign))
                continue
            if kind == REFERRAL:
                how = "chat"  # it opened the chat, whichever event of the chat carries it
            else:
                how = ("chat" if kind == CHAT_CLICK else "order") if is_order else "event"
            out.clicks.append(ClickRow(kind, click_id, row.pk, how, row.event_time, campaign))
    if landing is not None:
        out.touches.append(
            TouchRow(row.pk, row.event_time, landing.channel, landing.detail, campaign, node)
        )
    if is_order:
        order = _order(row, payload, node)
        if order is not None:
            out.orders.append(order)
            # Every Purchase of an order (the shop's server's, the webhook's) joins its ids.
            out.links.append((node, f"order:{order.order_id}", row.pk, row.event_time))


def _referral(clicks: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    """``clicks`` with the referral's ad id made the click of this chat user (``<ad id>/<chat
    user id>``: the same ad opens many users' chats, each its own click), or without it when
    the event names no chat user (outside a chat, a referral ties nothing)."""
    out = dict(clicks)
    ad = out.pop(REFERRAL)
    who = next((v for k in CHAT_USERS if isinstance(v := user.get(k), str) and v), None)
    if who is not None and "/" in who:
        who = None  # the click id would not say whose it is
    if isinstance(ad, str) and ad and who is not None and len(ad) + len(who) < MAX_NODE:
        out[REFERRAL] = f"{ad}/{who}"
    return out


def _nodes(user: Mapping[str, Any], browser_ids: object, clicks: Mapping[Any, Any]) -> list[str]:
    nodes: list[str] = []
    for key in BROWSER_KEYS:
        value = user.get(key)
        if isinstance(value, str) and 0 < len(value) <= MAX_NODE:
            nodes.append(f"{key}:{value}")
    if isinstance(browser_ids, dict):
        for kind in BROWSER_ID_KINDS:
            value = browser_ids.get(kind)
            if isinstance(value, str) and 0 < len(value) <= MAX_NODE:
                nodes.append(f"{kind}:{_browser_value(kind, value)}")
    for key in PERSON_KEYS:
        values = user.get(key)
        values = values if isinstance(values, list) else [values]
        for value in values[:MAX_VALUES]:
            if isinstance(value, str) and 0 < len(value) <= MAX_NODE:
                nodes.append(f"{key}:{value}")
    for kind, click_id in clicks.items():
        if isinstance(kind, str) and isinstance(click_id, str) and len(click_id) <= MAX_NODE:
            nodes.append(click_node(kind, click_id))
    return nodes


_DIGITS = re.compile(r"[0-9]+")
"""ASCII digits (``str.isdigit`` also takes "²", which ``int`` refuses)."""
FBC_EARLIEST_MS = 10**12
"""An ``fbc`` made before 2001-09-09 is not a time in milliseconds (a sender wrote seconds)."""


def _fbc_click(value: object) -> tuple[str, float | None] | None:
    """``(fbclid, creation time)`` of an ``fbc`` cookie (``fb.<n>.<creation ms>.<fbclid>``),
    the time ``None`` when it cannot be milliseconds of this century; ``None`` for anything
    that is not such a cookie."""
    if not isinstance(value, str) or len(value) > MAX_NODE:
        return None
    parts = value.split(".", 3)
    if len(parts) != 4 or parts[0] != "fb" or not _DIGITS.fullmatch(parts[2]) or not parts[3]:
        return None
    ms = int(parts[2]) if len(parts[2]) <= 16 else 0
    return parts[3], ms / 1000 if ms >= FBC_EARLIEST_MS else None


def _browser_value(kind: str, value: str) -> str:
    if kind == "ga":
        return _ga_client(value)
    if kind == "cart":  # the cookie may add "?key=..." (URL-encoded or not) to the token
        return unquote(value).split("?", 1)[0]
    return value


def _ga_client(value: str) -> str:
    """``GA1.1.<client id>`` (the ``_ga`` cookie) or the client id itself -> the client id."""
    parts = value.split(".")
    return ".".join(parts[2:]) if len(parts) >= 4 and parts[0].startswith("GA") else value


def _order(row: StoredEvent, payload: Mapping[str, Any], node: str) -> OrderRow | None:
    custom = payload.get("custom_data")
    custom = custom if isinstance(custom, dict) else {}
    currency = custom.get("currency")
    value = custom.get("value")
    if not isinstance(currency, str) or isinstance(value, bool) or value is None:
        return None
    try:
        gross = Decimal(str(value))
    except InvalidOperation:
        return None
    if not gross.is_finite() or gross < 0 or gross > MAX_AMOUNT:
        return None
    order_id = custom.get("order_id")
    order_id = order_id if isinstance(order_id, str) and order_id else row.event_id
    source = payload.get("action_source")
    kind = KIND_OF_SOURCE.get(source, "offline") if isinstance(source, str) else "web"
    return OrderRow(
        order_id[:MAX_NODE],
        row.pk,
        row.event_time,
        currency.upper(),
        str(gross),
        kind,
        row.source,
        node,
    )
