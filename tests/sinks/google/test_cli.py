"""`destinations add --kind google` and `destinations check` (a validateOnly request) against
the Google sandbox served as `signalyard sandbox` serves it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from signalyard.sandbox.google import SandboxState, create_app
from signalyard.sandbox.registry import served
from tests.sinks import kit

from .conftest import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, SA_EMAIL


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> kit.Run:
    return kit.cli(tmp_path, monkeypatch, CLIENT_SECRET, REFRESH_TOKEN, "PRIVATE KEY")


IDS = ("operating_account_id=123-456-7890", "conversion_action_id=42")
SANDBOXED = ("api_url=sandbox", "token_url=sandbox")
OAUTH = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}


def test_add_and_check_against_the_sandbox(
    run: kit.Run,
    serve: Callable[[object], str],
    monkeypatch: pytest.MonkeyPatch,
    key_file: str,
) -> None:
    sandbox = SandboxState()
    url = serve(served({"google": create_app(state=sandbox)}))
    monkeypatch.setenv("SIGNALYARD_SANDBOX_URL", url)
    kit.add(run, "google", "ads", [*IDS, *SANDBOXED], OAUTH)
    kit.check_ok(run, "ads", "google")
    assert sandbox.events() == []  # validateOnly: nothing recorded
    assert [r.validate_only for r in sandbox.requests() if r.route == "ingest"] == [True]

    # a service account works the same way; its key file is one line of JSON
    kit.add(run, "google", "ads-sa", [*IDS, *SANDBOXED], {"service_account_key": key_file})
    assert "OK: the platform answered HTTP 200" in run("destinations", "check", "ads-sa").output

    # a revoked refresh token: the answer, and the fix naming the destination
    sandbox.faults.add({"kind": "expired_credential", "refresh_token": REFRESH_TOKEN}, 0)
    failed = kit.check_fails(run, "ads", "refresh_token")
    assert "FAILED" in failed
    assert SA_EMAIL  # the service account is another credential: unaffected
    assert "OK" in run("destinations", "check", "ads-sa").output


def test_add_refuses_a_half_credential(run: kit.Run) -> None:
    out = kit.add(run, "google", "ads", IDS, {"client_id": CLIENT_ID}, code=1)
    assert "client_secret" in out and "refresh_token" in out
