"""Check a server event against Meta's rules (reference §2-§4, §9.1) before anything else
touches it.

:func:`validate_event` raises :class:`~signalyard.errors.InputError` with a field path
relative to the event (``event_time``, ``custom_data.currency``, ``user_data.page_id``); the
caller puts ``data[i]`` before it. Code 100, and Meta's subcode where one is known. It checks
shapes and rules only: ``user_data`` values are typed and cleaned by
:func:`~signalyard.transforms.user_data.clean_user_data`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final, TypeGuard

from signalyard.errors import InputError
from signalyard.event import SERVER_EVENT_FIELDS as CANONICAL_FIELDS
from signalyard.transforms.custom_data import personal_shape

__all__ = [
    "ACTION_SOURCES",
    "CONTENTS_FIELDS",
    "LDU_STATES",
    "MAX_CONTENTS",
    "MAX_CONTENT_ID",
    "MAX_EVENT_AGE_SECONDS",
    "MESSAGING_CHANNELS",
    "SERVER_EVENT_FIELDS",
    "check_baseline",
    "parse_event_time",
    "validate_event",
]

ACTION_SOURCES: Final = frozenset(
    (
        "website",
        "app",
        "email",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    )
)
MESSAGING_CHANNELS = ("whatsapp", "messenger", "instagram")
MAX_EVENT_AGE_SECONDS: Final = 7 * 24 * 3600
"""The oldest event accepted when the caller names no limit. The ingest pipeline passes the
limit of the dataset's destinations instead (the largest of their kinds' ``max_age_seconds``):
an event some destination can still use is kept, and each sink dead-letters what is too old
for its own platform."""
LDU_STATES = frozenset((0, *range(1000, 1014)))
"""``data_processing_options_state``: 0 (geolocate) or Meta's US state codes 1000 (CA) ...
1013 (RI) (reference §2.5)."""

MAX_EVENT_NAME: Final = 100
MAX_EVENT_ID: Final = 256

SERVER_EVENT_FIELDS: Final = frozenset(CANONICAL_FIELDS)
"""The top-level fields of the canonical event; the pipeline drops others."""

CONTENTS_FIELDS: Final = (
    "id",
    "quantity",
    "item_price",
    "delivery_category",
    "title",
    "description",
    "brand",
    "category",
)
"""The fields of a ``custom_data.contents`` item (reference §4: Meta's and the SDKs')."""
MAX_CONTENTS: Final = 1000
"""Items in ``custom_data.contents``, at most."""
MAX_CONTENT_ID: Final = 256
"""Characters of a ``contents`` item's ``id`` (and of its other text fields), at most."""
_MAX_QUANTITY: Final = 1_000_000_000
_DELIVERY_CATEGORIES: Final = ("in_store", "curbside", "home_delivery")
_CONTENTS_KEYS: Final = frozenset(CONTENTS_FIELDS)
_COMMON_CONTENTS_KEYS: Final = frozenset(("id", "quantity", "item_price"))
_SAFE_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_MS_THRESHOLD: Final = 10**11  # seconds: year 5138. Anything above is milliseconds (or finer).
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DIGITS: Final = re.compile(r"[0-9]{1,20}")
_DECIMAL: Final = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?")
_EXTINFO_VERSIONS = ("a2", "i2")
_TOO_OLD_TITLE = "Event Timestamp Too Old"
_TOO_BROAD: tuple[frozenset[str], ...] = (
    frozenset(("ct", "country", "st", "zp", "ge", "client_user_agent")),
    frozenset(("db", "client_user_agent")),
    frozenset(("fn", "ge")),
    frozenset(("ln", "ge")),
)

_BROAD_KEYS: Final = frozenset().union(*_TOO_BROAD)
_RARE: Final = frozenset(
    (
        "referrer_url",
        "app_data",
        "messaging_channel",
        "opt_out",
        "data_processing_options",
        "data_processing_options_country",
        "data_processing_options_state",
        "original_event_data",
    )
)
_HTTP_URL: Final = re.compile(r"https?://[^/?#\s]", re.IGNORECASE)


_currency_codes: frozenset[str] = frozenset()


def _currencies() -> frozenset[str]:
    """ISO 4217 codes, uppercase; built on first use (a plain global: cheap to read)."""
    global _currency_codes
    if not _currency_codes:
        import pycountry

        _currency_codes = frozenset(c.alpha_3.upper() for c in pycountry.currencies)
    return _currency_codes


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _present(value: object) -> bool:
    """Given: not null, not an empty list, not a string of only spaces (which cleaning would
    trim away)."""
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value != []


