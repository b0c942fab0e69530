"""The operator key: where it is found, and the key file made on first start.

In order: the ``secret_key`` setting (``SIGNALYARD_SECRET_KEY``), the file the
``secret_key_file`` setting names, else a default file, created on first start readable by
its owner only (0600): beside a SQLite database (``signalyard.db`` → ``signalyard.db.secret-key``),
``signalyard.secret-key`` in the working directory for PostgreSQL. The key's text is never
printed nor logged; messages name only where it came from.
"""

from __future__ import annotations

import logging
import os
import stat
import uuid

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.secret_box import SecretBox, new_key_text

__all__ = ["KEY_FILE_SUFFIX", "PG_KEY_FILE", "default_key_file", "load_box"]

log = logging.getLogger("signalyard")

KEY_FILE_SUFFIX = ".secret-key"
PG_KEY_FILE = "signalyard.secret-key"
"""The default key file with PostgreSQL, in the working directory: every process sharing the
database must use the same key, so with several machines set ``secret_key`` or
``secret_key_file`` on each instead."""
_SQLITE = "sqlite:///"


def default_key_file(database_url: str) -> str:
    """Where the key file is when no setting names one."""
    if database_url.startswith(_SQLITE):
        path = database_url[len(_SQLITE) :]
        if path and path != ":memory:":
            return path + KEY_FILE_SUFFIX
    return PG_KEY_FILE


def load_box(database_url: str, *, secret_key: Secret, secret_key_file: str) -> SecretBox:
    """The operator key as a :class:`SecretBox`: from ``secret_key`` when set, else from
    ``secret_key_file`` (or the default file, created when missing). One-line
    :class:`ConfigError` when it cannot be read or is not a key."""
    if secret_key:
        return SecretBox(secret_key, source="the setting secret_key (SIGNALYARD_SECRET_KEY)")
    path = os.path.abspath(secret_key_file or default_key_file(database_url))
    text = _read(path) if secret_key_file else _read_or_create(path)
    return SecretBox(text, source=f"the file {path}")


def _read(path: str) -> Secret:
    try:
        with open(path, encoding="ascii") as fh:
            text = fh.read().strip()
    except FileNotFoundError:
        raise ConfigError(
            f"the secret key file {path} (setting secret_key_file) does not exist; restore it"
            " from your backup, or unset secret_key_file to use the default key file"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not a key"
        raise ConfigError(f"cannot read the secret key file {path}: {reason}") from None
    if not text:
        raise ConfigError(f"the secret key file {path} is empty; restore it from your backup")
    _warn_if_exposed(path)
    return Secret(text)


def _read_or_create(path: str) -> Secret:
    if not os.path.exists(path):
        _create(path)
    return _read(path)


def _create(path: str) -> None:
    """Write a new key to ``path`` (0600), atomically: the file appears whole or not at all,
    and when two processes start at once the first one's key is kept."""
    folder = os.path.dirname(path)
    temp = f"{path}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (new_key_text() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)
        except FileExistsError:  # another process made it first: use theirs
            return
        finally:
            os.unlink(temp)
    except OSError as error:
        raise ConfigError(
            f"cannot create the secret key file {path}: {error.strerror}; make {folder} writable"
            " or set secret_key_file (or SIGNALYARD_SECRET_KEY)"
        ) from None
    log.info(
        "created the secret key file %s: it encrypts destination secrets; back it up"
        " (without it they must be set again)",
        path,
    )


def _warn_if_exposed(path: str) -> None:
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    if mode & 0o077:
        log.warning(
            "the secret key file %s can be read by other users (mode %o): run chmod 600 %s",
            path,
            mode,
            path,
        )
