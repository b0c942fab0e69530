"""``destinations add --kind snapchat`` and ``destinations check`` against the Snapchat
sandbox, as an operator runs them (click's CliRunner on a temporary SQLite file; the sandbox
served over loopback at ``/sandbox/snapchat``, as ``signalyard sandbox`` serves it). Needs the
kind registered (see the report's registry lines); skipped otherwise."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.cli import main
from signalyard.sandbox.snapchat import SandboxState, create_app
from signalyard.sinks import REGISTRY

TOKEN = "snapSecretConversionsApiToken0123456789"
PIXEL = "5bf81ee1-15b1-4dc1-b636-d7dae49b950e"

pytestmark = pytest.mark.skipif("snapchat" not in REGISTRY, reason="snapchat not registered")


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


def test_add_and_check_a_snapchat_destination_against_its_sandbox(
    run: Callable[..., Result], serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SandboxState()
    url = serve(Starlette(routes=[Mount("/sandbox/snapchat", create_app(state=state))]))
    monkeypatch.setenv("SIGNALYARD_SANDBOX_URL", url)
    run("migrate")
    run("datasets", "add", "123", "--name", "Shop", "--default-country", "us")
    missing = run(
        "destinations", "add", "123", "sc", "--kind", "snapchat", "--option", "api_url=sandbox",
        "--secret-stdin", "access_token", input=f"{TOKEN}\n", code=1,
    ).output  # fmt: skip
    assert "pixel_id is required" in missing
    run(
        "destinations", "add", "123", "snap-prod", "--kind", "snapchat",
        "--option", f"pixel_id={PIXEL}", "--option", "api_url=sandbox",
        "--secret-stdin", "access_token", input=f"{TOKEN}\n",
    )  # fmt: skip

    out = run("destinations", "check", "snap-prod").output
    assert "snap-prod (snapchat, sandbox" in out
    assert "OK: the platform answered HTTP 200" in out and "can deliver" in out
    (check,) = state.events()
    assert check.asset_id == PIXEL and check.test  # validated, never a live event

    # a token Snap refuses: the answer, and the fix naming the destination
    run("destinations", "set-secret", "snap-prod", "access_token", input="bad\n")
    failed = run("destinations", "check", "snap-prod", code=1).output
    assert "FAILED: the platform answered HTTP 401" in failed
    assert "`signalyard destinations set-secret snap-prod access_token`" in failed

    # the token is revoked (the sandbox's expired_token fault)
    run("destinations", "set-secret", "snap-prod", "access_token", input=f"{TOKEN}\n")
    state.faults.add({"kind": "expired_token"}, state.clock.now())
    failed = run("destinations", "check", "snap-prod", code=1).output
    assert "EXPIRED_ACCESS_TOKEN" in failed and "set-secret snap-prod access_token" in failed
