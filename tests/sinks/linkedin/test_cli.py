"""``destinations add --kind linkedin`` and ``destinations check`` against the LinkedIn
sandbox, as an operator runs them (click's CliRunner on a temporary SQLite file; the sandbox
served over loopback at ``/sandbox/linkedin``, as ``signalyard sandbox`` serves it). The check
reads the conversion rule: LinkedIn has no test facility, so nothing is sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.linkedin import SandboxState, create_app
from tests.sinks import kit

TOKEN = "AQVlinkedinSecretAccessToken0123456789"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> kit.Run:
    return kit.cli(tmp_path, monkeypatch, TOKEN)


def test_add_and_check_a_linkedin_destination_against_its_sandbox(
    run: kit.Run, serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a frozen clock: the sandbox serves LinkedIn-Version 202603 then, whatever the date
    state = SandboxState(clock=FrozenClock())
    kit.serve_sandbox(serve, monkeypatch, "linkedin", create_app(state=state))
    options = ["conversion_rule_id=104012", "ad_account_id=512345678", "api_url=sandbox"]
    token = {"access_token": TOKEN}
    kit.add_and_check(run, "linkedin", "li-prod", options, token, required="conversion_rule_id")
    assert state.events() == []  # the check reads the rule; no conversion is sent
    (read,) = state.requests()
    assert read.method == "GET" and read.conversion_rule_id == "104012"

    # a token LinkedIn refuses: the answer, and the fix naming the destination
    kit.set_secret(run, "li-prod", "access_token", "bad")
    failed = kit.check_fails(run, "li-prod", "access_token")
    assert "FAILED: the platform answered HTTP 401" in failed

    # the token expires (the sandbox's expired_token fault)
    kit.set_secret(run, "li-prod", "access_token", TOKEN)
    state.faults.add({"kind": "expired_token"}, state.clock.now())
    failed = kit.check_fails(run, "li-prod", "access_token")
    assert "expired" in failed

    # a rule created for the Insight Tag, not the Conversions API
    state.faults.clear()
    state.set_rule("104012", {"conversionMethod": "INSIGHT_TAG"})
    failed = run("destinations", "check", "li-prod", code=1).output
    assert "not a Conversions API rule" in failed and "conversion_rule_id=ID" in failed
