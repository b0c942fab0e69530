"""Persons: the connected components of the identity graph (deterministic links only).

Nodes are a browser's ids (``fbp:``, ``ga:``...), a person's hashed keys (``em:``, ``ph:``,
``external_id:``) and click ids (``click:<kind>:<id>``); two nodes are linked when one event
carried both. No fingerprinting (IP and user agent never link).

Guardrail: a person key seen with more than :data:`MAX_BROWSERS_PER_KEY` browsers in one
day (a shop's test e-mail address, a shared phone number) links nothing: it would merge
strangers. Counted per day, so a loyal customer whose browser id a privacy feature renews
every week keeps their e-mail's links.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

__all__ = ["MAX_BROWSERS_PER_KEY", "Persons", "is_person_key"]

MAX_BROWSERS_PER_KEY = 20
"""Browsers a person key may be seen with in one day (UTC) before it links nothing."""
DAY = 86400
PERSON_PREFIXES = ("em:", "ph:", "external_id:")


def is_person_key(node: str) -> bool:
    return node.startswith(PERSON_PREFIXES)


def _is_browser(node: str) -> bool:
    """A browser's id (not a click, an event, a cart: a shopper has one per order)."""
    return not node.startswith(("click:", "event:", "cart:", "order:")) and not is_person_key(node)


class Persons:
    """Union-find over the links; :meth:`of` gives a node's person (a representative node)."""

    def __init__(self, links: Iterable[tuple[str, str, float | None]]) -> None:
        """``links``: (node, node, when first seen: UTC seconds, or None when unknown)."""
        pairs = list(links)
        browsers: dict[tuple[str, int], set[str]] = defaultdict(set)
        for a, b, at in pairs:
            day = int(at // DAY) if at is not None else -1
            if is_person_key(a) and _is_browser(b):
                browsers[(a, day)].add(b)
            elif is_person_key(b) and _is_browser(a):
                browsers[(b, day)].add(a)
        limit = MAX_BROWSERS_PER_KEY
        self.shared = frozenset(k for (k, _day), seen in browsers.items() if len(seen) > limit)
        """Person keys left out of linking by the guardrail."""
        self._parent: dict[str, str] = {}
        for a, b, _at in pairs:
            if a in self.shared or b in self.shared:
                continue
            self._union(a, b)

    def _find(self, node: str) -> str:
        parent = self._parent
        root = node
        while parent.get(root, root) != root:
            root = parent[root]
        while node != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            # The smaller name is the root: the same links give the same persons.
            if rb < ra:
                ra, rb = rb, ra
            self._parent[rb] = ra
            self._parent.setdefault(ra, ra)

    def of(self, node: str) -> str:
        return self._find(node) if node in self._parent else node
