from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from signalyard.errors import InputError
from signalyard.transforms.validate import (
    ACTION_SOURCES,
    check_baseline,
    parse_event_time,
    validate_event,
)

from .factory import NOW, event

T = int(NOW)
EXTINFO = [
    "a2",
    "com.example.app",
    "771",
    "7.7.1",
    "10",
    "Pixel 8",
    "en_US",
    "CET",
    "Carrier",
    "1080",
    "2400",
    "2.75",
    "8",
    "128",
    "64",
    "Europe/Paris",
]


def app_event(**app_data: Any) -> dict[str, Any]:
    data = {"advertiser_tracking_enabled": 1, "extinfo": list(EXTINFO)} | app_data
    return event(action_source="app", event_source_url=None, app_data=data)


def messaging(channel: str | None, **user_data: Any) -> dict[str, Any]:
    ev = event(action_source="business_messaging", event_source_url=None, user_data=user_data)
    if channel is not None:
        ev["messaging_channel"] = channel
    return ev


def errors(raw: object, max_future_seconds: int = 600) -> InputError:
    with pytest.raises(InputError) as error:
        validate_event(raw, now=NOW, max_future_seconds=max_future_seconds)
    return error.value


# --- accepted ------------------------------------------------------------------------------

VALID: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("website purchase", event),
    ("custom event name", lambda: event(event_name="Loyalty Signup ✓", custom_data={})),
    ("no custom_data outside Purchase", lambda: event(event_name="Lead", custom_data=None)),
    (
        "value as a decimal string",
        lambda: event(custom_data={"currency": "EUR", "value": "142.52"}),
    ),
    ("integer value", lambda: event(custom_data={"currency": "jpy", "value": 1500})),
    ("event_time as a digit string", lambda: event(event_time=str(T - 60))),
    ("event_time exactly 7 days old", lambda: event(event_time=T - 7 * 86400)),
    ("event_time within the future allowance", lambda: event(event_time=T + 600)),
    ("integer event_id", lambda: event(event_id=12345)),
    ("no event_id", lambda: event(event_id=None)),
    ("event_id of 256 chars", lambda: event(event_id="e" * 256)),
    ("http URL", lambda: event(event_source_url="http://example.com")),
    ("mixed-case scheme", lambda: event(event_source_url="HTTPS://example.com/x")),
    (
        "every other action_source",
        lambda: event(action_source="physical_store", event_source_url=None),
    ),
    (
        "LDU with geolocation",
        lambda: event(
            data_processing_options=["LDU"],
            data_processing_options_country=0,
            data_processing_options_state=0,
        ),
    ),
    (
        "LDU California",
        lambda: event(
            data_processing_options=["LDU"],
            data_processing_options_country=1,
            data_processing_options_state=1000,
        ),
    ),
    (
        "LDU Rhode Island",
        lambda: event(
            data_processing_options=["LDU"],
            data_processing_options_country=1,
            data_processing_options_state=1013,
        ),
    ),
    (
        "LDU country only",
        lambda: event(data_processing_options=["LDU"], data_processing_options_country=1),
    ),
    ("LDU off", lambda: event(data_processing_options=[])),
    ("opt_out", lambda: event(opt_out=True)),
    (
        "original_event_data",
        lambda: event(original_event_data={"event_name": "Purchase", "event_time": T - 3600}),
    ),
    ("app event", app_event),
    (
        "app event with booleans",
        lambda: app_event(advertiser_tracking_enabled=True, application_tracking_enabled=False),
    ),
    ("iOS app event", lambda: app_event(extinfo=["i2", *EXTINFO[1:]])),
    ("messenger", lambda: messaging("messenger", page_id="1", page_scoped_user_id="2")),
    ("whatsapp with page_id", lambda: messaging("whatsapp", page_id=1, ctwa_clid="c")),
    (
        "whatsapp with a WABA",
        lambda: messaging("whatsapp", whatsapp_business_account_id="1", ctwa_clid="c"),
    ),
    ("instagram", lambda: messaging("instagram", ig_account_id="1", ig_sid="2")),
    (
        "instagram business account",
        lambda: messaging("instagram", instagram_business_account_id="1", ig_sid="2"),
    ),
]


@pytest.mark.parametrize("make", [make for _, make in VALID], ids=[name for name, _ in VALID])
def test_valid_events(make: Callable[[], dict[str, Any]]) -> None:
    validate_event(make(), now=NOW)


@pytest.mark.parametrize(
    "action_source", sorted(ACTION_SOURCES - {"website", "app", "business_messaging"})
)
def test_action_sources_without_extra_requirements(action_source: str) -> None:
    validate_event(event(action_source=action_source, event_source_url=None), now=NOW)


# --- rejected: (event, field, words of the rule, subcode) -------------------------------------

