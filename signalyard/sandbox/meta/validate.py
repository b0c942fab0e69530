"""Meta's rules for the elements of ``data`` (reference §2, §3, §11.6-13), the emulator's own.

:func:`validate_batch` checks every event in order and raises :class:`GraphError` on the
first broken rule, so one bad event rejects the whole request (Meta's all-or-nothing).
Problems Meta accepts but reports in Events Manager diagnostics (plaintext in hashed fields,
hashed ``fbc``, malformed cookies, bad IPs, ...) do not reject: they come back as
:class:`Diagnostic` entries on each :class:`CheckedEvent`.

Rejections
    * missing/ill-typed ``event_name``, ``event_time``, ``user_data``, ``action_source``
      (Graph param errors, code 100);
    * ``event_time`` older than 7 days: 100/2804003 "Event Timestamp Too Old";
    * ``website`` without ``event_source_url``;
    * ``app`` without ``app_data.advertiser_tracking_enabled`` or a 16-element ``extinfo``;
    * ``business_messaging``: unknown ``messaging_channel``; WhatsApp without ``page_id`` or
      ``whatsapp_business_account_id``: 100/2804116; Messenger/Instagram without their ids;
    * ``Purchase`` without ``custom_data.value`` and ``custom_data.currency``: 100/2804019;
    * ``user_data`` with no key, or only a subset of one of the baseline combinations
      ``ct+country+st+zp+ge+client_user_agent``, ``db+client_user_agent``, ``fn+ge``,
      ``ln+ge``: 100/2804050.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from signalyard.insights.quality import BIT as _SIGNAL_BITS
from signalyard.sinks.meta.quality import MODEL

from ..diagnostics import Diagnostic
from . import errors
from .formats import (
    HASHED_KEYS,
    KNOWN_USER_DATA_KEYS,
    LEGACY_HASHED_KEYS,
    NEVER_HASHED_KEYS,
    cookie_format,
    is_hex_digest,
    looks_hashed,
    valid_ip,
)
from .parse import event_id_of

ACTION_SOURCES = frozenset(
    {
        "website",
        "app",
        "email",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
MESSAGING_CHANNELS = frozenset({"whatsapp", "messenger", "instagram"})
MAX_EVENT_AGE = 7 * 86400
FUTURE_TOLERANCE = 60
BASELINE_WEAK_COMBINATIONS = (
    frozenset({"ct", "country", "st", "zp", "ge", "client_user_agent"}),
    frozenset({"db", "client_user_agent"}),
    frozenset({"fn", "ge"}),
    frozenset({"ln", "ge"}),
)
_ACTION_SOURCE_LIST = ", ".join(sorted(ACTION_SOURCES))
_EMPTY: tuple[Diagnostic, ...] = ()

BIT = {key: _SIGNAL_BITS[key] for key in MODEL.keys}
"""The mask bits of the keys Meta's match model counts (:mod:`signalyard.sinks.meta.quality`)."""


@dataclass(slots=True)
class CheckedEvent:
    index: int
    event: dict[str, Any]
    event_name: str
    event_id: str | None
    event_time: int
    action_source: str
    diagnostics: tuple[Diagnostic, ...]
    match_mask: int


@functools.cache
def _currencies() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies)


def _nonempty(value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, list):
        return any(v not in (None, "") for v in value)
    return True


def _values(index: int, key: str, value: Any, *, allow_list: bool) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, int) and not isinstance(value, bool) and key in NEVER_HASHED_KEYS:
        return [str(value)]
    if allow_list and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v]
    kind = "a string or an array of strings" if allow_list else "a string"
    raise errors.param_invalid(errors.path(index, "user_data", key), f"must be {kind}")