def parse_event_time(value: object) -> int:
    """``event_time`` as an int: an integer, or a string of digits. Raises ``InputError``."""
    if _is_int(value):
        seconds = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        seconds = int(value)
    elif value is None:
        raise InputError("event_time", "is required (Unix seconds)")
    elif isinstance(value, float) and math.isfinite(value):
        raise InputError("event_time", "must be an integer number of Unix seconds, not a float")
    else:
        raise InputError("event_time", "must be an integer number of Unix seconds")
    if seconds >= _MS_THRESHOLD:
        raise InputError("event_time", "must be Unix seconds; this looks like milliseconds")
    return seconds


def _check_event_time(
    value: object, now: float, max_future_seconds: int, max_age_seconds: int
) -> None:
    seconds = parse_event_time(value)
    if now - seconds > max_age_seconds:
        days = _days(max_age_seconds)
        raise InputError(
            "event_time",
            f"is more than {days} in the past; this dataset's destinations accept events"
            f" up to {days} old",
            subcode=2804003,
            title=_TOO_OLD_TITLE,
        )
    if seconds - now > max_future_seconds:
        raise InputError(
            "event_time",
            f"is more than {max_future_seconds} seconds in the future; check the sender's clock",
        )


def _days(seconds: int) -> str:
    if seconds % 86400:
        return f"{seconds} seconds"
    return "1 day" if seconds == 86400 else f"{seconds // 86400} days"


def _check_event_name(value: object) -> None:
    if value is None:
        raise InputError("event_name", "is required")
    if not isinstance(value, str):
        raise InputError("event_name", "must be a string")
    if not value:
        raise InputError("event_name", "must not be empty")
    if len(value) > MAX_EVENT_NAME:
        raise InputError("event_name", f"must be at most {MAX_EVENT_NAME} characters")
    if _CONTROL.search(value):
        raise InputError("event_name", "must not contain control characters")
    if value != value.strip():
        raise InputError("event_name", "must not start or end with whitespace")


def _check_event_id(value: object) -> None:
    if value is None:
        return
    if _is_int(value):
        if not -(10**MAX_EVENT_ID) < value < 10**MAX_EVENT_ID:
            raise InputError("event_id", f"must be at most {MAX_EVENT_ID} characters")
        return
    if not isinstance(value, str):
        raise InputError("event_id", "must be a string")
    if len(value) > MAX_EVENT_ID:
        raise InputError("event_id", f"must be at most {MAX_EVENT_ID} characters")


def _is_http_url(value: str) -> bool:
    return _HTTP_URL.match(value) is not None


def _check_flag(field: str, value: object) -> None:
    if value not in (0, 1) or not (isinstance(value, bool) or _is_int(value)):
        raise InputError(field, "must be 0 or 1 (or a boolean)")


def _check_app(event: Mapping[str, Any]) -> None:
    app_data = event.get("app_data")
    if app_data is None:
        raise InputError("app_data", "is required when action_source is app")
    if not isinstance(app_data, dict):
        raise InputError("app_data", "must be an object")
    if app_data.get("advertiser_tracking_enabled") is None:
        raise InputError(
            "app_data.advertiser_tracking_enabled", "is required when action_source is app"
        )
    _check_flag("app_data.advertiser_tracking_enabled", app_data["advertiser_tracking_enabled"])
    if app_data.get("application_tracking_enabled") is not None:
        _check_flag(
            "app_data.application_tracking_enabled", app_data["application_tracking_enabled"]
        )
    extinfo = app_data.get("extinfo")
    if extinfo is None:
        raise InputError("app_data.extinfo", "is required when action_source is app")
    if not isinstance(extinfo, list) or len(extinfo) != 16:
        raise InputError("app_data.extinfo", "must be a list of exactly 16 strings")
    for i, item in enumerate(extinfo):
        if not isinstance(item, str):
            raise InputError(f"app_data.extinfo[{i}]", 'must be a string ("" when unknown)')
    if extinfo[0] not in _EXTINFO_VERSIONS:
        raise InputError("app_data.extinfo[0]", 'must be "a2" (Android) or "i2" (iOS)')


