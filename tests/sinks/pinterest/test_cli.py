"""``destinations add --kind pinterest`` and ``destinations check`` against the Pinterest
sandbox, as an operator runs them (click's CliRunner on a temporary SQLite file; the sandbox
served over loopback at ``/sandbox/pinterest``, as ``signalyard sandbox`` serves it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from signalyard.sandbox.pinterest import SandboxState, create_app
from tests.sinks import kit

TOKEN = "pinterestConversionToken0123456789"
ACCOUNT = "549755885175"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> kit.Run:
    return kit.cli(tmp_path, monkeypatch, TOKEN)


def test_add_and_check_a_pinterest_destination_against_its_sandbox(
    run: kit.Run, serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SandboxState()
    kit.serve_sandbox(serve, monkeypatch, "pinterest", create_app(state=state))
    options = [f"ad_account_id={ACCOUNT}", "api_url=sandbox"]
    token = {"access_token": TOKEN}
    kit.add_and_check(run, "pinterest", "pinterest-prod", options, token, required="ad_account_id")
    (check,) = state.events()
    assert check.ad_account_id == ACCOUNT and check.test  # ?test=true: never a live event

    # a token Pinterest refuses: the answer, and the fix naming the destination
    kit.set_secret(run, "pinterest-prod", "access_token", "bad")
    failed = kit.check_fails(run, "pinterest-prod", "access_token")
    assert "FAILED: the platform answered HTTP 401" in failed

    # the token expires (the sandbox's expired_token fault)
    kit.set_secret(run, "pinterest-prod", "access_token", TOKEN)
    state.faults.add({"kind": "expired_token"}, state.clock.now())
    failed = kit.check_fails(run, "pinterest-prod", "access_token")
    assert "HTTP 401" in failed
