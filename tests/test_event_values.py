"""The event's value classes (``signalyard.event.value_class``): slots dataclasses equal and
hashed by their fields, which the type checker treats as frozen (strict mypy refuses an
assignment to a field; the project's mypy run checks every module)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import signalyard
from signalyard.event import AcceptedEvent, ClickId, Consent


def test_values_are_equal_and_hashed_by_their_fields() -> None:
    a = AcceptedEvent("px", "Purchase", "e1", 1, {}, consent=Consent("granted", "api"))
    b = AcceptedEvent("px", "Purchase", "e1", 1, {}, consent=Consent("granted", "api"))
    assert a == b and hash(Consent("granted", "api")) == hash(Consent("granted", "api"))
    assert {ClickId("gclid", "x", 1.0), ClickId("gclid", "x", 1.0)} == {ClickId("gclid", "x", 1.0)}
    assert dataclasses.replace(a, event_id="e2") != a
    assert not hasattr(a, "__dict__")  # slots: no stray attribute can be set


def test_the_type_checker_refuses_to_assign_a_field(tmp_path: Path) -> None:
    (tmp_path / "assign.py").write_text(
        "from signalyard.event import Consent\n\nc = Consent()\nc.state = 'granted'\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "c"), "assign.py"],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(Path(signalyard.__file__).parents[1])},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert 'Property "state" defined in "Consent" is read-only' in result.stdout, result.stdout
