"""The operator key: from the settings, a named file, or a default file made 0600 on first
start; never printed; a bad or missing key is one clear line."""

from __future__ import annotations

import concurrent.futures
import logging
import os
from pathlib import Path

import pytest

from signalyard.errors import ConfigError
from signalyard.operator_key import PG_KEY_FILE, default_key_file, load_box
from signalyard.secret import Secret
from signalyard.secret_box import KeyMismatch, SecretBox, new_key_text
from signalyard.settings import load_settings

NO_KEY = Secret("")


def test_default_key_files() -> None:
    assert default_key_file("sqlite:////var/lib/sy/signalyard.db") == (
        "/var/lib/sy/signalyard.db.secret-key"
    )
    assert default_key_file("sqlite:///signalyard.db") == "signalyard.db.secret-key"
    assert default_key_file("postgresql://u@db/sy") == PG_KEY_FILE == "signalyard.secret-key"


def test_the_default_key_file_is_made_once_0600_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'signalyard.db'}"
    key_file = tmp_path / "signalyard.db.secret-key"
    with caplog.at_level(logging.INFO, logger="signalyard"):
        box = load_box(url, secret_key=NO_KEY, secret_key_file="")
    assert key_file.stat().st_mode & 0o777 == 0o600
    key_text = key_file.read_text().strip()
    assert len(key_text) == 44
    assert str(key_file) in caplog.text and key_text not in caplog.text
    assert key_text not in repr(box) and str(key_file) in repr(box)
    sealed = box.seal({"access_token": Secret("t")})
    again = load_box(url, secret_key=NO_KEY, secret_key_file="")
    assert again.open(sealed) == {"access_token": Secret("t")}
    assert key_file.read_text().strip() == key_text
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_processes_starting_at_once_share_one_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    sealed = "x"

    def start(_: int) -> str:
        box = load_box(url, secret_key=NO_KEY, secret_key_file="")
        return box.seal({"k": Secret(sealed)})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(start, range(16)))
    box = load_box(url, secret_key=NO_KEY, secret_key_file="")
    assert all(box.open(text) == {"k": Secret(sealed)} for text in texts)
    assert sorted(os.listdir(tmp_path)) == ["race.db.secret-key"]


def test_the_setting_wins_and_a_named_file_is_read(tmp_path: Path) -> None:
    key = new_key_text()
    env = {"SIGNALYARD_SECRET_KEY": key, "SIGNALYARD_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    settings = load_settings(environ=env)
    assert settings.secret_key == Secret(key) and key not in repr(settings)
    box = load_box(settings.database_url, secret_key=settings.secret_key, secret_key_file="")
    assert "SIGNALYARD_SECRET_KEY" in box.source
    assert not (tmp_path / "x.db.secret-key").exists()
    named = tmp_path / "operator.key"
    named.write_text(key + "\n")
    named.chmod(0o600)
    from_file = load_box("postgresql://h/db", secret_key=NO_KEY, secret_key_file=str(named))
    assert from_file.open(box.seal({"a": Secret("b")})) == {"a": Secret("b")}
    file_settings = load_settings(environ={"SIGNALYARD_SECRET_KEY_FILE": str(named)})
    assert file_settings.secret_key_file == str(named)


def test_a_missing_named_file_is_not_replaced_by_a_new_key(tmp_path: Path) -> None:
    missing = tmp_path / "lost.key"
    with pytest.raises(ConfigError, match="does not exist; restore it") as caught:
        load_box("sqlite:///x.db", secret_key=NO_KEY, secret_key_file=str(missing))
    assert "\n" not in str(caught.value)
    assert not missing.exists()


@pytest.mark.parametrize("text", ["not-a-key", "x" * 44, ""])
def test_a_malformed_key_is_one_clear_line(tmp_path: Path, text: str) -> None:
    named = tmp_path / "bad.key"
    named.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_box("sqlite:///x.db", secret_key=NO_KEY, secret_key_file=str(named))
    message = str(caught.value)
    assert str(named) in message and "\n" not in message
    if text:
        assert text not in message
    with pytest.raises(ConfigError, match="setting secret_key"):
        load_box("sqlite:///x.db", secret_key=Secret("not-a-key"), secret_key_file="")


def test_an_unwritable_folder_is_one_clear_line(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="cannot create the secret key file"):
            load_box(f"sqlite:///{folder}/x.db", secret_key=NO_KEY, secret_key_file="")
    finally:
        folder.chmod(0o700)


def test_a_key_file_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    named = tmp_path / "open.key"
    named.write_text(new_key_text())
    named.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="signalyard"):
        load_box("sqlite:///x.db", secret_key=NO_KEY, secret_key_file=str(named))
    assert "chmod 600" in caplog.text


def test_a_box_opens_only_what_its_key_sealed() -> None:
    box = SecretBox(Secret(new_key_text()), source="mine")
    other = SecretBox(Secret(new_key_text()), source="theirs")
    sealed = box.seal({"access_token": Secret("tok"), "app_secret": Secret("s")})
    assert "tok" not in sealed
    assert box.open(sealed) == {"access_token": Secret("tok"), "app_secret": Secret("s")}
    with pytest.raises(KeyMismatch, match="theirs cannot decrypt the secrets of x"):
        other.open(sealed, what="the secrets of x")
    with pytest.raises(KeyMismatch):
        box.open("garbage")
    other.verify(other.check_text(), database="db")
    with pytest.raises(KeyMismatch, match="forget-secrets"):
        box.verify(other.check_text(), database="db")