def _check_user_data(
    index: int, user_data: dict[str, Any], diags: list[Diagnostic]
) -> tuple[set[str], int]:
    """Format checks. Returns the keys present and the mask of *usable* match keys."""
    present: set[str] = set()
    mask = 0
    for key, raw in user_data.items():
        if not _nonempty(raw):
            continue
        field = f"user_data.{key}"
        if key in HASHED_KEYS or key in LEGACY_HASHED_KEYS:
            values = _values(index, key, raw, allow_list=True)
            if not values:
                continue
            present.add(key)
            hashed = [v for v in values if looks_hashed(v)]
            if len(hashed) < len(values):
                note = (
                    "hashing is recommended"
                    if key == "external_id"
                    else "Meta does not match unhashed contact information"
                )
                diags.append(
                    Diagnostic(
                        "plaintext_in_hashed_field",
                        field,
                        f"{key} should be a SHA-256 hex digest of the normalized value; "
                        f"{len(values) - len(hashed)} of {len(values)} value(s) look like "
                        f"plaintext ({note})",
                    )
                )
            if key in BIT and (hashed or key == "external_id"):
                mask |= BIT[key]
        elif key in NEVER_HASHED_KEYS:
            values = _values(index, key, raw, allow_list=False)
            if not values:
                continue
            present.add(key)
            value = values[0]
            usable = True
            if is_hex_digest(value):
                usable = False
                diags.append(
                    Diagnostic(
                        "hashed_value_in_plaintext_field",
                        field,
                        f"{key} must be sent as it is, never hashed; this value looks hashed",
                    )
                )
            elif key in ("fbc", "fbp"):
                problem = cookie_format(value)
                if problem is not None:
                    usable = problem.startswith("creation time")
                    diags.append(Diagnostic(f"invalid_{key}", field, f"{key} {problem}"))
            elif key == "client_ip_address" and not valid_ip(value):
                usable = False
                diags.append(
                    Diagnostic("invalid_ip", field, "client_ip_address is not a valid IPv4/IPv6")
                )
            if usable and key in BIT:
                mask |= BIT[key]
        else:
            present.add(key)
            diags.append(
                Diagnostic(
                    "unknown_user_data_key",
                    field,
                    f"{key} is not a Conversions API customer information parameter; "
                    "Meta ignores it",
                )
            )
    return present, mask


def _baseline_ok(present: set[str]) -> bool:
    keys = present & (KNOWN_USER_DATA_KEYS - {"app_user_id"})
    if not keys:
        return False
    return not any(keys <= weak for weak in BASELINE_WEAK_COMBINATIONS)


def _event_time(index: int, event: dict[str, Any]) -> int:
    value = event.get("event_time")
    name = errors.path(index, "event_time")
    if value is None or value == "":
        raise errors.param_required(name)
    if isinstance(value, bool):
        raise errors.param_invalid(name, "must be an integer (Unix seconds)")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise errors.param_invalid(name, "must be an integer (Unix seconds)")


