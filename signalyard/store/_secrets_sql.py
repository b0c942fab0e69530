"""Destination secrets in the database: sealed with the operator key, never plaintext.

SQL written once for both stores (``?`` placeholders; PostgreSQL through
:func:`signalyard.store._marks.pg`). The ``secret_key_check`` row is a constant sealed with
the key the database's secrets use: the first process to open a database writes it, every
later one checks its own key opens it (:meth:`SecretBox.verify`), so a wrong key stops a
process at start with one line, before it reads a destination.
"""

from __future__ import annotations

from collections.abc import Mapping

from signalyard.secret import Secret
from signalyard.secret_box import SealedSecrets, SecretBox

SELECT_CHECK = "SELECT check_text FROM secret_key_check WHERE id=1"
INSERT_CHECK = "INSERT INTO secret_key_check(id, check_text) VALUES (1, ?) ON CONFLICT DO NOTHING"
REPLACE_CHECK = "UPDATE secret_key_check SET check_text=? WHERE id=1"
SET_SECRETS = (
    "UPDATE destinations SET secrets=?, state='active', paused_reason=NULL, paused_fix=NULL,"
    " throttled_until=NULL, updated_at=? WHERE id=?"
)
FORGET_SECRETS = (
    "UPDATE destinations SET secrets=NULL, state='paused', paused_reason=?, paused_fix=?,"
    " updated_at=?"
)
FORGOTTEN_REASON = "its secrets were encrypted with a secret key that was lost, and forgotten"
FORGOTTEN_FIX = (
    "set its secrets again: `signalyard destinations set-secret NAME FIELD` (or `set-token`);"
    " that resumes it"
)


def sealed(box: SecretBox, secrets: Mapping[str, Secret]) -> str | None:
    """What the ``secrets`` column holds: ``None`` for no secrets."""
    return box.seal(secrets) if secrets else None


def opened(box: SecretBox, text: str | None, name: str) -> Mapping[str, Secret]:
    """The ``secrets`` column of destination ``name``, opened on first use (empty when
    ``NULL``)."""
    if text is None:
        return {}
    return SealedSecrets(box, text, what=f"the secrets of destination {name}")