REJECTED: list[tuple[str, Callable[[], object], str, str, int | None]] = [
    ("not an object", lambda: ["Purchase"], "", "must be an object", None),
    ("no event_name", lambda: event(event_name=None), "event_name", "is required", None),
    (
        "event_name not a string",
        lambda: event(event_name=7),
        "event_name",
        "must be a string",
        None,
    ),
    ("empty event_name", lambda: event(event_name=""), "event_name", "must not be empty", None),
    ("event_name too long", lambda: event(event_name="E" * 101), "event_name", "at most 100", None),
    (
        "control character",
        lambda: event(event_name="Pur\nchase"),
        "event_name",
        "control characters",
        None,
    ),
    ("padded event_name", lambda: event(event_name=" Purchase"), "event_name", "whitespace", None),
    ("no event_time", lambda: event(event_time=None), "event_time", "is required", None),
    ("event_time float", lambda: event(event_time=T - 60.5), "event_time", "not a float", None),
    (
        "event_time bool",
        lambda: event(event_time=True),
        "event_time",
        "integer number of Unix seconds",
        None,
    ),
    (
        "event_time ISO string",
        lambda: event(event_time="2027-01-15T08:00:00Z"),
        "event_time",
        "integer number of Unix seconds",
        None,
    ),
    (
        "event_time in ms",
        lambda: event(event_time=T * 1000),
        "event_time",
        "must be Unix seconds; this looks like milliseconds",
        None,
    ),
    (
        "event_time ms as string",
        lambda: event(event_time=str(T * 1000)),
        "event_time",
        "looks like milliseconds",
        None,
    ),
    (
        "event_time too old",
        lambda: event(event_time=T - 7 * 86400 - 1),
        "event_time",
        "more than 7 days in the past",
        2804003,
    ),
    ("event_time zero", lambda: event(event_time=0), "event_time", "7 days", 2804003),
    (
        "event_time in the future",
        lambda: event(event_time=T + 601),
        "event_time",
        "more than 600 seconds in the future",
        None,
    ),
    ("no action_source", lambda: event(action_source=None), "action_source", "is required", None),
    (
        "unknown action_source",
        lambda: event(action_source="web"),
        "action_source",
        "must be one of",
        None,
    ),
    (
        "action_source a list",
        lambda: event(action_source=["website"]),
        "action_source",
        "must be one of",
        None,
    ),
    ("no user_data", lambda: event(user_data=None), "user_data", "is required", None),
    (
        "user_data a list",
        lambda: event(user_data=[{"em": "x"}]),
        "user_data",
        "must be an object",
        None,
    ),
    ("event_id a float", lambda: event(event_id=1.5), "event_id", "must be a string", None),
    ("event_id a bool", lambda: event(event_id=True), "event_id", "must be a string", None),
    ("event_id too long", lambda: event(event_id="e" * 257), "event_id", "at most 256", None),
    ("event_id huge int", lambda: event(event_id=10**300), "event_id", "at most 256", None),
    (
        "website without URL",
        lambda: event(event_source_url=None),
        "event_source_url",
        "required when action_source is website",
        None,
    ),
    (
        "website with empty URL",
        lambda: event(event_source_url=""),
        "event_source_url",
        "required",
        None,
    ),
    (
        "URL not http",
        lambda: event(event_source_url="ftp://example.com/"),
        "event_source_url",
        "http or https URL",
        None,
    ),
    (
        "URL without host",
        lambda: event(event_source_url="https:///path"),
        "event_source_url",
        "http or https URL",
        None,
    ),
    (
        "URL not a string",
        lambda: event(event_source_url=["https://x.example"]),
        "event_source_url",
        "must be a string",
        None,
    ),
    (
        "referrer_url not a string",
        lambda: event(referrer_url=5),
        "referrer_url",
        "must be a string",
        None,
    ),
    (
        "app without app_data",
        lambda: event(action_source="app"),
        "app_data",
        "required when action_source is app",
        None,
    ),
    (
        "app_data not an object",
        lambda: event(action_source="app", app_data=[]),
        "app_data",
        "must be an object",
        None,
    ),
    (
        "app without ATE",
        lambda: app_event(advertiser_tracking_enabled=None),
        "app_data.advertiser_tracking_enabled",
        "is required",
        None,
    ),
    (
        "ATE not 0/1",
        lambda: app_event(advertiser_tracking_enabled=2),
        "app_data.advertiser_tracking_enabled",
        "0 or 1",
        None,
    ),
    (
        "ATE a string",
        lambda: app_event(advertiser_tracking_enabled="1"),
        "app_data.advertiser_tracking_enabled",
        "0 or 1",
        None,
    ),
    (
        "app tracking not 0/1",
        lambda: app_event(application_tracking_enabled="yes"),
        "app_data.application_tracking_enabled",
        "0 or 1",
        None,
    ),
    ("no extinfo", lambda: app_event(extinfo=None), "app_data.extinfo", "is required", None),
    (
        "extinfo of 15",
        lambda: app_event(extinfo=EXTINFO[:15]),
        "app_data.extinfo",
        "exactly 16",
        None,
    ),
    ("extinfo not a list", lambda: app_event(extinfo="a2"), "app_data.extinfo", "exactly 16", None),
    (
        "extinfo number",
        lambda: app_event(extinfo=[*EXTINFO[:9], 1080, *EXTINFO[10:]]),
        "app_data.extinfo[9]",
        "must be a string",
        None,
    ),
    (
        "extinfo version",
        lambda: app_event(extinfo=["x2", *EXTINFO[1:]]),
        "app_data.extinfo[0]",
        '"a2"',
        None,
    ),
    (
        "app_data on website not an object",
        lambda: event(app_data="x"),
        "app_data",
        "must be an object",
        None,
    ),
    (
        "no messaging_channel",
        lambda: messaging(None, page_id="1"),
        "messaging_channel",
        "is required",
        None,
    ),
    (
        "unknown channel",
        lambda: messaging("sms", page_id="1"),
        "messaging_channel",
        "whatsapp, messenger, instagram",
        None,
    ),
    (
        "channel on a website event",
        lambda: event(messaging_channel="sms"),
        "messaging_channel",
        "whatsapp, messenger",
        None,
    ),
    (
        "messenger without page_id",
        lambda: messaging("messenger", page_scoped_user_id="2"),
        "user_data.page_id",
        "required for business_messaging on messenger",
        None,
    ),
    (
        "messenger without PSID",
        lambda: messaging("messenger", page_id="1"),
        "user_data.page_scoped_user_id",
        "required",
        None,
    ),
    (
        "whatsapp without ids",
        lambda: messaging("whatsapp", ctwa_clid="c"),
        "user_data.whatsapp_business_account_id",
        "page_id or whatsapp_business_account_id",
        2804116,
    ),
    (
        "whatsapp with empty ids",
        lambda: messaging("whatsapp", page_id="", whatsapp_business_account_id=None, ctwa_clid="c"),
        "user_data.whatsapp_business_account_id",
        "is required",
        2804116,
    ),
    (
        "whatsapp without ctwa_clid",
        lambda: messaging("whatsapp", page_id="1"),
        "user_data.ctwa_clid",
        "required",
        None,
    ),
    (
        "instagram without account",
        lambda: messaging("instagram", ig_sid="2"),
        "user_data.instagram_business_account_id",
        "ig_account_id or instagram_business_account_id",
        None,
    ),
    (
        "instagram without ig_sid",
        lambda: messaging("instagram", ig_account_id="1"),
        "user_data.ig_sid",
        "required",
        None,
    ),
    (
        "custom_data not an object",
        lambda: event(event_name="Lead", custom_data=[1]),
        "custom_data",
        "must be an object",
        None,
    ),
    (
        "Purchase without custom_data",
        lambda: event(custom_data=None),
        "custom_data.value",
        "required for Purchase",
        None,
    ),
    (
        "Purchase without value",
        lambda: event(custom_data={"currency": "USD"}),
        "custom_data.value",
        "required for Purchase",
        None,
    ),
    (
        "Purchase without currency",
        lambda: event(custom_data={"value": 1}),
        "custom_data.currency",
        "required for Purchase",
        None,
    ),
    (
        "value not a number",
        lambda: event(custom_data={"currency": "USD", "value": "12,50"}),
        "custom_data.value",
        "must be a number",
        None,
    ),
    (
        "value a bool",
        lambda: event(custom_data={"currency": "USD", "value": True}),
        "custom_data.value",
        "must be a number",
        None,
    ),
    (
        "value NaN",
        lambda: event(custom_data={"currency": "USD", "value": float("nan")}),
        "custom_data.value",
        "finite",
        None,
    ),
    (
        "value infinite",
        lambda: event(event_name="Lead", custom_data={"value": float("inf")}),
        "custom_data.value",
        "finite",
        None,
    ),
    (
        "value a list",
        lambda: event(event_name="Lead", custom_data={"value": [1]}),
        "custom_data.value",
        "must be a number",
        None,
    ),
    (
        "currency unknown",
        lambda: event(custom_data={"currency": "XYZ", "value": 1}),
        "custom_data.currency",
        "ISO 4217",
        None,
    ),
    (
        "currency a symbol",
        lambda: event(custom_data={"currency": "$", "value": 1}),
        "custom_data.currency",
        "ISO 4217",
        None,
    ),
    (
        "currency not a string",
        lambda: event(event_name="Lead", custom_data={"currency": 840}),
        "custom_data.currency",
        "ISO 4217",
        None,
    ),
    ("opt_out not a bool", lambda: event(opt_out="true"), "opt_out", "true or false", None),
    ("opt_out an int", lambda: event(opt_out=1), "opt_out", "true or false", None),
    (
        "DPO not a list",
        lambda: event(data_processing_options="LDU"),
        "data_processing_options",
        "must be a list",
        None,
    ),
    (
        "DPO unknown option",
        lambda: event(data_processing_options=["GDPR"]),
        "data_processing_options[0]",
        '"LDU"',
        None,
    ),
    (
        "DPO lowercase",
        lambda: event(data_processing_options=["LDU", "ldu"]),
        "data_processing_options[1]",
        '"LDU"',
        None,
    ),
    (
        "LDU without country",
        lambda: event(data_processing_options=["LDU"]),
        "data_processing_options_country",
        "is required with LDU",
        None,
    ),
    (
        "LDU country 2",
        lambda: event(data_processing_options=["LDU"], data_processing_options_country=2),
        "data_processing_options_country",
        "1 (United States) or 0",
        None,
    ),
    (
        "LDU country a string",
        lambda: event(data_processing_options=["LDU"], data_processing_options_country="1"),
        "data_processing_options_country",
        "1 (United States) or 0",
        None,
    ),
    (
        "LDU unknown state",
        lambda: event(
            data_processing_options=["LDU"],
            data_processing_options_country=1,
            data_processing_options_state=1014,
        ),
        "data_processing_options_state",
        "1000 (California) to 1013",
        None,
    ),
    (
        "LDU state 1",
        lambda: event(
            data_processing_options=["LDU"],
            data_processing_options_country=1,
            data_processing_options_state=1,
        ),
        "data_processing_options_state",
        "state codes",
        None,
    ),
    (
        "original_event_data not an object",
        lambda: event(original_event_data="Purchase"),
        "original_event_data",
        "must be an object",
        None,
    ),
]


