"""Several real Signalyard processes on one PostgreSQL: ingest, workers and a standalone
sandbox, for the multi-process tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.server import free_port, prepare


class Proc:
    def __init__(
        self, name: str, args: list[str], env: dict[str, str], log: Path, ready_url: str | None
    ) -> None:
        self.name = name
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "signalyard", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if ready_url:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {log.read_text()[-3000:]}")
                try:
                    if httpx.get(ready_url, timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            raise RuntimeError(f"{name} did not start: {log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster:
    def __init__(self, tmp: Path, database_url: str, *, env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.database_url = database_url
        self.key = prepare(database_url)
        self.sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SIGNALYARD_")},
            "SIGNALYARD_DATABASE_URL": database_url,
            "SIGNALYARD_SANDBOX_URL": self.sandbox_url,
            "SIGNALYARD_LOG_LEVEL": "warning",
            "SIGNALYARD_DELIVERY_POLL_SECONDS": "0.1",
            "SIGNALYARD_DELIVERY_BACKOFF_BASE_SECONDS": "0.05",
            "SIGNALYARD_DELIVERY_BACKOFF_MAX_SECONDS": "0.5",
            **(env or {}),
        }
        self.procs: list[Proc] = []
        self.ingest_urls: list[str] = []
        self.workers: list[Proc] = []

    def start_sandbox(self) -> None:
        self.procs.append(
            Proc(
                "sandbox",
                ["sandbox", "meta", "--port", str(self.sandbox_port)],
                self.env,
                self.tmp / "sandbox.log",
                f"{self.sandbox_url}/sandbox/meta/_sandbox/summary",
            )
        )

    def start_ingest(self, n: int) -> None:
        for i in range(n):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            self.procs.append(
                Proc(
                    f"serve{i}",
                    ["serve", "--no-worker", "--no-sandbox", "--port", str(port)],
                    self.env,
                    self.tmp / f"serve{i}.log",
                    url + "/readyz",
                )
            )
            self.ingest_urls.append(url)

    def start_workers(self, n: int) -> None:
        for _ in range(n):
            p = Proc(
                f"worker{len(self.workers)}",
                ["worker"],
                self.env,
                self.tmp / f"worker{len(self.workers)}.log",
                None,
            )
            self.procs.append(p)
            self.workers.append(p)

    def close(self) -> None:
        for p in self.procs:
            p.stop()

    def sandbox(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.sandbox_url}/sandbox/meta/_sandbox/{path}", params=params, timeout=30)
        r.raise_for_status()
        return r.json()

    def status(self) -> dict[str, Any]:
        r = subprocess.run(
            [sys.executable, "-m", "signalyard", "status", "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        (row,) = json.loads(r.stdout)
        return dict(row)

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.3)
        logs = "\n".join(f"--- {p.name}\n{p.log.read_text()[-1500:]}" for p in self.procs)
        raise AssertionError(f"timed out waiting for {what}\n{logs}")
