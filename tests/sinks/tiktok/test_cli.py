"""``destinations add --kind tiktok`` and ``destinations check`` against the TikTok sandbox,
as an operator runs them (click's CliRunner on a temporary SQLite file; the sandbox served
over loopback at ``/sandbox/tiktok``, as ``signalyard sandbox`` serves it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from signalyard.sandbox.tiktok import SandboxState, create_app
from tests.sinks import kit

TOKEN = "tiktokSecretEventsApiToken0123456789"
PIXEL = "CABC123DEF456GHI789J"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> kit.Run:
    return kit.cli(tmp_path, monkeypatch, TOKEN)


def test_add_and_check_a_tiktok_destination_against_its_sandbox(
    run: kit.Run, serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SandboxState()
    kit.serve_sandbox(serve, monkeypatch, "tiktok", create_app(state=state))
    options = [f"pixel_code={PIXEL}", "api_url=sandbox"]
    token = {"access_token": TOKEN}
    kit.add_and_check(run, "tiktok", "tiktok-prod", options, token, required="pixel_code")
    (check,) = state.events()
    assert check.event_source_id == PIXEL and check.is_test  # a test event, never a live one

    # a token TikTok refuses: the answer, and the fix naming the destination
    kit.set_secret(run, "tiktok-prod", "access_token", "bad")
    failed = kit.check_fails(run, "tiktok-prod", "access_token")
    assert "FAILED: the platform answered HTTP 200" in failed and "40105" in failed

    # the token loses its permission on the pixel (the sandbox's expired_token fault)
    kit.set_secret(run, "tiktok-prod", "access_token", TOKEN)
    state.faults.add({"kind": "expired_token"}, state.clock.now())
    failed = kit.check_fails(run, "tiktok-prod", "access_token")
    assert "40001" in failed
