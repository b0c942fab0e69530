"""The Reddit destination's options and secret: what is accepted, and the ConfigError naming
the option or secret otherwise."""

from __future__ import annotations

import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.reddit import SPEC
from signalyard.sinks.reddit.config import (
    API_VERSION,
    DEFAULT_API_URL,
    MAX_AGE_SECONDS,
    MAX_BATCH,
    RedditConfig,
)

TOKEN = {"access_token": Secret("redditconversiontoken0123")}


def config(**options: object) -> RedditConfig:
    return RedditConfig.from_mapping({"ad_account_id": "a2_abc123", **options}, TOKEN)


def test_defaults_and_the_url() -> None:
    c = config()
    assert (c.api_url, c.test_mode, c.timeout_seconds) == (DEFAULT_API_URL, False, 10.0)
    assert c.events_url == "https://ads-api.reddit.com/api/v2.0/conversions/events/a2_abc123"
    assert API_VERSION == "v2.0" and MAX_BATCH == 1000 and MAX_AGE_SECONDS == 168 * 3600


def test_round_trip_stores_only_what_differs_from_the_defaults() -> None:
    c = config(api_url="http://127.0.0.1:8088/sandbox/reddit/", test_mode="true")
    stored = c.to_mapping()
    assert stored == {
        "ad_account_id": "a2_abc123",
        "api_url": "http://127.0.0.1:8088/sandbox/reddit",
        "test_mode": True,
    }
    assert RedditConfig.from_mapping(stored, c.to_secrets()) == c
    assert config().to_mapping() == {"ad_account_id": "a2_abc123"}


def test_the_token_never_shows() -> None:
    c = config()
    assert "redditconversiontoken0123" not in repr(c) + str(c.to_mapping())


@pytest.mark.parametrize(
    ("options", "secrets", "message"),
    [
        ({}, TOKEN, "ad_account_id is required"),
        ({"ad_account_id": "a2 abc"}, TOKEN, "ad_account_id must be"),
        ({"ad_account_id": 12}, TOKEN, "ad_account_id must be"),
        ({"ad_account_id": "a2_x"}, {}, "the secret access_token is required"),
        ({"ad_account_id": "a2_x"}, {"token": Secret("x")}, "unknown secret(s) 'token'"),
        ({"ad_account_id": "a2_x", "pixel_id": "p"}, TOKEN, "unknown option(s) 'pixel_id'"),
        ({"ad_account_id": "a2_x", "test_mode": "yes"}, TOKEN, "test_mode must be true or false"),
        ({"ad_account_id": "a2_x", "api_url": "ftp://x"}, TOKEN, "api_url must be an http(s)"),
        ({"ad_account_id": "a2_x", "timeout_seconds": 0}, TOKEN, "timeout_seconds must be"),
    ],
)
def test_errors_name_the_option(
    options: dict[str, object], secrets: dict[str, Secret], message: str
) -> None:
    with pytest.raises(ConfigError, match=r"^reddit destination: ") as error:
        RedditConfig.from_mapping(options, secrets)
    assert message in str(error.value)


def test_the_spec() -> None:
    assert SPEC.kind == "reddit" and SPEC.url_options == ("api_url",)
    assert SPEC.test_options == ("test_mode",) and SPEC.invalid_code == 400
    assert SPEC.identity == frozenset({"em.reddit", "ph.e164"})
    assert SPEC.max_age_seconds == 7 * 86400
    example = SPEC.example()
    assert SPEC.config_from_mapping(example.to_mapping(), example.to_secrets()) == example
    assert [f.name for f in SPEC.secret_fields] == ["access_token", "reporting_access_token"]
