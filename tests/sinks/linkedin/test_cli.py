"""``destinations add --kind linkedin`` and ``destinations check`` against the LinkedIn
sandbox, as an operator runs them (click's CliRunner on a temporary SQLite file; the sandbox
served over loopback at ``/sandbox/linkedin``, as ``signalyard sandbox`` serves it). The check
reads the conversion rule: LinkedIn has no test facility, so nothing is sent."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.cli import main
from signalyard.clock import FrozenClock
from signalyard.sandbox.linkedin import SandboxState, create_app

TOKEN = "AQVlinkedinSecretAccessToken0123456789"


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


def test_add_and_check_a_linkedin_destination_against_its_sandbox(
    run: Callable[..., Result], serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a frozen clock: the sandbox serves LinkedIn-Version 202603 then, whatever the date
    state = SandboxState(clock=FrozenClock())
    url = serve(Starlette(routes=[Mount("/sandbox/linkedin", create_app(state=state))]))
    monkeypatch.setenv("SIGNALYARD_SANDBOX_URL", url)
    run("migrate")
    run("datasets", "add", "123", "--name", "Shop", "--default-country", "us")
    missing = run(
        "destinations", "add", "123", "li", "--kind", "linkedin", "--option", "api_url=sandbox",
        "--option", "ad_account_id=512345678",
        "--secret-stdin", "access_token", input=f"{TOKEN}\n", code=1,
    ).output  # fmt: skip
    assert "conversion_rule_id is required" in missing
    run(
        "destinations", "add", "123", "li-prod", "--kind", "linkedin",
        "--option", "conversion_rule_id=104012", "--option", "ad_account_id=512345678",
        "--option", "api_url=sandbox", "--secret-stdin", "access_token", input=f"{TOKEN}\n",
    )  # fmt: skip

    out = run("destinations", "check", "li-prod").output
    assert "li-prod (linkedin, sandbox" in out
    assert "OK: the platform answered HTTP 200" in out and "can deliver" in out
    assert state.events() == []  # the check reads the rule; no conversion is sent
    (read,) = state.requests()
    assert read.method == "GET" and read.conversion_rule_id == "104012"

    # a token LinkedIn refuses: the answer, and the fix naming the destination
    run("destinations", "set-secret", "li-prod", "access_token", input="bad\n")
    failed = run("destinations", "check", "li-prod", code=1).output
    assert "FAILED: the platform answered HTTP 401" in failed
    assert "`signalyard destinations set-secret li-prod access_token`" in failed

    # the token expires (the sandbox's expired_token fault)
    run("destinations", "set-secret", "li-prod", "access_token", input=f"{TOKEN}\n")
    state.faults.add({"kind": "expired_token"}, state.clock.now())
    failed = run("destinations", "check", "li-prod", code=1).output
    assert "expired" in failed and "set-secret li-prod access_token" in failed

    # a rule created for the Insight Tag, not the Conversions API
    state.faults.clear()
    state.set_rule("104012", {"conversionMethod": "INSIGHT_TAG"})
    failed = run("destinations", "check", "li-prod", code=1).output
    assert "not a Conversions API rule" in failed and "conversion_rule_id=ID" in failed
