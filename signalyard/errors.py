"""Signalyard's own exceptions. Foreign exceptions are translated into these at the edges.

    SignalyardError
    ├── InputError          a request or event breaks a rule; answered with a 4xx naming it
    │   ├── AuthError       the ingest key is missing, unknown or revoked (401)
    │   └── TooLarge        the body or the batch passes a limit (413)
    ├── Conflict            a dataset, key or destination of that name exists already
    ├── StoreClosed         the store was used after it was closed
    └── ConfigError         the configuration cannot be used (raised at start-up)

An ``InputError`` carries the field path (``data[3].user_data.ph``), the rule it broke
and, for Graph-compatible answers, Meta's ``code``/``error_subcode`` where one fits.
Messages never contain the offending value when the field holds personal data.
"""

from __future__ import annotations


class SignalyardError(Exception):
    """Base of every error Signalyard raises on purpose."""


class InputError(SignalyardError):
    """Input that breaks a rule. ``field`` is a dotted path, ``rule`` says what was expected."""

    status = 400

    def __init__(
        self,
        field: str,
        rule: str,
        *,
        code: int = 100,
        subcode: int | None = None,
        title: str | None = None,
    ) -> None:
        self.field = field
        self.rule = rule
        self.code = code
        self.subcode = subcode
        self.title = title
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if not self.field:
            return self.rule
        return f"{self.field}: {self.rule}"

    def at(self, prefix: str) -> InputError:
        """The same error with ``prefix`` put before the field path (``data[3]``)."""
        field = f"{prefix}.{self.field}" if self.field else prefix
        return type(self)(field, self.rule, code=self.code, subcode=self.subcode, title=self.title)


class AuthError(InputError):
    """Missing, unknown or revoked ingest key."""

    status = 401


class TooLarge(InputError):
    """A body or batch over the limit."""

    status = 413


class Conflict(SignalyardError):
    """Something of that name exists already."""


class StoreClosed(SignalyardError):
    """The store was used after it was closed."""


class ConfigError(SignalyardError):
    """Configuration that cannot be used."""
