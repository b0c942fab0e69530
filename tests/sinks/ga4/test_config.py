"""GA4 destination options: validated with a ConfigError naming the option, stored without
the secret, read back equal."""

from __future__ import annotations

import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.ga4 import SPEC
from signalyard.sinks.ga4.config import DEFAULT_API_URL, EU_API_URL, GA4Config

SECRET = {"api_secret": Secret("AbCdEf123456_-xyz")}


def test_minimal_options_and_defaults() -> None:
    config = GA4Config.from_mapping({"measurement_id": " g-abc123def4 "}, SECRET)
    assert config.measurement_id == "G-ABC123DEF4"
    assert config.api_url == DEFAULT_API_URL
    assert (config.validate_only, config.prevalidate, config.missing_client_id) == (
        False,
        True,
        "generate",
    )
    assert config.collect_url == "https://www.google-analytics.com/mp/collect"
    assert config.debug_url == "https://www.google-analytics.com/debug/mp/collect"
    assert config.to_mapping() == {"measurement_id": "G-ABC123DEF4"}
    assert config.to_secrets() == SECRET


def test_round_trip_of_every_option() -> None:
    options = {
        "measurement_id": "G-ABC123DEF4",
        "api_url": EU_API_URL + "/",
        "validate_only": "true",
        "prevalidate": False,
        "missing_client_id": "reject",
        "timeout_seconds": "5",
    }
    config = GA4Config.from_mapping(options, SECRET)
    assert config.api_url == EU_API_URL and config.timeout_seconds == 5.0
    stored = config.to_mapping()
    assert stored == {
        "measurement_id": "G-ABC123DEF4",
        "api_url": EU_API_URL,
        "validate_only": True,
        "prevalidate": False,
        "missing_client_id": "reject",
        "timeout_seconds": 5.0,
    }
    assert GA4Config.from_mapping(stored, config.to_secrets()) == config


def test_the_secret_is_never_shown() -> None:
    config = GA4Config.from_mapping({"measurement_id": "G-ABC123DEF4"}, SECRET)
    assert "AbCdEf123456" not in repr(config)
    assert "api_secret" not in config.to_mapping()


@pytest.mark.parametrize(
    ("options", "secrets", "names"),
    [
        ({}, SECRET, "measurement_id is required"),
        ({"measurement_id": "UA-12345-1"}, SECRET, "measurement_id must be a GA4"),
        ({"measurement_id": "1:123:web:abc"}, SECRET, "measurement_id must be a GA4"),
        ({"measurement_id": "G-ABC123DEF4"}, {}, "api_secret is required"),
        ({"measurement_id": "G-ABC123DEF4"}, {"api_secret": Secret("a b")}, "api_secret must"),
        ({"measurement_id": "G-ABC123DEF4"}, {"token": Secret("x")}, "unknown secret(s) 'token'"),
        ({"measurement_id": "G-ABC123DEF4", "pixel": 1}, SECRET, "unknown option(s) 'pixel'"),
        ({"measurement_id": "G-ABC123DEF4", "api_url": "ftp://x"}, SECRET, "api_url must be"),
        ({"measurement_id": "G-ABC123DEF4", "validate_only": "yes"}, SECRET, "validate_only"),
        ({"measurement_id": "G-ABC123DEF4", "prevalidate": 2}, SECRET, "prevalidate must"),
        ({"measurement_id": "G-ABC123DEF4", "missing_client_id": "hash"}, SECRET,
         "missing_client_id must be one of generate, reject"),
        ({"measurement_id": "G-ABC123DEF4", "timeout_seconds": 0}, SECRET, "timeout_seconds"),
    ],
)  # fmt: skip
def test_config_errors_name_the_option(
    options: dict[str, object], secrets: dict[str, Secret], names: str
) -> None:
    with pytest.raises(ConfigError) as error:
        GA4Config.from_mapping(options, secrets)
    assert names in str(error.value)
    assert str(error.value).startswith("ga4 destination")


def test_the_spec() -> None:
    assert SPEC.kind == "ga4"
    assert SPEC.url_options == ("api_url",) and SPEC.test_options == ("validate_only",)
    assert SPEC.max_age_seconds == 72 * 3600
    assert SPEC.identity == {"em.gmail", "ph.e164"}
    assert [f.name for f in SPEC.secret_fields] == ["api_secret"]
    example = SPEC.example()
    assert SPEC.config_from_mapping(example.to_mapping(), example.to_secrets()) == example