def _required_str(index: int, event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise errors.param_required(errors.path(index, key))
    if not isinstance(value, str):
        raise errors.param_invalid(errors.path(index, key), "must be a string")
    return value


def _check_app(index: int, event: dict[str, Any]) -> None:
    app_data = event.get("app_data")
    if app_data is None:
        raise errors.param_required(errors.path(index, "app_data"))
    if not isinstance(app_data, dict):
        raise errors.param_invalid(errors.path(index, "app_data"), "must be an object")
    ate = app_data.get("advertiser_tracking_enabled")
    name = errors.path(index, "app_data", "advertiser_tracking_enabled")
    if ate is None:
        raise errors.param_required(name)
    if ate not in (0, 1) and ate not in ("0", "1"):
        raise errors.param_invalid(name, "must be 0 or 1")
    extinfo = app_data.get("extinfo")
    name = errors.path(index, "app_data", "extinfo")
    if extinfo is None:
        raise errors.param_required(name)
    if not isinstance(extinfo, list) or len(extinfo) != 16:
        raise errors.param_invalid(name, "must be an array of exactly 16 strings")
    if extinfo[0] not in ("a2", "i2"):
        raise errors.param_invalid(name, "element 0 must be 'a2' (Android) or 'i2' (iOS)")


def _check_messaging(
    index: int, event: dict[str, Any], user_data: dict[str, Any], diags: list[Diagnostic]
) -> None:
    channel = event.get("messaging_channel")
    name = errors.path(index, "messaging_channel")
    if channel is None or channel == "":
        raise errors.param_required(name)
    if channel not in MESSAGING_CHANNELS:
        raise errors.param_invalid(name, "must be one of instagram, messenger, whatsapp")

    def has(key: str) -> bool:
        return _nonempty(user_data.get(key))

    if channel == "whatsapp":
        if not (has("page_id") or has("whatsapp_business_account_id")):
            raise errors.whatsapp_ids_missing(index)
        if not has("ctwa_clid"):
            diags.append(
                Diagnostic(
                    "missing_ctwa_clid",
                    "user_data.ctwa_clid",
                    "click-to-WhatsApp events should carry ctwa_clid from the webhook",
                )
            )
    elif channel == "messenger":
        for key in ("page_id", "page_scoped_user_id"):
            if not has(key):
                raise errors.param_required(errors.path(index, "user_data", key))
    else:
        if not has("ig_sid"):
            raise errors.param_required(errors.path(index, "user_data", "ig_sid"))
        if not (has("instagram_business_account_id") or has("ig_account_id")):
            raise errors.param_required(
                errors.path(index, "user_data", "instagram_business_account_id")
            )


def _check_custom_data(
    index: int, event_name: str, event: dict[str, Any], diags: list[Diagnostic]
) -> None:
    custom = event.get("custom_data")
    if custom is None:
        custom = {}
    elif not isinstance(custom, dict):
        raise errors.param_invalid(errors.path(index, "custom_data"), "must be an object")
    if event_name != "Purchase":
        return
    missing = [k for k in ("value", "currency") if not _nonempty(custom.get(k))]
    if missing:
        raise errors.purchase_needs_value(index, missing)
    value = custom["value"]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise errors.purchase_needs_value(index, ["value"])
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            raise errors.purchase_needs_value(index, ["value"]) from None
    currency = custom["currency"]
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise errors.purchase_needs_value(index, ["currency"])
    if currency.upper() not in _currencies():
        diags.append(
            Diagnostic(
                "unknown_currency",
                "custom_data.currency",
                f"{currency!r} is not an ISO 4217 currency code",
            )
        )


def _check_dpo(index: int, event: dict[str, Any], diags: list[Diagnostic]) -> None:
    dpo = event.get("data_processing_options")
    if dpo is None:
        return
    name = errors.path(index, "data_processing_options")
    if not isinstance(dpo, list) or any(not isinstance(v, str) or v.upper() != "LDU" for v in dpo):
        raise errors.param_invalid(name, 'must be [] or ["LDU"]')
    for key in ("data_processing_options_country", "data_processing_options_state"):
        value = event.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise errors.param_invalid(errors.path(index, key), "must be an integer")
    if dpo and event.get("data_processing_options_country") is None:
        diags.append(
            Diagnostic(
                "ldu_without_country",
                "data_processing_options_country",
                "LDU is set without data_processing_options_country; Meta geolocates",
            )
        )


def validate_event(index: int, event: dict[str, Any], now: float) -> CheckedEvent:
    diags: list[Diagnostic] = []
    event_name = _required_str(index, event, "event_name")
    event_time = _event_time(index, event)
    user_data = event.get("user_data")
    if user_data is None:
        raise errors.param_required(errors.path(index, "user_data"))
    if not isinstance(user_data, dict):
        raise errors.param_invalid(errors.path(index, "user_data"), "must be an object")
    action_source = event.get("action_source")
    if action_source is None or action_source == "":
        raise errors.param_required(errors.path(index, "action_source"))
    if action_source not in ACTION_SOURCES:
        raise errors.param_invalid(
            errors.path(index, "action_source"), f"must be one of {_ACTION_SOURCE_LIST}"
        )
    raw_event_id = event.get("event_id")
    event_id = event_id_of(event)
    if raw_event_id is not None and raw_event_id != "" and event_id is None:
        raise errors.param_invalid(errors.path(index, "event_id"), "must be a string")

    if now - event_time > MAX_EVENT_AGE:
        raise errors.timestamp_too_old(index)
    if event_time > now + FUTURE_TOLERANCE:
        hint = " (it looks like milliseconds)" if event_time > 10**11 else ""
        diags.append(
            Diagnostic(
                "event_time_in_future",
                "event_time",
                f"event_time is {int(event_time - now)} s in the future{hint}",
            )
        )

    if action_source == "website":
        url = _required_str(index, event, "event_source_url")
        if not url.startswith(("http://", "https://")):
            diags.append(
                Diagnostic(
                    "event_source_url_not_http",
                    "event_source_url",
                    "event_source_url should be the full http(s) URL of the page",
                )
            )
        if not _nonempty(user_data.get("client_user_agent")):
            diags.append(
                Diagnostic(
                    "missing_client_user_agent",
                    "user_data.client_user_agent",
                    "website events should carry client_user_agent (required by the docs)",
                )
            )
    elif action_source == "app":
        _check_app(index, event)

    opt_out = event.get("opt_out")
    if opt_out is not None and not isinstance(opt_out, bool):
        raise errors.param_invalid(errors.path(index, "opt_out"), "must be a boolean")
    _check_dpo(index, event, diags)

    present, mask = _check_user_data(index, user_data, diags)
    if action_source == "business_messaging":
        _check_messaging(index, event, user_data, diags)
    _check_custom_data(index, event_name, event, diags)
    if not _baseline_ok(present):
        raise errors.insufficient_customer_information(index, sorted(present))

    if event_id is None and action_source in ("website", "app"):
        diags.append(
            Diagnostic(
                "missing_event_id",
                "event_id",
                "without event_id this event cannot be deduplicated against the Pixel/SDK",
            )
        )
    return CheckedEvent(
        index=index,
        event=event,
        event_name=event_name,
        event_id=event_id,
        event_time=event_time,
        action_source=action_source,
        diagnostics=tuple(diags) if diags else _EMPTY,
        match_mask=mask,
    )


def validate_batch(events: list[dict[str, Any]], now: float) -> list[CheckedEvent]:
    """Check every event; the first broken rule raises and rejects the whole request."""
    return [validate_event(i, event, now) for i, event in enumerate(events)]
