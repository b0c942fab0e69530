"""The operator's CLI steps every platform's ``test_cli.py`` repeats: a ``signalyard`` runner
on a temporary SQLite file with dataset 123, the platform's sandbox served over loopback, and
``destinations add`` / ``check`` / ``set-secret`` with the assertions every platform shares."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.cli import main

Run = Callable[..., Result]
DATASET = "123"


def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *secrets: str) -> Run:
    """A migrated database with dataset 123, and ``run(*args, input=, code=)``: it asserts the
    exit code, that no exception but an exit escaped, and that no ``secrets`` are shown."""
    for name in list(os.environ):
        if name.startswith("SIGNALYARD_"):
            monkeypatch.delenv(name)
    runner = CliRunner(env={"SIGNALYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})

    def run(*args: str, input: str | None = None, code: int = 0) -> Result:
        result = runner.invoke(main, list(args), input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(result.output) from result.exception
        assert result.exit_code == code, (args, result.exit_code, result.output)
        for secret in secrets:
            assert secret not in result.output
        return result

    run("migrate")
    run("datasets", "add", DATASET, "--name", "Shop", "--default-country", "us")
    return run


def serve_sandbox(
    serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch, kind: str, app: Any
) -> None:
    """Serve ``app`` at ``/sandbox/<kind>`` as ``signalyard sandbox`` does; point the CLI at it."""
    url = serve(Starlette(routes=[Mount(f"/sandbox/{kind}", app)]))
    monkeypatch.setenv("SIGNALYARD_SANDBOX_URL", url)


def add(
    run: Run,
    kind: str,
    name: str,
    options: Sequence[str],
    secrets: Mapping[str, str],
    code: int = 0,
) -> str:
    """``destinations add 123 <name> --kind <kind>``, each option ``--option``, each secret
    given on stdin; its output."""
    args = ["destinations", "add", DATASET, name, "--kind", kind]
    args += [arg for option in options for arg in ("--option", option)]
    args += [arg for secret in secrets for arg in ("--secret-stdin", secret)]
    given = "".join(f"{value}\n" for value in secrets.values())
    return run(*args, input=given, code=code).output


def add_and_check(
    run: Run,
    kind: str,
    name: str,
    options: Sequence[str],
    secrets: Mapping[str, str],
    required: str,
) -> str:
    """Without its ``required`` option (``required=...`` in ``options``) the destination is
    refused, naming it; with it, added, and checked OK against the sandbox. The check's output."""
    without = [option for option in options if not option.startswith(f"{required}=")]
    assert without != list(options), f"{required} is not among the options"
    missing = add(run, kind, f"{name}-incomplete", without, secrets, code=1)
    assert f"{required} is required" in missing
    add(run, kind, name, options, secrets)
    return check_ok(run, name, kind)


def check_ok(run: Run, name: str, kind: str) -> str:
    """``destinations check <name>`` succeeds against the sandbox; its output."""
    out = run("destinations", "check", name).output
    assert f"{name} ({kind}, sandbox" in out
    assert "OK: the platform answered HTTP 200" in out and "can deliver" in out
    return out


def set_secret(run: Run, name: str, secret: str, value: str) -> None:
    """``destinations set-secret <name> <secret>`` with ``value`` on stdin."""
    run("destinations", "set-secret", name, secret, input=f"{value}\n")


def check_fails(run: Run, name: str, secret: str) -> str:
    """``destinations check <name>`` fails, its fix naming the command that replaces
    ``secret``; its output."""
    failed = run("destinations", "check", name, code=1).output
    assert f"`signalyard destinations set-secret {name} {secret}`" in failed
    return failed
