"""Where the database is: its name in messages (never a password), the permissions of its
files, and one-line explanations of why it cannot be used.

The database holds destination tokens, app secrets, webhook secrets, IP addresses and user
agents, so a SQLite file Signalyard creates is readable by its owner only (0600); SQLite gives
its ``-wal``, ``-shm`` and ``-journal`` files the permissions of the database file. An
existing file other users can read is used as it is, with a warning that says how to fix it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

log = logging.getLogger("signalyard.store")

SQLITE_PREFIX = "sqlite:///"
COMPANIONS = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside a database file."""
PRIVATE_MODE = 0o600


def describe(database_url: str) -> str:
    """The database as a message names it: a SQLite file's absolute path, or a PostgreSQL URL
    without its password (in the user part or as a ``password`` parameter)."""
    if database_url.startswith(SQLITE_PREFIX):
        path = database_url[len(SQLITE_PREFIX) :]
        return os.path.abspath(path) if path else database_url
    try:
        parts = urlsplit(database_url)
        netloc = parts.netloc
        if "@" in netloc:
            user, host = netloc.rsplit("@", 1)
            netloc = f"{user.split(':', 1)[0]}@{host}"
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return database_url.split("://", 1)[0] + "://..."


def create_private(path: str) -> None:
    """Create the SQLite file ``path`` readable and writable by its owner only, unless it
    exists. A missing directory is left for SQLite to report."""
    if not path or path == ":memory:" or os.path.exists(path):
        return
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:  # created meanwhile by another process
        return
    os.close(fd)


def exposed_files(path: str) -> list[tuple[str, int]]:
    """The database file and its companions that other users can access, with their modes."""
    found = []
    path = os.path.abspath(path)
    for name in (path, *(path + suffix for suffix in COMPANIONS)):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
        except OSError:
            continue
        if mode & 0o077:
            found.append((name, mode))
    return found


def warn_if_exposed(path: str) -> None:
    """Log a warning naming each database file other users can read, and the fix."""
    exposed = exposed_files(path)
    if exposed:
        names = " ".join(name for name, _ in exposed)
        modes = ", ".join(f"{name} {mode:04o}" for name, mode in exposed)
        log.warning(
            "The database holds destination tokens, secrets, IP addresses and user agents, and"
            " other users can access it (%s): run `chmod 600 %s`",
            modes,
            names,
        )


_SQLITE_REASONS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "the database is read-only",
    "SQLITE_IOERR": "disk I/O error",
    "SQLITE_BUSY": "the database is locked by another process",
    "SQLITE_LOCKED": "the database is locked",
    "SQLITE_CORRUPT": "the database file is corrupt",
    "SQLITE_NOTADB": "the file is not a SQLite database",
    "SQLITE_CANTOPEN": "the database file cannot be opened",
    "SQLITE_PERM": "permission denied",
}


def sqlite_reason(error: BaseException) -> str:
    """A short reason for a SQLite failure, from its result code only (a SQLite message can
    quote SQL; this never does)."""
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        for prefix, reason in _SQLITE_REASONS.items():
            if name == prefix or name.startswith(prefix + "_"):
                return f"{reason} ({name})"
        return name
    return type(error).__name__


def sqlite_problem(path: str, error: BaseException) -> str:
    """Why the SQLite database ``path`` cannot be used, and the fix, in one line."""
    shown = os.path.abspath(path)
    folder = os.path.dirname(shown)
    name = getattr(error, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_READONLY") or name.startswith("SQLITE_PERM"):
        return (
            f"the database {shown} is read-only: give the user running signalyard write"
            f" access to it and to {folder} (SQLite writes its -wal and -shm files there)"
        )
    if name.startswith("SQLITE_CANTOPEN"):
        if not os.path.isdir(folder):
            return (
                f"cannot open the database {shown}: the directory {folder} does not exist"
                " (create it, or set database_url to another path)"
            )
        return (
            f"cannot open the database {shown}: check that it is a file and that the user"
            f" running signalyard can read and write it and {folder}"
        )
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return (
            f"the database {shown} is not a SQLite database or is corrupt: restore it from a"
            " backup, or set database_url to another file"
        )
    if name.startswith("SQLITE_FULL"):
        return f"the disk holding the database {shown} is full: free space, then start again"
    return f"cannot use the database {shown}: {sqlite_reason(error)}"


_WAITED = ("SQLITE_BUSY", "SQLITE_LOCKED")
"""Another connection held the lock too long: the database works, this write waited."""


def is_storage_error(error: BaseException) -> bool:
    """A SQLite error that says the database cannot be written or read (disk full, read-only,
    I/O, corrupt), not that one statement broke a constraint, nor that the write lock was
    busy (``SQLITE_BUSY``, ``SQLITE_LOCKED``: another process writes; the next write may
    well commit)."""
    if not (
        isinstance(error, (sqlite3.OperationalError, sqlite3.InternalError))
        or type(error) is sqlite3.DatabaseError
    ):
        return False
    name = getattr(error, "sqlite_errorname", None)
    return not (isinstance(name, str) and name.startswith(_WAITED))


PROBE_ROOM_BYTES = 1024 * 1024
"""The room a SQLite database must have to be called writable again after a failure: free
pages it may still use, and free space on its disk."""


def has_room(conn: sqlite3.Connection, path: str) -> bool:
    """Whether the database can still grow by :data:`PROBE_ROOM_BYTES`: within its
    ``max_page_count`` (counting free pages it holds) and on its disk. A small write can
    commit in space a full database already holds, so a write alone does not say so."""
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    max_pages = conn.execute("PRAGMA max_page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    if (max_pages - pages + free) * page_size < PROBE_ROOM_BYTES:
        return False
    disk = os.statvfs(os.path.dirname(os.path.abspath(path)))
    return disk.f_bavail * disk.f_frsize >= PROBE_ROOM_BYTES