def _check_messaging(event: Mapping[str, Any], user_data: Mapping[str, Any]) -> None:
    channel = event.get("messaging_channel")
    if channel is None:
        raise InputError(
            "messaging_channel", "is required when action_source is business_messaging"
        )
    if channel not in MESSAGING_CHANNELS:
        raise InputError("messaging_channel", "must be one of whatsapp, messenger, instagram")

    def need(key: str) -> None:
        if not _present(user_data.get(key)):
            raise InputError(f"user_data.{key}", f"is required for business_messaging on {channel}")

    if channel == "messenger":
        need("page_id")
        need("page_scoped_user_id")
    elif channel == "whatsapp":
        if not _present(user_data.get("page_id")) and not _present(
            user_data.get("whatsapp_business_account_id")
        ):
            raise InputError(
                "user_data.whatsapp_business_account_id",
                "page_id or whatsapp_business_account_id is required for business_messaging "
                "on whatsapp",
                subcode=2804116,
            )
        need("ctwa_clid")
    else:
        if not _present(user_data.get("ig_account_id")) and not _present(
            user_data.get("instagram_business_account_id")
        ):
            raise InputError(
                "user_data.instagram_business_account_id",
                "ig_account_id or instagram_business_account_id is required for "
                "business_messaging on instagram",
            )
        need("ig_sid")


