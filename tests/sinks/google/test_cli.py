"""`destinations add --kind google` and `destinations check` (a validateOnly request) against
the Google sandbox served as `signalyard sandbox` serves it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from signalyard.cli import main
from signalyard.sandbox.google import SandboxState, create_app
from signalyard.sandbox.registry import served

from .conftest import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, SA_EMAIL


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    for name in list(os.environ):
        if name.startswith("SIGNALYARD_"):
            monkeypatch.delenv(name)
    runner = CliRunner(env={"SIGNALYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})

    def invoke(*args: str, input: str | None = None, code: int = 0) -> Result:
        result = runner.invoke(main, list(args), input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(result.output) from result.exception
        assert result.exit_code == code, (args, result.output)
        for secret in (CLIENT_SECRET, REFRESH_TOKEN, "PRIVATE KEY"):
            assert secret not in result.output
        return result

    invoke("migrate")
    invoke("datasets", "add", "123", "--name", "Shop", "--default-country", "us")
    return invoke


IDS = ("--option", "operating_account_id=123-456-7890", "--option", "conversion_action_id=42")
SANDBOXED = ("--option", "api_url=sandbox", "--option", "token_url=sandbox")


def test_add_and_check_against_the_sandbox(
    run: Callable[..., Result],
    serve: Callable[[object], str],
    monkeypatch: pytest.MonkeyPatch,
    key_file: str,
) -> None:
    sandbox = SandboxState()
    url = serve(served({"google": create_app(state=sandbox)}))
    monkeypatch.setenv("SIGNALYARD_SANDBOX_URL", url)
    run(
        "destinations",
        "add",
        "123",
        "ads",
        "--kind",
        "google",
        *IDS,
        *SANDBOXED,
        "--secret-stdin",
        "client_id",
        "--secret-stdin",
        "client_secret",
        "--secret-stdin",
        "refresh_token",
        input=f"{CLIENT_ID}\n{CLIENT_SECRET}\n{REFRESH_TOKEN}\n",
    )
    out = run("destinations", "check", "ads").output
    assert "ads (google, sandbox" in out
    assert "OK: the platform answered HTTP 200" in out and "can deliver" in out
    assert sandbox.events() == []  # validateOnly: nothing recorded
    assert [r.validate_only for r in sandbox.requests() if r.route == "ingest"] == [True]

    # a service account works the same way; its key file is one line of JSON
    run(
        "destinations",
        "add",
        "123",
        "ads-sa",
        "--kind",
        "google",
        *IDS,
        *SANDBOXED,
        "--secret-stdin",
        "service_account_key",
        input=f"{key_file}\n",
    )
    assert "OK: the platform answered HTTP 200" in run("destinations", "check", "ads-sa").output

    # a revoked refresh token: the answer, and the fix naming the destination
    sandbox.faults.add({"kind": "expired_credential", "refresh_token": REFRESH_TOKEN}, 0)
    failed = run("destinations", "check", "ads", code=1).output
    assert "FAILED" in failed
    assert "`signalyard destinations set-secret ads refresh_token`" in failed
    assert SA_EMAIL  # the service account is another credential: unaffected
    assert "OK" in run("destinations", "check", "ads-sa").output


def test_add_refuses_a_half_credential(run: Callable[..., Result]) -> None:
    out = run(
        "destinations",
        "add",
        "123",
        "ads",
        "--kind",
        "google",
        *IDS,
        "--secret-stdin",
        "client_id",
        input=f"{CLIENT_ID}\n",
        code=1,
    ).output
    assert "client_secret" in out and "refresh_token" in out
