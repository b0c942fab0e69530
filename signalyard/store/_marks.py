"""``?`` placeholders as PostgreSQL's ``$1, $2...``: for SQL written once for both stores."""

from __future__ import annotations

import re

_MARK = re.compile(r"\?")


def pg(sql: str) -> str:
    """No statement given here may hold a literal ``?``."""
    counter = iter(range(1, 1000))
    return _MARK.sub(lambda _: f"${next(counter)}", sql)
