"""``destinations add --kind ga4`` and ``destinations check`` against the GA4 sandbox, as an
operator runs them (click's CliRunner on a temporary SQLite file; the sandbox served over
loopback at ``/sandbox/ga4``, as ``signalyard sandbox`` serves it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import signalyard.sinks as sinks
from signalyard.sandbox.ga4 import SandboxState, create_app
from signalyard.sinks.ga4 import SPEC
from tests.sinks import kit

SECRET = "Ga4ApiSecretFromTheStream_01"
MEASUREMENT_ID = "G-SHOP12345"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> kit.Run:
    monkeypatch.setitem(sinks.REGISTRY, "ga4", SPEC)
    return kit.cli(tmp_path, monkeypatch, SECRET)


def test_add_and_check_a_ga4_destination_against_its_sandbox(
    run: kit.Run, serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SandboxState()
    kit.serve_sandbox(serve, monkeypatch, "ga4", create_app(state=state))
    options = [f"measurement_id={MEASUREMENT_ID}", "api_url=sandbox"]
    secret = {"api_secret": SECRET}
    kit.add_and_check(run, "ga4", "ga4-prod", options, secret, required="measurement_id")
    (check,) = state.requests()
    assert check.endpoint == "debug" and state.events() == []  # validated, never counted

    # a proxy in front of GA4 refuses the credential: the answer, and the fix naming it
    state.faults.add({"kind": "proxy_denied"}, state.clock.now())
    failed = kit.check_fails(run, "ga4-prod", "api_secret")
    assert "FAILED: the platform answered HTTP 403" in failed
    state.faults.clear()

    # validate_only: the destination is in test mode
    run("destinations", "update", "ga4-prod", "--option", "validate_only=true")
    out = run("destinations", "check", "ga4-prod").output
    assert "OK" in out
