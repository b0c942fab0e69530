"""The Google destination's options and its two kinds of credential."""

from __future__ import annotations

import orjson
import pytest

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.sinks import checked_config, spec_for
from signalyard.sinks.google import SPEC, GoogleConfig
from signalyard.sinks.google.config import ServiceAccountKey, UserCredential

from .conftest import SA_EMAIL, user_secrets

BAD_PEM = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
IDS = {"operating_account_id": "123-456-7890", "conversion_action_id": "987654321"}


def test_spec() -> None:
    assert spec_for("google") is SPEC
    assert SPEC.identity == frozenset({"ph.e164", "em.gmail"})
    assert SPEC.url_options == ("api_url", "token_url", "ads_api_url")
    assert {f.name for f in SPEC.secret_fields} == {
        "service_account_key",
        "client_id",
        "client_secret",
        "refresh_token",
        "developer_token",
    }
    assert all(f.help for f in SPEC.secret_fields)


def test_user_credential_and_defaults() -> None:
    config = GoogleConfig.from_mapping(IDS, user_secrets())
    assert config.operating_account_id == "1234567890"  # dashes dropped
    assert config.ingest_url == "https://datamanager.googleapis.com/v1/events:ingest"
    assert config.token_endpoint == "https://oauth2.googleapis.com/token"
    assert config.event_source == "WEB" and config.validate_only is False
    assert isinstance(config.credential, UserCredential)
    assert config.to_mapping() == {
        "operating_account_id": "1234567890",
        "conversion_action_id": "987654321",
    }
    again = GoogleConfig.from_mapping(config.to_mapping(), config.to_secrets())
    assert again == config


def test_service_account_credential(key_file: str) -> None:
    config = GoogleConfig.from_mapping(IDS, {"service_account_key": Secret(key_file)})
    credential = config.credential
    assert isinstance(credential, ServiceAccountKey)
    assert credential.client_email == SA_EMAIL
    assert "PRIVATE KEY" not in repr(config) + repr(credential)


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({}, "a credential is required"),
        ({"client_id": Secret("x"), "refresh_token": Secret("y")}, "also needs client_secret"),
        ({**user_secrets(), "service_account_key": Secret("{}")}, "one credential, not both"),
        ({"service_account_key": Secret("not json")}, "it is not JSON"),
        ({"service_account_key": Secret('{"type": "authorized_user"}')}, "authorized_user"),
        ({"service_account_key": Secret('{"client_email": "a@b.c"}')}, "no private_key"),
        (
            {
                "service_account_key": Secret(
                    orjson.dumps(
                        {
                            "client_email": "a@b.c",
                            "private_key": BAD_PEM,
                        }
                    ).decode()
                )
            },
            "cannot be read as an RSA key",
        ),
        ({"access_token": Secret("x")}, "unknown secret"),
    ],
)
def test_credential_errors(secrets: dict[str, Secret], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        GoogleConfig.from_mapping(IDS, secrets)
    assert "AAAA" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"conversion_action_id": "1"}, "operating_account_id is required"),
        ({**IDS, "operating_account_id": "12a"}, "operating_account_id must be digits"),
        ({"operating_account_id": "1"}, "conversion_action_id is required"),
        ({**IDS, "login_account_id": "x"}, "login_account_id must be digits"),
        ({**IDS, "event_source": "TV"}, "event_source must be one of"),
        ({**IDS, "api_url": "ftp://x"}, "api_url must be an http"),
        ({**IDS, "token_url": "https://u:p@x"}, "token_url must not carry"),
        ({**IDS, "validate_only": "maybe"}, "validate_only must be true or false"),
        ({**IDS, "timeout_seconds": 0}, "timeout_seconds"),
        ({**IDS, "pixel_id": "1"}, "unknown option"),
    ],
)
def test_option_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GoogleConfig.from_mapping(options, user_secrets())


def test_sandbox_resolves_both_urls() -> None:
    config = checked_config(
        "google",
        {**IDS, "api_url": "sandbox", "token_url": "sandbox", "validate_only": True},
        user_secrets(),
        sandbox_url="http://127.0.0.1:8088",
    )
    assert isinstance(config, GoogleConfig)
    assert config.ingest_url == "http://127.0.0.1:8088/sandbox/google/v1/events:ingest"
    assert config.token_endpoint == "http://127.0.0.1:8088/sandbox/google/token"
    assert config.validate_only is True