def _check_value(field: str, value: object) -> None:
    if type(value) is int:
        return
    if isinstance(value, bool):
        raise InputError(field, "must be a number")
    if isinstance(value, int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(field, "must be a finite number")
        return
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return
    raise InputError(field, 'must be a number (or a decimal string like "142.52")')


def _check_custom_data(event_name: str, custom_data: object) -> None:
    if custom_data is None:
        custom_data = {}
    elif not isinstance(custom_data, dict):
        raise InputError("custom_data", "must be an object")
    value = custom_data.get("value")
    currency = custom_data.get("currency")
    if event_name == "Purchase":
        if value is None:
            raise InputError("custom_data.value", "is required for Purchase events")
        if currency is None:
            raise InputError("custom_data.currency", "is required for Purchase events")
    if value is not None and not (
        (type(value) is str and _DECIMAL.fullmatch(value)) or type(value) is int
    ):
        _check_value("custom_data.value", value)  # the other cases, and the error if any
    if currency is not None and (
        type(currency) is not str or currency.upper() not in _currencies()
    ):
        raise InputError("custom_data.currency", "must be an ISO 4217 currency code (USD, EUR...)")


def _check_contents(contents: object) -> None:
    """``custom_data.contents``: a list of at most :data:`MAX_CONTENTS` objects with only
    :data:`CONTENTS_FIELDS`; ``id`` required, a string or an integer, never personal data."""
    if not isinstance(contents, list):
        raise InputError(
            "custom_data.contents",
            'must be a list of objects such as {"id": "SKU-1", "quantity": 1}',
        )
    if len(contents) > MAX_CONTENTS:
        raise InputError(
            "custom_data.contents",
            f"holds {len(contents)} items; at most {MAX_CONTENTS} are accepted",
        )
    for j, item in enumerate(contents):
        if type(item) is dict and _COMMON_CONTENTS_KEYS.issuperset(item):
            # The common item, {"id": "SKU-1", "quantity": 1, "item_price": 9.5}, inline.
            cid = item.get("id")
            quantity = item.get("quantity")
            price = item.get("item_price")
            if (
                type(cid) is str
                and 0 < len(cid) <= MAX_CONTENT_ID
                and not cid[0].isspace()
                and "@" not in cid
                and "+" not in cid
                and "(" not in cid
                and (quantity is None or (type(quantity) is int and 0 <= quantity <= _MAX_QUANTITY))
                and (
                    price is None
                    or type(price) is int
                    or (type(price) is float and math.isfinite(price))
                )
            ):
                continue
        _check_content(j, item)


def _check_content(j: int, item: object) -> None:
    """One ``contents`` item, every rule, and the error if any."""
    field = f"custom_data.contents[{j}]"
    if not isinstance(item, dict):
        raise InputError(field, 'must be an object such as {"id": "SKU-1", "quantity": 1}')
    if not _CONTENTS_KEYS.issuperset(item):
        for key in item:
            if key not in _CONTENTS_KEYS:
                if isinstance(key, str) and _SAFE_KEY.fullmatch(key):
                    raise InputError(
                        f"{field}.{key}",
                        "is not a contents field (" + ", ".join(CONTENTS_FIELDS) + ")",
                    )
                raise InputError(
                    field,
                    "has a key that is not a contents field (" + ", ".join(CONTENTS_FIELDS) + ")",
                )
    _check_content_id(f"{field}.id", item.get("id"))
    quantity = item.get("quantity")
    if quantity is not None and not (type(quantity) is int and 0 <= quantity <= _MAX_QUANTITY):
        _check_quantity(f"{field}.quantity", quantity)
    price = item.get("item_price")
    if price is not None and not (
        type(price) is int or (type(price) is float and math.isfinite(price))
    ):
        _check_value(f"{field}.item_price", price)
    category = item.get("delivery_category")
    if category is not None and category not in _DELIVERY_CATEGORIES:
        raise InputError(
            f"{field}.delivery_category", "must be one of " + ", ".join(_DELIVERY_CATEGORIES)
        )
    for name in ("title", "description", "brand", "category"):
        text = item.get(name)
        if text is not None and not (isinstance(text, str) and len(text) <= MAX_CONTENT_ID * 4):
            raise InputError(
                f"{field}.{name}",
                f"must be a string of at most {MAX_CONTENT_ID * 4} characters",
            )


def _check_quantity(field: str, value: object) -> None:
    if isinstance(value, str) and _DIGITS.fullmatch(value) and int(value) <= _MAX_QUANTITY:
        return  # a string of digits, read as an integer by the pipeline
    raise InputError(field, f"must be an integer from 0 to {_MAX_QUANTITY}")


def _check_content_id(field: str, value: object) -> None:
    if _is_int(value):
        if not -(10**MAX_CONTENT_ID) < value < 10**MAX_CONTENT_ID:
            raise InputError(field, f"must be at most {MAX_CONTENT_ID} characters")
        return
    if value is None:
        raise InputError(field, "is required: the product id (as in your catalog)")
    if not isinstance(value, str):
        raise InputError(field, "must be a string or an integer (the product id)")
    if not value.strip():
        raise InputError(field, "must not be empty")
    if len(value) > MAX_CONTENT_ID:
        raise InputError(field, f"must be at most {MAX_CONTENT_ID} characters")
    shape = personal_shape(value)
    if shape is not None:
        raise InputError(
            field,
            f"looks like {shape}: must be a product id (personal data belongs in user_data,"
            " where it is hashed)",
        )


def _check_processing_options(event: Mapping[str, Any]) -> None:
    options = event.get("data_processing_options")
    ldu = False
    if options is not None:
        if not isinstance(options, list):
            raise InputError("data_processing_options", 'must be a list: [] or ["LDU"]')
        for i, option in enumerate(options[:2]):
            if option != "LDU":
                raise InputError(f"data_processing_options[{i}]", 'the only option is "LDU"')
        if len(options) > 1:
            raise InputError("data_processing_options", 'must be [] or ["LDU"] (LDU once)')
        ldu = bool(options)
    country = event.get("data_processing_options_country")
    state = event.get("data_processing_options_state")
    if country is None:
        if ldu:
            raise InputError(
                "data_processing_options_country",
                "is required with LDU: 1 (United States) or 0 (geolocate)",
            )
    elif not _is_int(country) or country not in (0, 1):
        raise InputError(
            "data_processing_options_country", "must be 1 (United States) or 0 (geolocate)"
        )
    if state is not None and (not _is_int(state) or state not in LDU_STATES):
        raise InputError(
            "data_processing_options_state",
            "must be 0 (geolocate) or one of Meta's state codes 1000 (California) to 1013",
        )


def validate_event(
    raw: object,
    *,
    now: float,
    max_future_seconds: int = 600,
    max_age_seconds: int = MAX_EVENT_AGE_SECONDS,
) -> None:
    """Raise :class:`InputError` if ``raw`` breaks one of the server-event rules.

    ``now`` is the current time (epoch seconds): ``event_time`` may be at most
    ``max_age_seconds`` old (subcode 2804003, "Event Timestamp Too Old", as Graph answers)
    and at most ``max_future_seconds`` ahead.
    """
    if not isinstance(raw, dict):
        raise InputError("", "an event must be an object")
    event: dict[str, Any] = raw
    event_name = event.get("event_name")
    if not (
        type(event_name) is str
        and 0 < len(event_name) <= MAX_EVENT_NAME
        and event_name.isascii()
        and event_name.isprintable()
        and event_name[0] != " "
        and event_name[-1] != " "
    ):
        _check_event_name(event_name)  # the general case, and the error if any
    assert isinstance(event_name, str)
    event_time = event.get("event_time")
    if type(event_time) is int and 0 <= now - event_time <= max_age_seconds:
        pass  # the common case
    else:
        _check_event_time(event_time, now, max_future_seconds, max_age_seconds)

    action_source = event.get("action_source")
    if type(action_source) is not str or action_source not in ACTION_SOURCES:
        if action_source is None:
            raise InputError("action_source", "is required")
        raise InputError("action_source", "must be one of " + ", ".join(sorted(ACTION_SOURCES)))

    user_data = event.get("user_data")
    if type(user_data) is not dict:
        if user_data is None:
            raise InputError("user_data", "is required")
        if not isinstance(user_data, dict):
            raise InputError("user_data", "must be an object")

    event_id = event.get("event_id")
    if event_id is not None and not (type(event_id) is str and len(event_id) <= MAX_EVENT_ID):
        _check_event_id(event_id)

    url = event.get("event_source_url")
    if url is not None and not isinstance(url, str):
        raise InputError("event_source_url", "must be a string")
    if action_source == "website":
        if not url:
            raise InputError("event_source_url", "is required when action_source is website")
        if not (url.startswith("https://") and len(url) > 8 and url[8] not in "/?# \t\r\n") and (
            _HTTP_URL.match(url) is None
        ):
            raise InputError("event_source_url", "must be an http or https URL")
    elif action_source == "app":
        _check_app(event)
    elif action_source == "business_messaging":
        _check_messaging(event, user_data)

    custom_data = event.get("custom_data")
    if type(custom_data) is dict:
        value = custom_data.get("value")
        currency = custom_data.get("currency")
        if not (  # the common case, a valid value and currency, checked inline
            (
                type(value) is int
                or (type(value) is float and math.isfinite(value))
                or (type(value) is str and _DECIMAL.fullmatch(value))
            )
            and type(currency) is str
            and currency.upper() in _currencies()
        ):
            _check_custom_data(event_name, custom_data)
        contents = custom_data.get("contents")
        if contents is not None:
            _check_contents(contents)
    elif custom_data is not None or event_name == "Purchase":
        _check_custom_data(event_name, custom_data)
        if isinstance(custom_data, dict) and custom_data.get("contents") is not None:
            _check_contents(custom_data["contents"])

    if not _RARE.isdisjoint(event):
        _check_rare(event, action_source)


def _check_rare(event: dict[str, Any], action_source: str) -> None:
    """The optional fields most events do not carry."""
    if event.get("referrer_url") is not None and not isinstance(event["referrer_url"], str):
        raise InputError("referrer_url", "must be a string")
    app_data = event.get("app_data")
    if action_source != "app" and app_data is not None and not isinstance(app_data, dict):
        raise InputError("app_data", "must be an object")
    channel = event.get("messaging_channel")
    if channel is not None and channel not in MESSAGING_CHANNELS:
        raise InputError("messaging_channel", "must be one of whatsapp, messenger, instagram")
    opt_out = event.get("opt_out")
    if opt_out is not None and not isinstance(opt_out, bool):
        raise InputError("opt_out", "must be true or false")
    _check_processing_options(event)
    original = event.get("original_event_data")
    if original is not None and not isinstance(original, dict):
        raise InputError("original_event_data", "must be an object")


def check_baseline(user_data: Mapping[str, Any]) -> None:
    """Raise ``InputError("user_data", ..., subcode=2804050)`` when cleaned ``user_data`` is
    empty or holds only a combination too broad to match a person (reference §3.3): a subset
    of ``ct+country+st+zp+ge+client_user_agent``, ``db+client_user_agent``, ``fn+ge`` or
    ``ln+ge``."""
    for key, value in user_data.items():
        if key not in _BROAD_KEYS and _present(value):
            return  # a key outside every too-broad combination: enough to match
    keys = {key for key, value in user_data.items() if _present(value)}
    if not keys:
        raise InputError(
            "user_data",
            "has no usable customer information; send at least one of em, ph, external_id, "
            "fbc, fbp, client_ip_address with client_user_agent",
            subcode=2804050,
        )
    for combination in _TOO_BROAD:
        if keys <= combination:
            raise InputError(
                "user_data",
                f"only {', '.join(sorted(keys))}: too broad to match a person; add em, ph, "
                "external_id, fbc, fbp or client_ip_address",
                subcode=2804050,
            )
