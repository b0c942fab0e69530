"""clip_json's fast path (one encoding, one scan) gives byte for byte what the general path
(every value rebuilt) gives, for events with nothing to cut and for every way to need it."""

from __future__ import annotations

import random
from typing import Any

from signalyard.sandbox.clip import MAX_STORED_EVENT, MAX_STRING, clip_json, clip_json_general


def _event(rng: random.Random) -> dict[str, Any]:
    size = rng.choice([1, 10, MAX_STRING - 1, MAX_STRING, MAX_STRING + 1, 5000])
    text = rng.choice(["a", "é", "\u20ac", '"', "\\", "\n"]) * size
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": f"e-{rng.randrange(10**6)}",
        "user_data": {"em": ["a" * 64], "note": text},
        "numbers": list(range(rng.choice([0, 10, 600]))),
        "nested": {"list": [{"k": text[: rng.randrange(1, size + 1)]}]},
    }
    if rng.random() < 0.2:
        event[text[: MAX_STRING + 5]] = 1  # a long key
    if rng.random() < 0.1:
        event["big"] = ["x" * 1000] * (MAX_STORED_EVENT // 1000 + 5)  # over the size bound
    return event


def test_the_fast_path_gives_what_the_general_path_gives() -> None:
    rng = random.Random(7)
    for _ in range(400):
        event = _event(rng)
        assert clip_json(event) == clip_json_general(event)


def test_non_string_keys_and_deep_nesting_take_the_general_path() -> None:
    odd: dict[Any, Any] = {"event_name": "X", 1: "one"}
    assert clip_json(odd) == clip_json_general(odd)
    deep: dict[str, Any] = {"event_name": "Deep"}
    node = deep
    for _ in range(400):
        node["n"] = {}
        node = node["n"]
    assert clip_json(deep) == clip_json_general(deep)
    assert b"nested too deeply" in clip_json(deep)


def test_the_scan_tells_long_strings_from_typical_events() -> None:
    """The fast path is taken for a typical event (64-character hashes, a user agent, a URL),
    and a string over the limit is never missed, escaped or not."""
    import orjson

    from signalyard.sandbox.clip import _may_have_long_string

    typical = {
        "event_name": "Purchase",
        "user_data": {k: ["a" * 64] for k in ("em", "ph", "fn", "ln", "ct", "zp")},
        "client_user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)" * 20,
        "event_source_url": "https://shop.example.com/" + "p" * (MAX_STRING - 30),
    }
    assert not _may_have_long_string(orjson.dumps(typical))
    for text in ("a" * (MAX_STRING + 1), '"' * (MAX_STRING + 1), "\\" * 600 + "b" * 500):
        assert _may_have_long_string(orjson.dumps({"x": text})), text[:3]
    assert not _may_have_long_string(orjson.dumps({"x": "\\" * 10 + "b" * 100}))
