"""A real ``signalyard serve`` child process on a fresh SQLite database, for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from signalyard.runtime import make_store
from signalyard.secret import Secret
from signalyard.settings import load_settings
from signalyard.sources.auth import new_key
from signalyard.store import migrate

DATASET = "1234567890"
SANDBOX_TOKEN = "EAAB-sandbox-token-original"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, *, destination_options: dict[str, Any] | None = None) -> str:
    """A migrated database with the dataset, a Meta-sandbox destination; returns an ingest key."""
    migrate.upgrade(url)
    key = new_key()

    async def run() -> None:
        store = make_store(load_settings(environ={}, database_url=url))
        await store.open()
        now = time.time()
        await store.add_dataset(DATASET, name="e2e", default_country="US", now=now)
        await store.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="e2e", now=now)
        await store.add_destination(
            DATASET,
            name="meta-sandbox",
            kind="meta",
            options={"pixel_id": DATASET, "graph_url": "sandbox", **(destination_options or {})},
            secrets={"access_token": Secret(SANDBOX_TOKEN)},
            now=now,
        )
        await store.close()

    asyncio.run(run())
    return key.secret


@dataclass
class Server:
    url: str
    database_url: str
    key: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    serve_args: tuple[str, ...] = ()

    def start(self) -> None:
        assert self.log is not None
        out = open(self.log, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signalyard", "serve", *self.serve_args],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "signalyard", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def sandbox(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.url}/sandbox/meta/_sandbox/{path}", params=params, timeout=10)
        r.raise_for_status()
        return r.json()

    def fault(self, spec: dict[str, Any]) -> None:
        httpx.post(
            f"{self.url}/sandbox/meta/_sandbox/faults", json=spec, timeout=10
        ).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.url}/sandbox/meta/_sandbox/faults", timeout=10).raise_for_status()

    def post_events(self, events: list[dict[str, Any]], **params: Any) -> httpx.Response:
        return httpx.post(
            f"{self.url}/v26.0/{DATASET}/events",
            params={"access_token": self.key, **params},
            json={"data": events},
            timeout=30,
        )

    def status(self) -> dict[str, Any]:
        r = self.cli("status", "--json")
        assert r.returncode == 0, r.stderr
        import json

        (row,) = json.loads(r.stdout)
        return dict(row)

    def wait(self, predicate: Any, timeout: float = 60, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        raise AssertionError(
            f"timed out waiting for {what}; log: {self.log.read_text()[-2000:] if self.log else ''}"
        )


@contextmanager
def running_server(
    tmp: Path,
    *,
    destination_options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    serve_args: tuple[str, ...] = (),
) -> Iterator[Server]:
    port = free_port()
    database_url = f"sqlite:///{tmp / 'e2e.db'}"
    key = prepare(database_url, destination_options=destination_options)
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIGNALYARD_")},
        "SIGNALYARD_DATABASE_URL": database_url,
        "SIGNALYARD_PORT": str(port),
        "SIGNALYARD_LOG_LEVEL": "warning",
        "SIGNALYARD_DELIVERY_POLL_SECONDS": "0.1",
        "SIGNALYARD_DELIVERY_BACKOFF_BASE_SECONDS": "0.05",
        "SIGNALYARD_DELIVERY_BACKOFF_MAX_SECONDS": "0.5",
        "SIGNALYARD_DELIVERY_THROTTLE_DEFAULT_SECONDS": "0.3",
        **(env or {}),
    }
    server = Server(f"http://127.0.0.1:{port}", database_url, key, full_env, log=tmp / "serve.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
