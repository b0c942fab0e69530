"""``destinations add --kind snapchat`` and ``destinations check`` against the Snapchat
sandbox, as an operator runs them (click's CliRunner on a temporary SQLite file; the sandbox
served over loopback at ``/sandbox/snapchat``, as ``signalyard sandbox`` serves it). Needs the
kind registered (see the report's registry lines); skipped otherwise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from signalyard.sandbox.snapchat import SandboxState, create_app
from signalyard.sinks import REGISTRY
from tests.sinks import kit

TOKEN = "snapSecretConversionsApiToken0123456789"
PIXEL = "5bf81ee1-15b1-4dc1-b636-d7dae49b950e"

pytestmark = pytest.mark.skipif("snapchat" not in REGISTRY, reason="snapchat not registered")


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> kit.Run:
    return kit.cli(tmp_path, monkeypatch, TOKEN)


def test_add_and_check_a_snapchat_destination_against_its_sandbox(
    run: kit.Run, serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SandboxState()
    kit.serve_sandbox(serve, monkeypatch, "snapchat", create_app(state=state))
    options = [f"pixel_id={PIXEL}", "api_url=sandbox"]
    token = {"access_token": TOKEN}
    kit.add_and_check(run, "snapchat", "snap-prod", options, token, required="pixel_id")
    (check,) = state.events()
    assert check.asset_id == PIXEL and check.test  # validated, never a live event

    # a token Snap refuses: the answer, and the fix naming the destination
    kit.set_secret(run, "snap-prod", "access_token", "bad")
    failed = kit.check_fails(run, "snap-prod", "access_token")
    assert "FAILED: the platform answered HTTP 401" in failed

    # the token is revoked (the sandbox's expired_token fault)
    kit.set_secret(run, "snap-prod", "access_token", TOKEN)
    state.faults.add({"kind": "expired_token"}, state.clock.now())
    failed = kit.check_fails(run, "snap-prod", "access_token")
    assert "EXPIRED_ACCESS_TOKEN" in failed
