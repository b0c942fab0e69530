"""``destinations add --kind reddit`` and ``destinations check`` against the Reddit sandbox,
as an operator runs them (click's CliRunner on a temporary SQLite file; the sandbox served
over loopback at ``/sandbox/reddit``, as ``signalyard sandbox`` serves it).

Needs the kind registered (``signalyard.sinks.REGISTRY``); skipped otherwise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from signalyard.sandbox.reddit import SandboxState, create_app
from signalyard.sinks import REGISTRY
from tests.sinks import kit

pytestmark = pytest.mark.skipif("reddit" not in REGISTRY, reason="reddit is not registered")

TOKEN = "redditSecretConversionToken0123456789"
ACCOUNT = "a2_abc123xyz"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> kit.Run:
    return kit.cli(tmp_path, monkeypatch, TOKEN)


def test_add_and_check_a_reddit_destination_against_its_sandbox(
    run: kit.Run, serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SandboxState()
    kit.serve_sandbox(serve, monkeypatch, "reddit", create_app(state=state))
    options = [f"ad_account_id={ACCOUNT}", "api_url=sandbox"]
    token = {"access_token": TOKEN}
    kit.add_and_check(run, "reddit", "reddit-prod", options, token, required="ad_account_id")
    (check,) = state.events()
    assert check.ad_account_id == ACCOUNT and check.test  # a test event, never a live one

    # a token Reddit refuses: the answer, and the fix naming the destination
    kit.set_secret(run, "reddit-prod", "access_token", "bad")
    failed = kit.check_fails(run, "reddit-prod", "access_token")
    assert "FAILED: the platform answered HTTP 401" in failed and "UNAUTHORIZED" in failed

    # the token is revoked (the sandbox's expired_token fault)
    kit.set_secret(run, "reddit-prod", "access_token", TOKEN)
    state.faults.add({"kind": "expired_token"}, state.clock.now())
    failed = kit.check_fails(run, "reddit-prod", "access_token")
    assert "HTTP 401" in failed
    state.faults.clear()

    # test_mode: the destination's mode says so, and how to leave it
    run("destinations", "update", "reddit-prod", "--option", "test_mode=true",
        "--option", "api_url=https://ads-api.reddit.com")  # fmt: skip
    shown = run("destinations", "show", "reddit-prod").output
    assert "test: test_mode is set" in shown
    assert "--unset test_mode" in shown
