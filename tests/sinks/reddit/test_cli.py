"""``destinations add --kind reddit`` and ``destinations check`` against the Reddit sandbox,
as an operator runs them (click's CliRunner on a temporary SQLite file; the sandbox served
over loopback at ``/sandbox/reddit``, as ``signalyard sandbox`` serves it).

Needs the kind registered (``signalyard.sinks.REGISTRY``); skipped otherwise."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.cli import main
from signalyard.sandbox.reddit import SandboxState, create_app
from signalyard.sinks import REGISTRY

pytestmark = pytest.mark.skipif("reddit" not in REGISTRY, reason="reddit is not registered")

TOKEN = "redditSecretConversionToken0123456789"
ACCOUNT = "a2_abc123xyz"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    for name in list(os.environ):
        if name.startswith("SIGNALYARD_"):
            monkeypatch.delenv(name)
    runner = CliRunner(env={"SIGNALYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})

    def invoke(*args: str, input: str | None = None, code: int = 0) -> Result:
        result = runner.invoke(main, list(args), input=input)
        assert result.exit_code == code, (args, result.exit_code, result.output)
        assert TOKEN not in result.output
        return result

    return invoke


def test_add_and_check_a_reddit_destination_against_its_sandbox(
    run: Callable[..., Result], serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SandboxState()
    url = serve(Starlette(routes=[Mount("/sandbox/reddit", create_app(state=state))]))
    monkeypatch.setenv("SIGNALYARD_SANDBOX_URL", url)
    run("migrate")
    run("datasets", "add", "123", "--name", "Shop", "--default-country", "us")
    missing = run(
        "destinations", "add", "123", "rd", "--kind", "reddit", "--option", "api_url=sandbox",
        "--secret-stdin", "access_token", input=f"{TOKEN}\n", code=1,
    ).output  # fmt: skip
    assert "ad_account_id is required" in missing
    run(
        "destinations", "add", "123", "reddit-prod", "--kind", "reddit",
        "--option", f"ad_account_id={ACCOUNT}", "--option", "api_url=sandbox",
        "--secret-stdin", "access_token", input=f"{TOKEN}\n",
    )  # fmt: skip

    out = run("destinations", "check", "reddit-prod").output
    assert "reddit-prod (reddit, sandbox" in out
    assert "OK: the platform answered HTTP 200" in out and "can deliver" in out
    (check,) = state.events()
    assert check.ad_account_id == ACCOUNT and check.test  # a test event, never a live one

    # a token Reddit refuses: the answer, and the fix naming the destination
    run("destinations", "set-secret", "reddit-prod", "access_token", input="bad\n")
    failed = run("destinations", "check", "reddit-prod", code=1).output
    assert "FAILED: the platform answered HTTP 401" in failed and "UNAUTHORIZED" in failed
    assert "`signalyard destinations set-secret reddit-prod access_token`" in failed

    # the token is revoked (the sandbox's expired_token fault)
    run("destinations", "set-secret", "reddit-prod", "access_token", input=f"{TOKEN}\n")
    state.faults.add({"kind": "expired_token"}, state.clock.now())
    failed = run("destinations", "check", "reddit-prod", code=1).output
    assert "HTTP 401" in failed and "set-secret reddit-prod access_token" in failed
    state.faults.clear()

    # test_mode: the destination's mode says so, and how to leave it
    run("destinations", "update", "reddit-prod", "--option", "test_mode=true",
        "--option", "api_url=https://ads-api.reddit.com")  # fmt: skip
    shown = run("destinations", "show", "reddit-prod").output
    assert "test: test_mode is set" in shown
    assert "--unset test_mode" in shown
