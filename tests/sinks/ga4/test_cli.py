"""``destinations add --kind ga4`` and ``destinations check`` against the GA4 sandbox, as an
operator runs them (click's CliRunner on a temporary SQLite file; the sandbox served over
loopback at ``/sandbox/ga4``, as ``signalyard sandbox`` serves it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette
from starlette.routing import Mount

import signalyard.sinks as sinks
from signalyard.cli import main
from signalyard.sandbox.ga4 import SandboxState, create_app
from signalyard.sinks.ga4 import SPEC

SECRET = "Ga4ApiSecretFromTheStream_01"
MEASUREMENT_ID = "G-SHOP12345"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    for name in list(os.environ):
        if name.startswith("SIGNALYARD_"):
            monkeypatch.delenv(name)
    monkeypatch.setitem(sinks.REGISTRY, "ga4", SPEC)
    runner = CliRunner(env={"SIGNALYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})

    def invoke(*args: str, input: str | None = None, code: int = 0) -> Result:
        result = runner.invoke(main, list(args), input=input)
        assert result.exit_code == code, (args, result.exit_code, result.output)
        assert SECRET not in result.output
        return result

    return invoke


def test_add_and_check_a_ga4_destination_against_its_sandbox(
    run: Callable[..., Result], serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SandboxState()
    url = serve(Starlette(routes=[Mount("/sandbox/ga4", create_app(state=state))]))
    monkeypatch.setenv("SIGNALYARD_SANDBOX_URL", url)
    run("migrate")
    run("datasets", "add", "123", "--name", "Shop", "--default-country", "us")
    missing = run(
        "destinations", "add", "123", "ga", "--kind", "ga4", "--option", "api_url=sandbox",
        "--secret-stdin", "api_secret", input=f"{SECRET}\n", code=1,
    ).output  # fmt: skip
    assert "measurement_id is required" in missing
    run(
        "destinations", "add", "123", "ga4-prod", "--kind", "ga4",
        "--option", f"measurement_id={MEASUREMENT_ID}", "--option", "api_url=sandbox",
        "--secret-stdin", "api_secret", input=f"{SECRET}\n",
    )  # fmt: skip

    out = run("destinations", "check", "ga4-prod").output
    assert "ga4-prod (ga4, sandbox" in out
    assert "OK: the platform answered HTTP 200" in out and "can deliver" in out
    (check,) = state.requests()
    assert check.endpoint == "debug" and state.events() == []  # validated, never counted

    # a proxy in front of GA4 refuses the credential: the answer, and the fix naming it
    state.faults.add({"kind": "proxy_denied"}, state.clock.now())
    failed = run("destinations", "check", "ga4-prod", code=1).output
    assert "FAILED: the platform answered HTTP 403" in failed
    assert "`signalyard destinations set-secret ga4-prod api_secret`" in failed
    state.faults.clear()

    # validate_only: the destination is in test mode
    run("destinations", "update", "ga4-prod", "--option", "validate_only=true")
    out = run("destinations", "check", "ga4-prod").output
    assert "OK" in out
