"""load_settings: defaults < TOML file < SIGNALYARD_* environment < explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalyard.errors import ConfigError
from signalyard.settings import DeliverySettings, Settings, load_settings

TOML = """
database_url = "sqlite:////var/lib/signalyard/file.db"
host = "0.0.0.0"
port = 9000
default_country = "vn"
max_events_per_request = 500
sandbox = false

[delivery]
concurrency = 2
poll_seconds = 2.5
"""


def write(tmp_path: Path, text: str, name: str = "signalyard.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.delivery == DeliverySettings()
    assert settings.port == 8088
    assert settings.sandbox is True
    assert settings.default_country is None


def test_file_overrides_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, TOML), environ={})
    assert settings.database_url == "sqlite:////var/lib/signalyard/file.db"
    assert settings.host == "0.0.0.0"
    assert settings.port == 9000
    assert settings.default_country == "VN"  # upper-cased
    assert settings.max_events_per_request == 500
    assert settings.sandbox is False
    assert settings.delivery.concurrency == 2
    assert settings.delivery.poll_seconds == 2.5
    # what the file does not set keeps its default
    assert settings.max_body_bytes == Settings().max_body_bytes
    assert settings.delivery.lease_seconds == DeliverySettings().lease_seconds


def test_environment_overrides_file(tmp_path: Path) -> None:
    env = {
        "SIGNALYARD_PORT": "9100",
        "SIGNALYARD_SANDBOX": "yes",
        "SIGNALYARD_DEFAULT_COUNTRY": "de",
        "SIGNALYARD_DELIVERY_CONCURRENCY": "8",
    }
    settings = load_settings(write(tmp_path, TOML), environ=env)
    assert settings.port == 9100
    assert settings.sandbox is True
    assert settings.default_country == "DE"
    assert settings.delivery.concurrency == 8
    # the file still applies where the environment is silent, in [delivery] too
    assert settings.host == "0.0.0.0"
    assert settings.delivery.poll_seconds == 2.5


def test_overrides_beat_environment_and_file(tmp_path: Path) -> None:
    env = {"SIGNALYARD_PORT": "9100", "SIGNALYARD_HOST": "10.0.0.1"}
    settings = load_settings(write(tmp_path, TOML), environ=env, port=9200, sandbox=True, host=None)
    assert settings.port == 9200
    assert settings.sandbox is True
    assert settings.host == "10.0.0.1"  # an override of None means "not given"


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, 'port = 7000\nhost = "::"\n')
    settings = load_settings(environ={"SIGNALYARD_CONFIG": str(path)})
    assert settings.port == 7000
    assert settings.host == "::"


def test_explicit_config_file_beats_the_environment_one(tmp_path: Path) -> None:
    a = write(tmp_path, "port = 7000\n", "a.toml")
    b = write(tmp_path, "port = 7001\n", "b.toml")
    assert load_settings(b, environ={"SIGNALYARD_CONFIG": str(a)}).port == 7001


def test_delivery_settings_from_environment() -> None:
    env = {
        "SIGNALYARD_DELIVERY_CONCURRENCY": "16",
        "SIGNALYARD_DELIVERY_POLL_SECONDS": "0.25",
        "SIGNALYARD_DELIVERY_BACKOFF_MAX_SECONDS": "30",
    }
    delivery = load_settings(environ=env).delivery
    assert delivery.concurrency == 16
    assert delivery.poll_seconds == 0.25
    assert delivery.backoff_max_seconds == 30.0
    assert delivery.lease_seconds == DeliverySettings().lease_seconds


def test_delivery_override_as_a_mapping() -> None:
    settings = load_settings(
        environ={"SIGNALYARD_DELIVERY_CONCURRENCY": "16"}, delivery={"concurrency": 3}
    )
    assert settings.delivery.concurrency == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        (" on ", True),
        ("0", False),
        ("false", False),
        ("NO", False),
        ("off", False),
    ],
)
def test_booleans_from_environment(raw: str, expected: bool) -> None:
    assert load_settings(environ={"SIGNALYARD_WORKER": raw}).worker is expected


def test_empty_optional_string_from_environment_means_unset() -> None:
    env = {"SIGNALYARD_DEFAULT_COUNTRY": "", "SIGNALYARD_SANDBOX_URL": ""}
    settings = load_settings(environ=env)
    assert settings.default_country is None
    assert settings.sandbox_url is None


def test_empty_optional_string_from_environment_unsets_a_file_value(tmp_path: Path) -> None:
    path = write(tmp_path, 'default_country = "vn"\nsandbox_url = "http://x:1/sb/"\n')
    settings = load_settings(
        path, environ={"SIGNALYARD_DEFAULT_COUNTRY": "", "SIGNALYARD_SANDBOX_URL": ""}
    )
    assert settings.default_country is None
    assert settings.sandbox_url is None


def test_resolved_sandbox_url() -> None:
    """Where the sandboxes are served (each kind's at /sandbox/<kind>): this server by
    default; the older form naming one sandbox is read as the part before /sandbox/."""
    assert load_settings(environ={}).resolved_sandbox_url == "http://127.0.0.1:8088"
    env = {"SIGNALYARD_HOST": "0.0.0.0", "SIGNALYARD_PORT": "9000"}
    assert load_settings(environ=env).resolved_sandbox_url == "http://127.0.0.1:9000"
    env = {"SIGNALYARD_SANDBOX_URL": "http://sandbox.internal:1/"}
    assert load_settings(environ=env).resolved_sandbox_url == "http://sandbox.internal:1"
    env = {"SIGNALYARD_SANDBOX_URL": "http://sandbox.internal:1/sandbox/meta/"}
    assert load_settings(environ=env).resolved_sandbox_url == "http://sandbox.internal:1"


def test_other_signalyard_variables_are_not_settings() -> None:
    """``SIGNALYARD_KEY`` (send-test) and ``SIGNALYARD_CONFIG`` are read elsewhere."""
    settings = load_settings(environ={"SIGNALYARD_KEY": "sy_x", "PORT": "1", "HOST": "h"})
    assert settings == Settings()


# errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("prot = 9000\n", "prot"),
        ("[delivery]\nconcurrrency = 2\n", "concurrrency"),
        ("[deliveries]\nconcurrency = 2\n", "deliveries"),
    ],
)
def test_unknown_setting_in_file_is_named(tmp_path: Path, text: str, name: str) -> None:
    with pytest.raises(ConfigError, match="unknown setting") as info:
        load_settings(write(tmp_path, text), environ={})
    assert name in str(info.value)


def test_unknown_delivery_setting_in_environment_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown setting") as info:
        load_settings(environ={"SIGNALYARD_DELIVERY_CONCURENCY": "2"})
    assert "concurency" in str(info.value).lower()


def test_unknown_override_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown setting") as info:
        load_settings(environ={}, prot=1)
    assert "prot" in str(info.value)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('port = "eighty"\n', "port"),
        ("port = true\n", "port"),
        ('sandbox = "maybe"\n', "sandbox"),
        ("max_body_bytes = [1]\n", "max_body_bytes"),
        ('[delivery]\npoll_seconds = "soon"\n', "poll_seconds"),
        ("[delivery]\nconcurrency = false\n", "concurrency"),
        ("delivery = 4\n", "delivery"),
    ],
)
def test_wrong_type_in_file_is_a_config_error(tmp_path: Path, text: str, name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), environ={})
    assert name in str(info.value)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SIGNALYARD_PORT": "abc"}, "port"),
        ({"SIGNALYARD_PORT": "8088.5"}, "port"),
        ({"SIGNALYARD_SANDBOX": "maybe"}, "sandbox"),
        ({"SIGNALYARD_MAX_BODY_BYTES": "8MB"}, "max_body_bytes"),
        ({"SIGNALYARD_DELIVERY_CONCURRENCY": "many"}, "concurrency"),
        ({"SIGNALYARD_DELIVERY_POLL_SECONDS": "1s"}, "poll_seconds"),
    ],
)
def test_wrong_type_in_environment_is_a_config_error(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert name in str(info.value).lower()


def test_wrong_type_override_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="port"):
        load_settings(environ={}, port="eighty")


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "port = = 1\n"), environ={})


@pytest.mark.parametrize(
    "text", ["port = 8088.9\n", "max_body_bytes = 1.5e6\n", "[delivery]\nconcurrency = 2.5\n"]
)
def test_float_for_an_int_setting_in_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(write(tmp_path, text), environ={})


@pytest.mark.parametrize(
    "text",
    [
        'host = ["0.0.0.0"]\n',
        "database_url = 5\n",
        'default_country = ["VN"]\n',
        "log_level = {level = 'debug'}\n",
    ],
)
def test_non_string_for_a_string_setting_in_file_is_a_config_error(
    tmp_path: Path, text: str
) -> None:
    with pytest.raises(ConfigError):
        load_settings(write(tmp_path, text), environ={})
