"""The Pinterest destination's options and secret: what is accepted, and the ConfigError
that names the option otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.pinterest import SPEC, PinterestConfig

TOKEN = {"access_token": Secret("pinterestconversiontoken0123")}


def test_minimal_options_take_the_defaults() -> None:
    config = PinterestConfig.from_mapping({"ad_account_id": "549755885175"}, TOKEN)
    assert config.api_url == "https://api.pinterest.com"
    assert config.test is False and config.timeout_seconds == 10.0
    assert config.to_mapping() == {"ad_account_id": "549755885175"}
    assert config.to_secrets() == TOKEN


def test_options_round_trip_through_the_stored_mapping() -> None:
    options = {
        "ad_account_id": 549755885175,
        "api_url": "http://127.0.0.1:8088/sandbox/pinterest/",
        "test": "true",
        "timeout_seconds": "5",
    }
    config = PinterestConfig.from_mapping(options, TOKEN)
    stored = config.to_mapping()
    assert stored == {
        "ad_account_id": "549755885175",
        "api_url": "http://127.0.0.1:8088/sandbox/pinterest",
        "test": True,
        "timeout_seconds": 5.0,
    }
    assert PinterestConfig.from_mapping(stored, config.to_secrets()) == config


@pytest.mark.parametrize(
    ("options", "secrets", "names"),
    [
        ({}, TOKEN, "ad_account_id is required"),
        ({"ad_account_id": "act_123"}, TOKEN, "ad_account_id must be"),
        ({"ad_account_id": True}, TOKEN, "ad_account_id must be"),
        ({"ad_account_id": "1", "test": "maybe"}, TOKEN, "test must be true or false"),
        ({"ad_account_id": "1", "api_url": "ftp://x"}, TOKEN, "api_url must be an http(s) URL"),
        ({"ad_account_id": "1", "timeout_seconds": 0}, TOKEN, "timeout_seconds must be"),
        ({"ad_account_id": "1", "pixel_code": "x"}, TOKEN, "unknown option(s) 'pixel_code'"),
        ({"ad_account_id": "1"}, {}, "the secret access_token is required"),
        ({"ad_account_id": "1"}, {**TOKEN, "key": Secret("x")}, "unknown secret(s) 'key'"),
    ],
)
def test_bad_options_name_the_option(
    options: dict[str, Any], secrets: dict[str, Secret], names: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        PinterestConfig.from_mapping(options, secrets)
    assert names in str(raised.value) and "pinterest destination" in str(raised.value)


def test_the_token_never_shows() -> None:
    config = PinterestConfig.from_mapping({"ad_account_id": "1"}, TOKEN)
    secret = TOKEN["access_token"].reveal()
    assert secret not in repr(config) and secret not in str(config.to_mapping())


def test_the_spec() -> None:
    assert SPEC.kind == "pinterest" and SPEC.url_options == ("api_url",)
    assert SPEC.test_options == ("test",) and SPEC.invalid_code == 400
    assert SPEC.max_age_seconds == 7 * 86400 and SPEC.identity == frozenset()
    assert [f.name for f in SPEC.secret_fields] == ["access_token", "reporting_access_token"]
    assert [f.required for f in SPEC.secret_fields] == [True, False]
    assert SPEC.reporting is not None
    example = SPEC.example()
    assert SPEC.config_from_mapping(example.to_mapping(), example.to_secrets()) == example
