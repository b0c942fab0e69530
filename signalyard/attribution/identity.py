"""Persons: the connected components of the identity graph (deterministic links only).

Nodes are a browser's ids (``fbp:``, ``ga:``...), a person's hashed keys (``em:``, ``ph:``,
``external_id:``) and click ids (``click:<kind>:<id>``); two nodes are linked when one event
carried both. No fingerprinting (IP and user agent never link).

Guardrail: a person key seen with more than :data:`MAX_BROWSERS_PER_KEY` browsers in one
day (a shop's test e-mail address, a shared phone number) links nothing from that day on: it
would merge strangers. Counted per day, so a loyal customer whose browser id a privacy
feature renews every week keeps their e-mail's links.

History is not rewritten: built ``deferred``, the persons grow link by link in the order the
links were first seen (:meth:`Persons.advance`), so that an order is credited from the links
seen up to its own time plus :data:`LINK_SETTLE_SECONDS` (late webhooks), and a login a week
later does not pull that week's strangers' clicks, or older ones, into it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

__all__ = ["LINK_SETTLE_SECONDS", "MAX_BROWSERS_PER_KEY", "Persons", "is_person_key"]

MAX_BROWSERS_PER_KEY = 20
"""Browsers a person key may be seen with in one day (UTC) before it links nothing."""
DAY = 86400
LINK_SETTLE_SECONDS = 86400.0
"""How long after an order a link first seen may still pull clicks into it: its webhooks,
a shop's late server events (the design's settle period)."""
PERSON_PREFIXES = ("em:", "ph:", "external_id:")


def is_person_key(node: str) -> bool:
    return node.startswith(PERSON_PREFIXES)


def _is_browser(node: str) -> bool:
    """A browser's id (not a click, an event, a cart or a checkout: a shopper has one per
    order)."""
    return not node.startswith(
        ("click:", "event:", "cart:", "checkout:", "order:")
    ) and not is_person_key(node)


TOKEN_PREFIXES = ("cart:", "checkout:")
"""A shop's cart and checkout tokens: one per order, linking the browser that sent it to
the order that carries it."""


def _browsers_behind_tokens(pairs: Iterable[tuple[str, str, float | None]]) -> dict[str, set[str]]:
    """Token node -> the browsers linked to it, or to a token linked to it (an order links
    its cart and its checkout)."""
    behind: dict[str, set[str]] = defaultdict(set)
    tokens: list[tuple[str, str]] = []
    for a, b, _at in pairs:
        if a.startswith(TOKEN_PREFIXES):
            if _is_browser(b):
                behind[a].add(b)
            elif b.startswith(TOKEN_PREFIXES):
                tokens.append((a, b))
        if b.startswith(TOKEN_PREFIXES) and _is_browser(a):
            behind[b].add(a)
    for a, b in tokens:
        joined = behind.get(a, set()) | behind.get(b, set())
        if joined:
            behind[a] = behind[b] = joined
    return behind


class Persons:
    """Union-find over the links; :meth:`of` gives a node's person (a representative node)."""

    def __init__(
        self, links: Iterable[tuple[str, str, float | None]], *, deferred: bool = False
    ) -> None:
        """``links``: (node, node, when first seen: UTC seconds, or None when unknown). All
        are applied, unless ``deferred``: then none yet, and :meth:`advance` applies them in
        the order they were seen (those of unknown time first)."""
        pairs = list(links)
        behind = _browsers_behind_tokens(pairs)
        browsers: dict[tuple[str, int], set[str]] = defaultdict(set)
        for a, b, at in pairs:
            day = int(at // DAY) if at is not None else -1
            for key, other in ((a, b), (b, a)):
                if not is_person_key(key):
                    continue
                if _is_browser(other):
                    browsers[(key, day)].add(other)
                elif other.startswith(TOKEN_PREFIXES):
                    # An order linked by its cart or checkout token: the browsers that sent
                    # the token count as seen with the key.
                    browsers[(key, day)].update(behind.get(other, ()))
        limit = MAX_BROWSERS_PER_KEY
        shared_from: dict[str, int] = {}
        for (key, day), seen in browsers.items():
            if len(seen) > limit and day < shared_from.get(key, day + 1):
                shared_from[key] = day
        self.shared = frozenset(shared_from)
        """Person keys the guardrail stopped: from the first day one was seen with too many
        browsers, it links nothing (its links of earlier days stand: history is kept)."""

        def kept(node: str, day: int) -> bool:
            since = shared_from.get(node)
            return since is None or (day != -1 and day < since)

        self._parent: dict[str, str] = {}
        self._pending = sorted(
            (at if at is not None else -math.inf, a, b)
            for a, b, at in pairs
            if kept(a, int(at // DAY) if at is not None else -1)
            and kept(b, int(at // DAY) if at is not None else -1)
        )
        self._applied = 0
        if not deferred:
            self.advance(math.inf)

    def advance(self, until: float) -> list[tuple[str, str]]:
        """Apply the links first seen at ``until`` or before; the persons they joined, as
        ``(absorbed, into)`` representatives, in the order joined."""
        joined: list[tuple[str, str]] = []
        pending, i = self._pending, self._applied
        while i < len(pending) and pending[i][0] <= until:
            _at, a, b = pending[i]
            merged = self._union(a, b)
            if merged is not None:
                joined.append(merged)
            i += 1
        self._applied = i
        if i == len(pending) and pending:
            self._pending, self._applied = [], 0  # all applied: let them go
        return joined

    def _find(self, node: str) -> str:
        parent = self._parent
        root = node
        while parent.get(root, root) != root:
            root = parent[root]
        while node != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    def _union(self, a: str, b: str) -> tuple[str, str] | None:
        ra, rb = self._find(a), self._find(b)
        if ra == rb:
            return None
        # The smaller name is the root: the same links give the same persons.
        if rb < ra:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._parent.setdefault(ra, ra)
        return rb, ra

    def of(self, node: str) -> str:
        return self._find(node) if node in self._parent else node
