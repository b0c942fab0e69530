"""``destinations add --kind pinterest`` and ``destinations check`` against the Pinterest
sandbox, as an operator runs them (click's CliRunner on a temporary SQLite file; the sandbox
served over loopback at ``/sandbox/pinterest``, as ``signalyard sandbox`` serves it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.cli import main
from signalyard.sandbox.pinterest import SandboxState, create_app

TOKEN = "pinterestConversionToken0123456789"
ACCOUNT = "549755885175"


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


def test_add_and_check_a_pinterest_destination_against_its_sandbox(
    run: Callable[..., Result], serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SandboxState()
    url = serve(Starlette(routes=[Mount("/sandbox/pinterest", create_app(state=state))]))
    monkeypatch.setenv("SIGNALYARD_SANDBOX_URL", url)
    run("migrate")
    run("datasets", "add", "123", "--name", "Shop", "--default-country", "us")
    missing = run(
        "destinations", "add", "123", "pins", "--kind", "pinterest", "--option",
        "api_url=sandbox", "--secret-stdin", "access_token", input=f"{TOKEN}\n", code=1,
    ).output  # fmt: skip
    assert "ad_account_id is required" in missing
    run(
        "destinations", "add", "123", "pinterest-prod", "--kind", "pinterest",
        "--option", f"ad_account_id={ACCOUNT}", "--option", "api_url=sandbox",
        "--secret-stdin", "access_token", input=f"{TOKEN}\n",
    )  # fmt: skip

    out = run("destinations", "check", "pinterest-prod").output
    assert "pinterest-prod (pinterest, sandbox" in out
    assert "OK: the platform answered HTTP 200" in out and "can deliver" in out
    (check,) = state.events()
    assert check.ad_account_id == ACCOUNT and check.test  # ?test=true: never a live event

    # a token Pinterest refuses: the answer, and the fix naming the destination
    run("destinations", "set-secret", "pinterest-prod", "access_token", input="bad\n")
    failed = run("destinations", "check", "pinterest-prod", code=1).output
    assert "FAILED: the platform answered HTTP 401" in failed
    assert "`signalyard destinations set-secret pinterest-prod access_token`" in failed

    # the token expires (the sandbox's expired_token fault)
    run("destinations", "set-secret", "pinterest-prod", "access_token", input=f"{TOKEN}\n")
    state.faults.add({"kind": "expired_token"}, state.clock.now())
    failed = run("destinations", "check", "pinterest-prod", code=1).output
    assert "HTTP 401" in failed and "set-secret pinterest-prod access_token" in failed
