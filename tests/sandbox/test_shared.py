"""The helpers every sandbox shares, tested once here (each platform's tests cover how its
folder uses them): dedup memory, match-key coverage, fault fields, control filters, tokens,
statistics labels."""

from __future__ import annotations

import orjson
import pytest
from starlette.requests import Request

from signalyard.sandbox import faults_common as common
from signalyard.sandbox.clip import MAX_KEY, NO_EVENT_NAME, NOT_AN_OBJECT, clip_element, name_label
from signalyard.sandbox.control_common import BadControlRequest, bool_param, refused_as
from signalyard.sandbox.counters import BatchSizes
from signalyard.sandbox.coverage import coverage
from signalyard.sandbox.dedup_memory import DedupMemory
from signalyard.sandbox.digest import digest_prefix, token_digest, well_formed_token
from signalyard.sandbox.faults_common import FaultSpecError


def test_dedup_memory_keeps_the_first_receipt_within_the_window() -> None:
    memory: DedupMemory[str] = DedupMemory(max_keys=10, window=100)
    assert memory.first("a", seq=1, at=0) is None
    assert memory.first("a", seq=2, at=50) == 1
    assert memory.first("a", seq=3, at=99.9) == 1
    assert memory.first("a", seq=4, at=100) is None  # the window passed: kept again
    assert memory.first("a", seq=5, at=150) == 4
    assert memory.first("b", seq=6, at=150) is None
    assert len(memory) == 2
    memory.clear()
    assert len(memory) == 0
    assert memory.first("a", seq=7, at=160) is None


def test_dedup_memory_forgets_the_oldest_keys_past_its_size() -> None:
    memory: DedupMemory[str] = DedupMemory(max_keys=2, window=1000)
    for seq, key in enumerate(["a", "b", "c"], start=1):
        assert memory.first(key, seq=seq, at=seq) is None
    assert len(memory) == 2
    assert memory.first("a", seq=4, at=4) is None  # forgotten, so kept again
    assert memory.first("c", seq=5, at=5) == 3


def test_coverage_counts_shares_per_key_and_any_key() -> None:
    bits = {"email": 1, "phone": 2}
    masks = {0: 1, 1: 2, 3: 1}  # 4 events: none, email twice, both once
    assert coverage(masks, bits) == {"events": 4, "keys": {"email": 0.75, "phone": 0.25}}
    assert coverage(masks, bits, with_any_key=True)["with_any_key"] == 0.75
    assert coverage({}, bits, with_any_key=True) == {
        "events": 0,
        "keys": {"email": 0.0, "phone": 0.0},
        "with_any_key": 0.0,
    }


def test_fault_fields() -> None:
    assert common.scope_id({}, "asset_id") is None
    assert common.scope_id({"asset_id": "a1"}, "asset_id") == "a1"
    for bad in ("", 5, ["a1"]):
        with pytest.raises(FaultSpecError, match="asset_id must be a non-empty string"):
            common.scope_id({"asset_id": bad}, "asset_id")
    assert common.flag({}, "page") is False
    assert common.flag({"page": True}, "page") is True
    with pytest.raises(FaultSpecError, match="page must be true or false"):
        common.flag({"page": 1}, "page")
    assert common.server_status({}) == 500
    assert common.server_status({}, 502) == 502
    assert common.server_status({"status": 503}) == 503
    for bad in (499, 600):
        with pytest.raises(FaultSpecError):
            common.server_status({"status": bad})
    assert common.retry_after({}, default=60) == 60
    assert common.retry_after({"retry_after": 5}, default=60) == 5
    assert common.retry_after({"retry_after": 0}, default=30, minimum=0) == 0
    with pytest.raises(FaultSpecError, match="retry_after must be an integer >= 1"):
        common.retry_after({"retry_after": 0}, default=60)


def test_kind_matches() -> None:
    digest = token_digest("token-0123456789")
    assert common.kind_matches("expired_token", None, "any", frozenset(), [])
    assert common.kind_matches("expired_token", digest, digest, frozenset(), [])
    assert not common.kind_matches("expired_token", digest, "other", frozenset(), [])
    assert common.kind_matches("invalid_event", None, None, frozenset({"e2"}), ["e1", "e2"])
    assert not common.kind_matches("invalid_event", None, None, frozenset({"e3"}), ["e1", None])
    assert common.kind_matches("server_error", None, None, frozenset(), [])


def _request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "query_string": query.encode(), "headers": []})


def test_bool_param() -> None:
    assert bool_param(_request(""), "test") is None
    assert bool_param(_request("test="), "test") is None
    assert bool_param(_request("test=TRUE"), "test") is True
    assert bool_param(_request("test=1"), "test") is True
    assert bool_param(_request("test=false"), "test") is False
    assert bool_param(_request("test=0"), "test") is False
    with pytest.raises(BadControlRequest, match="test must be true or false"):
        bool_param(_request("test=yes"), "test")


class _Page(Exception):
    def __init__(self, status: int) -> None:
        self.status = status
        self.message = "refused"
        self.headers = {"Retry-After": "1"}


def test_refused_as_keeps_the_platform_status_and_headers() -> None:
    slow = refused_as(lambda error: _Page(408))(ValueError())  # type: ignore[arg-type]
    assert (slow.status, str(slow), dict(slow.headers)) == (408, "refused", {"Retry-After": "1"})
    large = refused_as(lambda error: _Page(413))(ValueError())  # type: ignore[arg-type]
    assert large.status == 413 and "larger than" in str(large)


def test_tokens() -> None:
    assert well_formed_token("abcdefghij")
    assert not well_formed_token("abcdefghi")  # too short
    assert not well_formed_token("abcde fghij")
    assert not well_formed_token("abcdéfghijk")
    assert not well_formed_token("abcdefghij\x00")
    digest = token_digest("abcdefghij")
    assert digest_prefix(digest) == digest[:12]
    assert digest_prefix(None) is None


def test_statistics_labels_and_stored_elements() -> None:
    assert name_label(None) == NO_EVENT_NAME
    assert name_label("") == NO_EVENT_NAME
    assert name_label("Purchase") == "Purchase"
    assert name_label("x" * 1000) == "x" * MAX_KEY + "...[872 more characters]"
    assert orjson.loads(clip_element({"a": 1})) == {"a": 1}
    assert orjson.loads(clip_element([1, 2])) == {NOT_AN_OBJECT: [1, 2]}


def test_shared_fault_names_the_platform_kinds() -> None:
    assert common.shared_fault("server_error", (), None) == {"kind": "server_error"}
    assert common.shared_fault("throttle", ("e1",), 2) == {"kind": "throttle", "count": 2}
    assert common.shared_fault("expired_credential", (), None) == {"kind": "expired_token"}
    assert common.shared_fault("expired_credential", (), None, expired="proxy_denied") == {
        "kind": "proxy_denied"
    }
    assert common.shared_fault("invalid_event", ("e1", "e2"), 1, ids_field="conversion_ids") == {
        "kind": "invalid_event",
        "conversion_ids": ["e1", "e2"],
        "count": 1,
    }


def test_batch_sizes() -> None:
    sizes = BatchSizes()
    assert sizes.to_json() == {"min": None, "max": None}
    for size in (5, 2, 9):
        sizes.add(size)
    assert sizes.to_json() == {"min": 2, "max": 9}
