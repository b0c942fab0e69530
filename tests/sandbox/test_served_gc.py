"""``signalyard sandbox`` runs with a long-running process's garbage-collector settings
(:mod:`signalyard.gc_tuning`) while its app runs; an app made for a test does not touch them."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from signalyard import gc_tuning
from signalyard.cli import main
from signalyard.sandbox import registry
from signalyard.sandbox.registry import SANDBOXES, served


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """The collector's thresholds as they were before the test, and nothing frozen."""
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


async def summary(app: Any) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return (await client.get("/sandbox/meta/_sandbox/summary")).status_code


@pytest.mark.anyio
async def test_a_tuned_sandbox_app_tunes_the_collector_while_it_runs(restored_gc: None) -> None:
    app = served({"meta": SANDBOXES["meta"].create_app()}, tune_gc=True)
    gc.unfreeze()
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    assert gc.get_threshold() == (gc_tuning.YOUNG_THRESHOLD, 20, 100)
    assert gc.get_freeze_count() > 0
    assert await summary(app) == 200
    async with asyncio.timeout(5):  # the periodic collector stops at shutdown
        await lifespan.__aexit__(None, None, None)


@pytest.mark.anyio
async def test_an_app_made_for_a_test_leaves_the_collector_alone(restored_gc: None) -> None:
    gc.set_threshold(700, 10, 10)
    gc.unfreeze()
    app = served({"meta": SANDBOXES["meta"].create_app()})
    async with app.router.lifespan_context(app):
        assert await summary(app) == 200
        assert gc.get_threshold() == (700, 10, 10)
        assert gc.get_freeze_count() == 0


def test_the_sandbox_command_serves_a_tuned_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    made: list[bool] = []
    real = registry.served

    def spy(apps: Any, *, tune_gc: bool = False) -> Any:
        made.append(tune_gc)
        return real(apps, tune_gc=tune_gc)

    monkeypatch.setattr(registry, "served", spy)
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: None)
    result = CliRunner().invoke(main, ["sandbox", "meta", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert made == [True]
