"""The README's quick start, as a user runs it: ``signalyard serve`` in an empty directory
(a new install: database, dataset, key, sandbox destination), then ``signalyard send-test
--key ...`` and ``signalyard status`` from the same directory, as real child processes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import free_port

pytestmark = pytest.mark.slow


def signalyard(
    cwd: Path, env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signalyard", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_readme_quick_start_delivers_the_test_event(tmp_path: Path) -> None:
    home = tmp_path / "gateway"
    home.mkdir()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIGNALYARD_")},
        "SIGNALYARD_PORT": str(port),
        "SIGNALYARD_DELIVERY_POLL_SECONDS": "0.1",
    }
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:  # not a terminal, as under systemd
        proc = subprocess.Popen(
            [sys.executable, "-m", "signalyard", "serve"],
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)

        key_file = home / "signalyard.db.initial-key"
        key = key_file.read_text().strip()
        assert key.startswith("sy_")
        output = log.read_text()
        assert f"written to {key_file}" in output
        assert key not in output  # the server's output goes to logs: never the key
        for private in (home / "signalyard.db", key_file):
            assert stat.S_IMODE(private.stat().st_mode) == 0o600

        sent = signalyard(home, env, "send-test", "--key", key)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "Delivery: delivered to meta-sandbox" in sent.stdout

        shown = signalyard(home, env, "status")
        assert shown.returncode == 0, shown.stderr
        assert "meta-sandbox (meta, dataset 1234567890): ACTIVE" in shown.stdout
        assert "queued 0 (due 0)" in shown.stdout and "delivered 1," in shown.stdout

        summary = httpx.get(
            f"http://127.0.0.1:{port}/sandbox/meta/_sandbox/summary", timeout=10
        ).json()
        assert "Purchase" in str(summary)

        # From another directory the same command names the database it did not find.
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        lost = signalyard(elsewhere, env, "send-test", "--key", key)
        assert lost.returncode == 1
        assert f"no database at {elsewhere / 'signalyard.db'}" in lost.stderr
        assert list(elsewhere.iterdir()) == []
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
