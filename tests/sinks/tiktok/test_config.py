from __future__ import annotations

import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks import REGISTRY, checked_config
from signalyard.sinks.tiktok import SPEC
from signalyard.sinks.tiktok.config import (
    API_VERSION,
    DEFAULT_API_URL,
    MAX_AGE_SECONDS,
    MAX_BATCH,
    SECRET_FIELDS,
    TRACK_PATH,
    TikTokConfig,
)

TOKEN = Secret("tiktoksupersecrettoken")
PIXEL = "CABC123DEF456GHI789J"


def load(options: dict[str, object]) -> TikTokConfig:
    return TikTokConfig.from_mapping(options, {"access_token": TOKEN})


def test_constants() -> None:
    assert API_VERSION == "v1.3"
    assert TRACK_PATH == "/open_api/v1.3/event/track/"
    assert DEFAULT_API_URL == "https://business-api.tiktok.com"
    assert MAX_BATCH == 1000
    assert MAX_AGE_SECONDS == 7 * 24 * 3600


def test_the_spec_is_registered_with_its_identity_variant() -> None:
    assert REGISTRY["tiktok"] is SPEC
    assert SPEC.identity == frozenset({"ph.e164"})
    assert SPEC.url_options == ("api_url",)
    assert [f.name for f in SPEC.secret_fields] == ["access_token", "reporting_access_token"]
    field, reporting = SECRET_FIELDS
    assert field.required and "Generate access token" in field.help
    assert not reporting.required  # the claims' token, when the events' one cannot read them


def test_defaults() -> None:
    config = load({"pixel_code": PIXEL})
    assert config == TikTokConfig(pixel_code=PIXEL, access_token=TOKEN)
    assert (config.event_source, config.api_url) == ("web", DEFAULT_API_URL)
    assert config.test_event_code is None and config.partner_name is None
    assert config.timeout_seconds == 10.0
    assert config.to_mapping() == {"pixel_code": PIXEL}
    assert config.to_secrets() == {"access_token": TOKEN}


def test_every_option_round_trips() -> None:
    options: dict[str, object] = {
        "pixel_code": " 7123456789012345678 ",
        "event_source": "offline",
        "api_url": "http://127.0.0.1:8088/sandbox/tiktok/",
        "test_event_code": "TEST12345",
        "partner_name": "Signalyard",
        "timeout_seconds": 2,
    }
    config = load(options)
    assert config.pixel_code == "7123456789012345678"
    assert config.api_url == "http://127.0.0.1:8088/sandbox/tiktok"
    assert load(config.to_mapping()) == config


def test_sandbox_resolves_to_the_tiktok_sandbox() -> None:
    config = checked_config(
        "tiktok",
        {"pixel_code": PIXEL, "api_url": "sandbox"},
        {"access_token": TOKEN},
        sandbox_url="http://127.0.0.1:8088",
    )
    assert isinstance(config, TikTokConfig)
    assert config.api_url == "http://127.0.0.1:8088/sandbox/tiktok"


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({}, "pixel_code"),
        ({"pixel_code": ""}, "pixel_code"),
        ({"pixel_code": "pixel code"}, "pixel_code"),
        ({"pixel_code": True}, "pixel_code"),
        ({"pixel_code": PIXEL, "event_source": "website"}, "event_source"),
        ({"pixel_code": PIXEL, "api_url": "business-api.tiktok.com"}, "api_url"),
        ({"pixel_code": PIXEL, "api_url": "https://u:p@h"}, "api_url"),
        ({"pixel_code": PIXEL, "api_url": "https://h:99999"}, "api_url"),
        ({"pixel_code": PIXEL, "test_event_code": "has space"}, "test_event_code"),
        ({"pixel_code": PIXEL, "timeout_seconds": 0}, "timeout_seconds"),
        ({"pixel_code": PIXEL, "timeout_seconds": "5"}, "timeout_seconds"),
        ({"pixel_code": PIXEL, "pixel_id": "1"}, "pixel_id"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load(options)


def test_the_token_is_required_and_never_shown() -> None:
    with pytest.raises(ConfigError, match="access_token is required"):
        TikTokConfig.from_mapping({"pixel_code": PIXEL}, {})
    with pytest.raises(ConfigError, match="unknown secret"):
        TikTokConfig.from_mapping({"pixel_code": PIXEL}, {"access_token": TOKEN, "x": TOKEN})
    config = load({"pixel_code": PIXEL})
    assert TOKEN.reveal() not in repr(config) and TOKEN.reveal() not in str(config)
    assert TOKEN.reveal() not in repr(config.to_mapping())


def test_example_is_valid() -> None:
    example = TikTokConfig.example()
    assert load(example.to_mapping()).pixel_code == example.pixel_code
