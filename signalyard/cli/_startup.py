"""What ``serve`` checks and shows before it listens: the port is free (checked before a new
install's one-time ingest key is made, so a taken port does not burn it), and that key reaches
only the person who started the server.

On a terminal the key is printed. Otherwise (systemd, docker, a log file) the output ends up
in logs, so the key is written to a file only its owner can read, beside the SQLite database
(``<database>.initial-key``; ``signalyard.initial-key`` in the current directory on
PostgreSQL), and only that file's path is printed.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from signalyard.settings import Settings
from signalyard.store.location import PRIVATE_MODE, SQLITE_PREFIX

KEY_FILE_SUFFIX = ".initial-key"


def port_problem(host: str, port: int) -> str | None:
    """Why ``serve`` could not listen on ``host:port`` (bound and released at once, as the
    server binds it: ``SO_REUSEADDR``, so only a listening socket counts), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return (
                f"port {port} on {host} is in use by another process: stop it, or choose"
                " another port with --port (or SIGNALYARD_PORT)"
            )
        reason = error.strerror or type(error).__name__
        return f"cannot listen on {host}:{port}: {reason}"
    return None


def key_file(settings: Settings) -> Path:
    """Where a new install's ingest key is written when the output is not a terminal."""
    url = settings.database_url
    if url.startswith(SQLITE_PREFIX):
        return Path(os.path.abspath(url[len(SQLITE_PREFIX) :] + KEY_FILE_SUFFIX))
    return Path(os.path.abspath("signalyard" + KEY_FILE_SUFFIX))


def write_key_file(path: Path, secret: str) -> None:
    """Write ``secret`` to ``path``, readable and writable by its owner only. A file already
    there (a key of an earlier install) is replaced, never followed if it is a link."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_MODE)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")


def key_lines(settings: Settings, dataset_id: str, secret: str, *, terminal: bool) -> str:
    """The lines that hand a new install's ingest key over: the key itself on a terminal,
    otherwise the path of the private file it was written to."""
    if terminal:
        return (
            f"Ingest key for dataset '{dataset_id}' (shown once, keep it):\n"
            f"  {secret}\n"
            "Try it:      signalyard send-test --key <key>"
        )
    path = key_file(settings)
    write_key_file(path, secret)
    return (
        f"Ingest key for dataset '{dataset_id}': written to {path} (readable by its owner"
        " only; not printed, as this output is not a terminal). Keep it, then delete the file.\n"
        f'Try it:      signalyard send-test --key "$(cat {path})"'
    )
