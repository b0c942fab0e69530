from __future__ import annotations

import dataclasses

import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.meta.config import (
    API_VERSION,
    DEFAULT_GRAPH_URL,
    MAX_AGE_SECONDS,
    MAX_BATCH,
    SECRET_FIELDS,
    MetaConfig,
)

TOKEN = Secret("EAAsupersecrettoken")
APP_SECRET = Secret("appsecretvalue")


def load(options: dict[str, object], app_secret: Secret | None = None) -> MetaConfig:
    secrets = {"access_token": TOKEN, **({"app_secret": app_secret} if app_secret else {})}
    return MetaConfig.from_mapping(options, secrets)


def test_constants() -> None:
    assert API_VERSION == "v26.0"
    assert DEFAULT_GRAPH_URL == "https://graph.facebook.com"
    assert MAX_BATCH == 1000
    assert MAX_AGE_SECONDS == 7 * 24 * 3600


def test_defaults() -> None:
    config = load({"pixel_id": "123456789012345"})
    assert config == MetaConfig(pixel_id="123456789012345", access_token=TOKEN)
    assert config.graph_url == DEFAULT_GRAPH_URL
    assert config.api_version == API_VERSION
    assert config.app_secret is None
    assert config.test_event_code is None
    assert config.partner_agent == "signalyard"
    assert config.timeout_seconds == 10.0


def test_every_option() -> None:
    config = load(
        {
            "pixel_id": 123456789012345,
            "graph_url": " http://127.0.0.1:8088/sandbox/meta/ ",
            "api_version": "v25.0",
            "test_event_code": "TEST12345",
            "partner_agent": None,
            "timeout_seconds": 2,
        },
        app_secret=APP_SECRET,
    )
    assert config.pixel_id == "123456789012345"
    assert config.graph_url == "http://127.0.0.1:8088/sandbox/meta"
    assert config.api_version == "v25.0"
    assert config.test_event_code == "TEST12345"
    assert config.partner_agent is None
    assert config.timeout_seconds == 2.0
    assert config.app_secret == APP_SECRET


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({}, "pixel_id"),
        ({"pixel_id": ""}, "pixel_id"),
        ({"pixel_id": "pixel-1"}, "pixel_id"),
        ({"pixel_id": True}, "pixel_id"),
        ({"pixel_id": "1", "graph_url": "graph.facebook.com"}, "graph_url"),
        ({"pixel_id": "1", "graph_url": "ftp://graph.facebook.com"}, "graph_url"),
        ({"pixel_id": "1", "graph_url": "https://"}, "graph_url"),
        ({"pixel_id": "1", "graph_url": "https://h:99999"}, "graph_url"),
        ({"pixel_id": "1", "graph_url": "https://h/x?a=1"}, "graph_url"),
        ({"pixel_id": "1", "graph_url": "https://u:p@h"}, "graph_url"),
        ({"pixel_id": "1", "graph_url": 5}, "graph_url"),
        ({"pixel_id": "1", "api_version": "26.0"}, "api_version"),
        ({"pixel_id": "1", "api_version": "v26"}, "api_version"),
        ({"pixel_id": "1", "test_event_code": ""}, "test_event_code"),
        ({"pixel_id": "1", "test_event_code": "has space"}, "test_event_code"),
        ({"pixel_id": "1", "test_event_code": 123}, "test_event_code"),
        ({"pixel_id": "1", "partner_agent": "x" * 101}, "partner_agent"),
        ({"pixel_id": "1", "timeout_seconds": 0}, "timeout_seconds"),
        ({"pixel_id": "1", "timeout_seconds": 301}, "timeout_seconds"),
        ({"pixel_id": "1", "timeout_seconds": "10"}, "timeout_seconds"),
        ({"pixel_id": "1", "timeout_seconds": True}, "timeout_seconds"),
        ({"pixel_id": "1", "timeout_seconds": float("nan")}, "timeout_seconds"),
        ({"pixel_id": "1", "pixle_id": "2"}, "pixle_id"),
    ],
)
def test_bad_options_are_named(options: dict[str, object], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        load(options)


def test_secrets_are_checked() -> None:
    with pytest.raises(ConfigError, match="secret access_token is required"):
        MetaConfig.from_mapping({"pixel_id": "1"}, {"access_token": Secret("")})
    with pytest.raises(ConfigError, match="secret access_token is required"):
        MetaConfig.from_mapping({"pixel_id": "1"}, {"app_secret": APP_SECRET})
    with pytest.raises(ConfigError, match=r"unknown secret.*'pasword'.*access_token, app_secret"):
        MetaConfig.from_mapping({"pixel_id": "1"}, {"access_token": TOKEN, "pasword": TOKEN})
    unset = MetaConfig.from_mapping(
        {"pixel_id": "1"}, {"access_token": TOKEN, "app_secret": Secret("")}
    )
    assert unset.app_secret is None  # an empty optional secret is not set


def test_secret_fields_are_declared() -> None:
    assert [(f.name, f.required) for f in SECRET_FIELDS] == [
        ("access_token", True),
        ("app_secret", False),
    ]
    config = load({"pixel_id": "1"}, app_secret=APP_SECRET)
    assert config.to_secrets() == {"access_token": TOKEN, "app_secret": APP_SECRET}
    assert MetaConfig.from_mapping(config.to_mapping(), config.to_secrets()) == config


def test_to_mapping_keeps_non_default_options_only_and_round_trips() -> None:
    assert load({"pixel_id": "1"}).to_mapping() == {"pixel_id": "1"}
    options: dict[str, object] = {
        "pixel_id": "1",
        "graph_url": "http://127.0.0.1:8088/sandbox/meta",
        "api_version": "v25.0",
        "test_event_code": "TEST1",
        "partner_agent": None,
        "timeout_seconds": 3.5,
    }
    config = load(options, app_secret=APP_SECRET)
    assert config.to_mapping() == options
    assert load(config.to_mapping(), app_secret=APP_SECRET) == config


def test_stored_defaults_match_the_dataclass() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(MetaConfig)}
    example = MetaConfig.example()
    for name in ("graph_url", "api_version", "test_event_code", "partner_agent", "timeout_seconds"):
        assert getattr(load({"pixel_id": "1"}), name) == defaults[name] == getattr(example, name)


def test_no_secret_in_repr_str_or_mapping() -> None:
    config = load({"pixel_id": "1"}, app_secret=APP_SECRET)
    for text in (repr(config), str(config), repr(config.to_mapping())):
        assert TOKEN.reveal() not in text
        assert APP_SECRET.reveal() not in text


def test_example_is_valid() -> None:
    example = MetaConfig.example()
    again = MetaConfig.from_mapping(example.to_mapping(), example.to_secrets())
    assert again == example