@pytest.mark.parametrize(
    ("make", "field", "words", "subcode"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_rejected_events(
    make: Callable[[], object], field: str, words: str, subcode: int | None
) -> None:
    error = errors(make())
    assert error.field == field
    assert words in error.rule
    assert error.code == 100
    assert error.subcode == subcode


def test_too_old_has_metas_title() -> None:
    error = errors(event(event_time=T - 8 * 86400))
    assert error.title == "Event Timestamp Too Old"


def test_future_allowance_is_configurable() -> None:
    validate_event(event(event_time=T + 3000), now=NOW, max_future_seconds=3600)
    assert "3600 seconds" in errors(event(event_time=T + 3601), max_future_seconds=3600).rule


def test_field_path_prefixed_by_the_caller() -> None:
    error = errors(event(custom_data={"currency": "XYZ", "value": 1})).at("data[3]")
    assert error.field == "data[3].custom_data.currency"
    assert errors("x").at("data[0]").field == "data[0]"


def test_parse_event_time() -> None:
    assert parse_event_time(T) == T
    assert parse_event_time(str(T)) == T
    with pytest.raises(InputError):
        parse_event_time("1" * 5000)


def test_validate_does_not_modify_the_event() -> None:
    raw = event(event_time=str(T - 60))
    before = repr(raw)
    validate_event(raw, now=NOW)
    assert repr(raw) == before


# --- baseline (reference §3.3) ---------------------------------------------------------------

H = "a" * 64


@pytest.mark.parametrize(
    "user_data",
    [
        {},
        {"em": []},
        {"ct": [H], "country": [H], "st": [H], "zp": [H], "ge": [H], "client_user_agent": "UA"},
        {"ge": [H], "ct": [H], "st": [H], "country": [H]},  # Meta's own example
        {"country": [H]},
        {"client_user_agent": "UA"},
        {"db": [H], "client_user_agent": "UA"},
        {"fn": [H], "ge": [H]},
        {"ln": [H], "ge": [H]},
        {"fn": [H]},
    ],
)
def test_baseline_rejects_too_broad_combinations(user_data: dict[str, Any]) -> None:
    with pytest.raises(InputError) as error:
        check_baseline(user_data)
    assert error.value.field == "user_data"
    assert error.value.subcode == 2804050
    assert error.value.code == 100


@pytest.mark.parametrize(
    "user_data",
    [
        {"em": [H]},
        {"ph": [H]},
        {"external_id": [H]},
        {"fbc": "fb.1.2.x"},
        {"fbp": "fb.1.2.3"},
        {"client_ip_address": "1.2.3.4", "client_user_agent": "UA"},
        {"fn": [H], "ln": [H]},
        {"fn": [H], "ln": [H], "ge": [H]},
        {"db": [H], "ge": [H]},
        {"ct": [H], "country": [H], "db": [H]},
    ],
)
def test_baseline_accepts_matchable_combinations(user_data: dict[str, Any]) -> None:
    check_baseline(user_data)
