"""Promises of this session's code that other tests do not pin down: statistics survive a
failed flush, the rate limiter's table stays bounded, and /collect never echoes personal data
in its logs or error messages."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from signalyard.clock import FrozenClock
from signalyard.event import AcceptedEvent
from signalyard.insights import recorder as recorder_module
from signalyard.insights.recorder import StatsRecorder
from signalyard.insights.views import overview
from signalyard.sources.ratelimit import RateLimiter
from signalyard.store.sqlite import SQLiteStore
from tests.sources.test_collect import event, gateway, post

pytestmark = pytest.mark.anyio
NOW = 1_800_000_000.0
EMAIL = "private.person@example.org"


async def test_a_failed_flush_keeps_its_counts_for_the_next(
    sqlite_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sqlite_store.add_dataset("px", name="p", default_country=None, now=NOW)
    rec = StatsRecorder(sqlite_store)
    ev = AcceptedEvent("px", "Lead", "e1", int(NOW), {"event_name": "Lead", "user_data": {}})
    rec.ingested([ev], [True], [False], source="graph_api", now=NOW)
    real = recorder_module.execute_many
    calls = {"n": 0}

    async def failing_once(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk I/O error")
        await real(*args, **kwargs)

    monkeypatch.setattr(recorder_module, "execute_many", failing_once)
    with pytest.raises(OSError):
        await rec.flush()
    assert rec.pending()
    await rec.flush()
    assert (await overview(sqlite_store, "px", now=NOW, hours=1)).received == 1


def test_the_rate_limiter_forgets_the_oldest_clients() -> None:
    clock = FrozenClock()
    limiter = RateLimiter(60, monotonic=clock.monotonic, max_keys=3)
    for client in ("a", "b", "c", "d"):
        assert limiter.allow(client) == 0.0
    assert len(limiter._buckets) == 3
    assert "a" not in limiter._buckets


async def test_collect_never_echoes_personal_data(
    sqlite_url: str, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with gateway(sqlite_url, clock) as (client, _):
        ok = event(clock)
        ok["user_data"]["em"] = EMAIL
        assert (await post(client, {"events": [ok]})).status_code == 200
        bad = event(clock, event_id="e2")
        bad["user_data"]["em"] = {"nested": EMAIL}
        r = await post(client, {"events": [bad]})
        assert r.status_code == 400
        assert EMAIL not in r.text
        bad_ip = event(clock, event_id="e3")
        bad_ip["user_data"]["em"] = EMAIL
        bad_ip["consent"] = {"state": EMAIL}
        r = await post(client, {"events": [bad_ip]})
        assert r.status_code == 400
        assert EMAIL not in r.text
    assert EMAIL not in caplog.text
