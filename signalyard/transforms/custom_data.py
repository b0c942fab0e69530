"""``custom_data`` after validation: no personal data stored by mistake, ``contents`` tidied.

``custom_data`` is stored and sent as the sender gave it, so personal data put there (an
email address as an ``order_id``, a phone number in a custom key) would reach the store in
plaintext. :func:`drop_personal` walks every string of it (nested objects and lists too) and
drops those shaped like an email address or a phone number written in international form
(``+33 6 12 34 56 78``) or with its area code in parentheses (``(650) 555-1212``), each with a
message naming its path, never the value. Plain digit strings (order ids, SKUs) never count
as phones. Personal data belongs in ``user_data``, where it is normalized and hashed.

:func:`tidy_contents` turns ``contents`` items' decimal strings (``"item_price": "12.50"``,
``"quantity": "2"``) into numbers, as ``custom_data.value`` is; the items were checked by
:func:`~signalyard.transforms.validate.validate_event`.

Both are linear in the size of ``custom_data`` and never recurse (any nesting depth), and
both copy what they change: the event given is never modified.
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

from signalyard.transforms.normalize import _EMAIL

__all__ = ["drop_personal", "personal_shape", "tidy_contents"]

_EMAIL_SHAPE: Final = _EMAIL  # what user_data.em takes as an email address
# A phone number written as people write one: ``+`` and the digits (with separators), or an
# area code in parentheses. 7 to 15 digits (E.164 has at most 15).
_PHONE_SHAPE: Final = re.compile(r"(?:\+[\s.-]*+\d|\(\d{1,5}\)[\s.-]*+\d)[\d\s().\-/]*+", re.ASCII)
_SAFE_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_MAX_MESSAGES: Final = 10
_AT: Final = ord("@")
_PLUS: Final = ord("+")
_PAREN: Final = ord("(")


def personal_shape(text: str) -> str | None:
    """``"an email address"`` or ``"a phone number"`` when ``text`` (trimmed) looks like one,
    else ``None``."""
    if "@" in text:
        return "an email address" if _EMAIL_SHAPE.fullmatch(text.strip()) else None
    first = text.lstrip()[:1]
    if first != "+" and first != "(":
        return None
    stripped = text.strip()
    if len(stripped) > 40 or _PHONE_SHAPE.fullmatch(stripped) is None:
        return None
    digits = sum(c.isdigit() for c in stripped)
    return "a phone number" if 7 <= digits <= 15 else None


def _suspect(text: str) -> bool:
    """Whether ``text`` may be personal-shaped (every email has ``@``, every phone shape ``+``
    or ``(``): three searches in C, so most strings cost next to nothing."""
    return "@" in text or "+" in text or "(" in text


def _any_personal(custom_data: dict[Any, Any]) -> bool:
    """Whether some string (or key) in ``custom_data`` is personal-shaped. The common case, no
    ``@``, ``+`` or ``(`` anywhere in it, is decided on its JSON (one call in C, JSON never
    escapes those characters); otherwise, or if it is not JSON, by a walk."""
    try:
        encoded = orjson.dumps(custom_data)
    except (orjson.JSONEncodeError, TypeError):
        pass
    else:
        # An int needle is a memchr; a bytes one costs several times more.
        if _AT not in encoded and _PLUS not in encoded and _PAREN not in encoded:
            return False
    stack: list[dict[Any, Any] | list[Any]] = [custom_data]
    while stack:
        node = stack.pop()
        values: Any
        if isinstance(node, dict):
            for key in node:
                if isinstance(key, str) and _suspect(key) and personal_shape(key) is not None:
                    return True
            values = node.values()
        else:
            values = node
        for value in values:
            if isinstance(value, str):
                if _suspect(value) and personal_shape(value) is not None:
                    return True
            elif isinstance(value, dict | list):
                stack.append(value)
    return False


def _step(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if isinstance(key, str) and _SAFE_KEY.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}.<key>"


def drop_personal(custom_data: dict[Any, Any]) -> tuple[dict[Any, Any], list[str]]:
    """``custom_data`` without its personal-shaped strings, and a message per string dropped
    (the first ten; then how many more). A dict key shaped so drops its entry. The same
    object when there is nothing to drop."""
    if not _any_personal(custom_data):
        return custom_data, []
    dropped: list[str] = []
    # Post-order without recursion: a frame is (container, its path, its entries, the next
    # entry, the replacements of its entries: a new child, or _DROP).
    root: _Frame = _Frame(custom_data, "custom_data")
    frames = [root]
    while frames:
        frame = frames[-1]
        if frame.index < len(frame.entries):
            key, value = frame.entries[frame.index]
            frame.index += 1
            path = _step(frame.path, key)
            key_shape = personal_shape(key) if isinstance(key, str) else None
            if key_shape is not None:
                frame.replace[frame.index - 1] = _DROP
                dropped.append(f"{frame.path}: a key that looks like {key_shape}")
            elif isinstance(value, str):
                shape = personal_shape(value)
                if shape is not None:
                    frame.replace[frame.index - 1] = _DROP
                    dropped.append(f"{path}: looks like {shape}")
            elif isinstance(value, dict | list):
                frames.append(_Frame(value, path, parent=frame, slot=frame.index - 1))
            continue
        frames.pop()
        if frame.replace and frame.parent is not None:
            frame.parent.replace[frame.slot] = frame.rebuilt()
    out = root.rebuilt() if root.replace else custom_data
    assert isinstance(out, dict)
    messages = [
        f"{what} (personal data belongs in user_data, hashed; not stored); dropped"
        for what in dropped[:_MAX_MESSAGES]
    ]
    if len(dropped) > _MAX_MESSAGES:
        messages.append(
            f"custom_data: {len(dropped) - _MAX_MESSAGES} more values that look like personal"
            " data (not stored); dropped"
        )
    return out, messages


class _Drop:
    pass


_DROP: Final = _Drop()


class _Frame:
    def __init__(
        self,
        node: dict[Any, Any] | list[Any],
        path: str,
        *,
        parent: _Frame | None = None,
        slot: int = 0,
    ) -> None:
        self.node = node
        self.path = path
        self.entries: list[tuple[object, object]] = (
            list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        )
        self.index = 0
        self.replace: dict[int, object] = {}
        self.parent = parent
        self.slot = slot

    def rebuilt(self) -> object:
        """The container with its replacements applied (entries replaced by _DROP left out)."""
        replace = self.replace
        if isinstance(self.node, dict):
            out: dict[object, object] = {}
            for i, (key, value) in enumerate(self.entries):
                new = replace.get(i, value)
                if new is not _DROP:
                    out[key] = new
            return out
        items: list[object] = []
        for i, (_, value) in enumerate(self.entries):
            new = replace.get(i, value)
            if new is not _DROP:
                items.append(new)
        return items


def tidy_contents(contents: list[Any]) -> list[Any]:
    """``contents`` (checked) with decimal-string ``item_price`` as a float and digit-string
    ``quantity`` as an int; the same list when nothing needs it."""
    for item in contents:
        if type(item.get("item_price")) is str or type(item.get("quantity")) is str:
            break
    else:
        return contents
    out: list[Any] = []
    for item in contents:
        price = item.get("item_price")
        quantity = item.get("quantity")
        if type(price) is str or type(quantity) is str:
            item = dict(item)
            if type(price) is str:
                item["item_price"] = float(price)
            if type(quantity) is str:
                item["quantity"] = int(quantity)
        out.append(item)
    return out
