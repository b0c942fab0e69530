"""Options of a Snapchat destination: validated with errors naming the option, stored without
the token, read back the same."""

from __future__ import annotations

from typing import Any

import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.snapchat import SPEC, SnapchatConfig
from signalyard.sinks.snapchat.config import DEFAULT_API_URL, MAX_AGE_SECONDS, MAX_BATCH

TOKEN = {"access_token": Secret("snapSecretToken0123456789")}
PIXEL = "5bf81ee1-15b1-4dc1-b636-d7dae49b950e"


def config(**options: Any) -> SnapchatConfig:
    return SnapchatConfig.from_mapping({"pixel_id": PIXEL, **options}, TOKEN)


def test_defaults_and_round_trip() -> None:
    c = config()
    assert c.api_url == DEFAULT_API_URL and c.validate_only is False and c.integration is None
    assert c.to_mapping() == {"pixel_id": PIXEL}
    again = SnapchatConfig.from_mapping(
        {**config(validate_only="true", integration="shop").to_mapping()}, TOKEN
    )
    assert again.validate_only is True and again.integration == "shop"
    assert again.to_secrets() == TOKEN


def test_limits_are_snap_s() -> None:
    assert MAX_BATCH == 2000 and MAX_AGE_SECONDS == 37 * 86400
    assert SPEC.max_age_seconds == MAX_AGE_SECONDS and SPEC.test_options == ("validate_only",)


@pytest.mark.parametrize(
    ("options", "secrets", "names"),
    [
        ({}, TOKEN, "pixel_id is required"),
        ({"pixel_id": "has space"}, TOKEN, "pixel_id must be"),
        ({"pixel_id": 12}, TOKEN, "pixel_id must be"),
        ({"pixel_id": PIXEL, "validate_only": "maybe"}, TOKEN, "validate_only"),
        ({"pixel_id": PIXEL, "integration": "a b"}, TOKEN, "integration"),
        ({"pixel_id": PIXEL, "api_url": "ftp://x"}, TOKEN, "api_url"),
        ({"pixel_id": PIXEL, "timeout_seconds": 0}, TOKEN, "timeout_seconds"),
        ({"pixel_id": PIXEL, "pixel_code": "x"}, TOKEN, "unknown option(s) 'pixel_code'"),
        ({"pixel_id": PIXEL}, {}, "access_token is required"),
        ({"pixel_id": PIXEL}, {**TOKEN, "app_secret": Secret("x")}, "unknown secret"),
    ],
)
def test_errors_name_the_option(
    options: dict[str, Any], secrets: dict[str, Secret], names: str
) -> None:
    with pytest.raises(ConfigError, match="snapchat destination") as error:
        SnapchatConfig.from_mapping(options, secrets)
    assert names in str(error.value)


def test_the_token_is_never_shown() -> None:
    c = config()
    assert "snapSecretToken" not in repr(c) and "snapSecretToken" not in str(c.to_mapping())


def test_example_is_valid() -> None:
    example = SPEC.example()
    assert isinstance(example, SnapchatConfig)
    assert SnapchatConfig.from_mapping(example.to_mapping(), example.to_secrets()) == example
