"""The LinkedIn destination's options and secret: validation with messages naming the option,
the stored mapping, and the token never shown."""

from __future__ import annotations

from typing import Any

import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks.linkedin import SPEC
from signalyard.sinks.linkedin.config import (
    API_VERSION,
    DEFAULT_API_URL,
    MAX_AGE_SECONDS,
    MAX_BATCH,
    LinkedInConfig,
)

TOKEN = {"access_token": Secret("AQVlinkedinsecrettoken0123")}
GOOD: dict[str, Any] = {"conversion_rule_id": "104012", "ad_account_id": "512345678"}


def test_defaults_and_mapping_round_trip() -> None:
    config = LinkedInConfig.from_mapping(GOOD, TOKEN)
    assert config.api_url == DEFAULT_API_URL and config.timeout_seconds == 10.0
    assert config.conversion_urn == "urn:lla:llaPartnerConversion:104012"
    assert config.account_urn == "urn:li:sponsoredAccount:512345678"
    assert config.to_mapping() == GOOD
    assert LinkedInConfig.from_mapping(config.to_mapping(), config.to_secrets()) == config


def test_ids_as_numbers_or_urns() -> None:
    config = LinkedInConfig.from_mapping(
        {
            "conversion_rule_id": "urn:lla:llaPartnerConversion:77",
            "ad_account_id": 512345678,
        },
        TOKEN,
    )
    assert (config.conversion_rule_id, config.ad_account_id) == ("77", "512345678")
    config = LinkedInConfig.from_mapping(
        {"conversion_rule_id": 77, "ad_account_id": " urn:li:sponsoredAccount:9 "}, TOKEN
    )
    assert (config.conversion_rule_id, config.ad_account_id) == ("77", "9")


def test_non_default_options_are_stored() -> None:
    options = {**GOOD, "api_url": "http://127.0.0.1:8088/sandbox/linkedin/", "timeout_seconds": 3}
    mapping = LinkedInConfig.from_mapping(options, TOKEN).to_mapping()
    assert mapping["api_url"] == "http://127.0.0.1:8088/sandbox/linkedin"
    assert mapping["timeout_seconds"] == 3.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ad_account_id": "1"}, "conversion_rule_id is required"),
        ({"conversion_rule_id": "1"}, "ad_account_id is required"),
        ({**GOOD, "conversion_rule_id": "abc"}, "conversion_rule_id must be digits"),
        ({**GOOD, "conversion_rule_id": True}, "conversion_rule_id must be digits"),
        (
            {**GOOD, "ad_account_id": "urn:lla:llaPartnerConversion:1"},
            "ad_account_id must be digits or urn:li:sponsoredAccount:<digits>",
        ),
        ({**GOOD, "api_url": "ftp://x"}, "api_url must be an http(s) URL"),
        ({**GOOD, "timeout_seconds": 0}, "timeout_seconds must be above 0"),
        ({**GOOD, "test_event_code": "T1"}, "unknown option(s) 'test_event_code'"),
        ({**GOOD, "access_token": "x"}, "unknown option(s) 'access_token'"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="linkedin destination") as error:
        LinkedInConfig.from_mapping(options, TOKEN)
    assert message in str(error.value)


def test_the_token_is_required_and_known() -> None:
    with pytest.raises(ConfigError, match="the secret access_token is required"):
        LinkedInConfig.from_mapping(GOOD, {})
    with pytest.raises(ConfigError, match="unknown secret"):
        LinkedInConfig.from_mapping(GOOD, {**TOKEN, "refresh_token": Secret("r")})


def test_the_token_never_shows() -> None:
    config = LinkedInConfig.from_mapping(GOOD, TOKEN)
    secret = TOKEN["access_token"].reveal()
    for text in (repr(config), str(config), str(config.to_mapping())):
        assert secret not in text


def test_spec_declares_linkedin_s_limits() -> None:
    assert SPEC.kind == "linkedin" and SPEC.url_options == ("api_url",)
    assert SPEC.max_age_seconds == MAX_AGE_SECONDS == 90 * 86400
    assert MAX_BATCH == 5000 and len(API_VERSION) == 6 and API_VERSION.isdigit()
    assert SPEC.test_options == ()  # no test facility
    assert SPEC.identity == frozenset()  # SHA256_EMAIL is Meta's em rule
    assert [f.name for f in SPEC.secret_fields] == ["access_token"]
    example = SPEC.example()
    assert SPEC.config_from_mapping(example.to_mapping(), example.to_secrets()) == example
