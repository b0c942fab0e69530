"""``destinations add --kind tiktok`` and ``destinations check`` against the TikTok sandbox,
as an operator runs them (click's CliRunner on a temporary SQLite file; the sandbox served
over loopback at ``/sandbox/tiktok``, as ``signalyard sandbox`` serves it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.cli import main
from signalyard.sandbox.tiktok import SandboxState, create_app

TOKEN = "tiktokSecretEventsApiToken0123456789"
PIXEL = "CABC123DEF456GHI789J"


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


def test_add_and_check_a_tiktok_destination_against_its_sandbox(
    run: Callable[..., Result], serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SandboxState()
    url = serve(Starlette(routes=[Mount("/sandbox/tiktok", create_app(state=state))]))
    monkeypatch.setenv("SIGNALYARD_SANDBOX_URL", url)
    run("migrate")
    run("datasets", "add", "123", "--name", "Shop", "--default-country", "us")
    missing = run(
        "destinations", "add", "123", "tt", "--kind", "tiktok", "--option", "api_url=sandbox",
        "--secret-stdin", "access_token", input=f"{TOKEN}\n", code=1,
    ).output  # fmt: skip
    assert "pixel_code is required" in missing
    run(
        "destinations", "add", "123", "tiktok-prod", "--kind", "tiktok",
        "--option", f"pixel_code={PIXEL}", "--option", "api_url=sandbox",
        "--secret-stdin", "access_token", input=f"{TOKEN}\n",
    )  # fmt: skip

    out = run("destinations", "check", "tiktok-prod").output
    assert "tiktok-prod (tiktok, sandbox" in out
    assert "OK: the platform answered HTTP 200" in out and "can deliver" in out
    (check,) = state.events()
    assert check.event_source_id == PIXEL and check.is_test  # a test event, never a live one

    # a token TikTok refuses: the answer, and the fix naming the destination
    run("destinations", "set-secret", "tiktok-prod", "access_token", input="bad\n")
    failed = run("destinations", "check", "tiktok-prod", code=1).output
    assert "FAILED: the platform answered HTTP 200" in failed and "40105" in failed
    assert "`signalyard destinations set-secret tiktok-prod access_token`" in failed

    # the token loses its permission on the pixel (the sandbox's expired_token fault)
    run("destinations", "set-secret", "tiktok-prod", "access_token", input=f"{TOKEN}\n")
    state.faults.add({"kind": "expired_token"}, state.clock.now())
    failed = run("destinations", "check", "tiktok-prod", code=1).output
    assert "40001" in failed and "set-secret tiktok-prod access_token" in failed
