"""Secrets encrypted at rest: a destination's secret fields sealed with the operator key.

A :class:`SecretBox` holds the operator key (a Fernet key: AES-128-CBC with an HMAC-SHA256
tag, from ``cryptography``) and seals a mapping of secret names to values into one opaque
text, the only form in which secrets reach the database. The key never prints: the box's
``repr`` names only where the key came from. A text that does not open with this key (another
key, or tampered) is a :class:`KeyMismatch`, a one-line :class:`~signalyard.errors.ConfigError`
saying what to do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import orjson
from cryptography.fernet import Fernet, InvalidToken

from signalyard.errors import ConfigError
from signalyard.secret import Secret

__all__ = ["KeyMismatch", "SealedSecrets", "SecretBox", "new_key_text"]

_CHECK = b"signalyard secret key check v1"
"""Sealed once per database (:meth:`SecretBox.check_text`), so a wrong key is noticed at
start, before any destination is read."""

LOST_KEY_FIX = (
    "set secret_key (SIGNALYARD_SECRET_KEY) or secret_key_file to the key that encrypted them;"
    " if that key is lost, run `signalyard destinations forget-secrets --yes` and set each"
    " destination's secrets again (docs/deployment.md, 'The secret key')"
)


class KeyMismatch(ConfigError):
    """The database's secrets were sealed with another key."""


def new_key_text() -> str:
    """A new random operator key, as the text kept in a key file or the environment."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Seals and opens secret mappings with one operator key."""

    __slots__ = ("_fernet", "source")

    def __init__(self, key: Secret, *, source: str) -> None:
        """``key``: the key's text (urlsafe base64 of 32 bytes); ``source``: where it came
        from, for messages (``"the file /var/lib/signalyard/signalyard.db.secret-key"``)."""
        self.source = source
        try:
            self._fernet = Fernet(key.reveal().strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ConfigError(
                f"the secret key from {source} is not a valid key (44 characters of urlsafe"
                " base64, as cryptography's Fernet.generate_key() makes); fix it or remove it"
            ) from None

    def __repr__(self) -> str:
        return f"SecretBox(source={self.source!r})"

    def seal(self, secrets: Mapping[str, Secret]) -> str:
        """``secrets`` as one encrypted text (an empty mapping too)."""
        plain = orjson.dumps({name: value.reveal() for name, value in sorted(secrets.items())})
        return self._fernet.encrypt(plain).decode("ascii")

    def open(self, sealed: str, *, what: str = "a destination's secrets") -> dict[str, Secret]:
        """The mapping :meth:`seal` gave ``sealed``; :class:`KeyMismatch` naming ``what``
        when this key cannot open it."""
        try:
            plain = self._fernet.decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise self.mismatch(what) from None
        values = orjson.loads(plain)
        return {str(name): Secret(str(value)) for name, value in values.items()}

    def check_text(self) -> str:
        """A sealed constant a database keeps to recognise its key."""
        return self._fernet.encrypt(_CHECK).decode("ascii")

    def verify(self, check_text: str, *, database: str) -> None:
        """Raise :class:`KeyMismatch` unless ``check_text`` was sealed with this key."""
        try:
            ok = self._fernet.decrypt(check_text.encode("ascii")) == _CHECK
        except (InvalidToken, UnicodeEncodeError):
            ok = False
        if not ok:
            raise self.mismatch(f"the destination secrets in {database}")

    def mismatch(self, what: str) -> KeyMismatch:
        return KeyMismatch(
            f"the secret key from {self.source} cannot decrypt {what}: it is not the key"
            f" they were encrypted with; {LOST_KEY_FIX}"
        )


class SealedSecrets(Mapping[str, Secret]):
    """A destination's secrets as read from the database: opened with the key on first use
    only, so reading destinations (ingest plans, status pages) costs no decryption."""

    __slots__ = ("_box", "_opened", "_sealed", "_what")

    def __init__(self, box: SecretBox, sealed: str, *, what: str) -> None:
        self._box = box
        self._sealed = sealed
        self._what = what
        self._opened: dict[str, Secret] | None = None

    def _values(self) -> dict[str, Secret]:
        if self._opened is None:
            self._opened = self._box.open(self._sealed, what=self._what)
        return self._opened

    def __getitem__(self, name: str) -> Secret:
        return self._values()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())

    def __repr__(self) -> str:
        return f"SealedSecrets({self._what})"
