"""Persons: the connected components of the identity graph (deterministic links only).

Nodes are a browser's ids (``fbp:``, ``ga:``...), a person's hashed keys (``em:``, ``ph:``,
``external_id:``) and click ids (``click:<kind>:<id>``); two nodes are linked when one event
carried both. No fingerprinting (IP and user agent never link).

Guardrail: a person key seen with more than :data:`MAX_BROWSERS_PER_KEY` browsers (a shop's
test e-mail address, a shared phone number) links nothing: it would merge strangers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

__all__ = ["MAX_BROWSERS_PER_KEY", "Persons", "is_person_key"]

MAX_BROWSERS_PER_KEY = 20
PERSON_PREFIXES = ("em:", "ph:", "external_id:")


def is_person_key(node: str) -> bool:
    return node.startswith(PERSON_PREFIXES)


def _is_browser(node: str) -> bool:
    """A browser's id (not a click, an event, a cart: a shopper has one per order)."""
    return not node.startswith(("click:", "event:", "cart:", "order:")) and not is_person_key(node)


class Persons:
    """Union-find over the links; :meth:`of` gives a node's person (a representative node)."""

    def __init__(self, links: Iterable[tuple[str, str]]) -> None:
        pairs = list(links)
        browsers: dict[str, set[str]] = defaultdict(set)
        for a, b in pairs:
            if is_person_key(a) and _is_browser(b):
                browsers[a].add(b)
            elif is_person_key(b) and _is_browser(a):
                browsers[b].add(a)
        self.shared = frozenset(
            k for k, seen in browsers.items() if len(seen) > MAX_BROWSERS_PER_KEY
        )
        """Person keys left out of linking by the guardrail."""
        self._parent: dict[str, str] = {}
        for a, b in pairs:
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
