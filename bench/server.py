"""Child processes of the benchmark: a real ``signalyard serve``, or the trivial static server.

Each child runs in its own session (process group), pinned to one CPU with ``taskset`` (or
``sched_setaffinity`` right after start), its output in files; :meth:`Child.stop` asks it to
stop (SIGINT, as Ctrl+C: uvicorn closes the store), then kills its process group if it does
not exit in time. Used as a context manager, a child is stopped whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from signalyard.clock import SystemClock
from signalyard.runtime import bootstrap
from signalyard.settings import load_settings
from signalyard.store import migrate
from signalyard.store.sqlite import SQLiteStore

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_database(url: str, env: dict[str, str]) -> str:
    """A fresh database as ``signalyard serve`` makes it on first start (dataset
    1234567890, an ingest key, the built-in Meta sandbox as destination); returns the key."""
    migrate.upgrade(url)

    async def setup() -> str:
        store = SQLiteStore(url)
        await store.open()
        try:
            boot = await bootstrap(store, load_settings(environ=env), SystemClock())
        finally:
            await store.close()
        assert boot is not None, "the database was not empty"
        return boot.key_secret

    return asyncio.run(setup())


def _signalyard_command() -> list[str]:
    script = Path(sys.executable).with_name("signalyard")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "signalyard"]


START_CPUS: set[int] = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()
"""The CPUs this process was given before it pinned itself (a child not pinned gets them)."""


class Child:
    def __init__(
        self,
        name: str,
        args: list[str],
        *,
        env: dict[str, str],
        workdir: Path,
        cpu: int | None,
    ) -> None:
        self.name = name
        self.workdir = workdir
        self.stdout_path = workdir / f"{name}.out"
        self.stderr_path = workdir / f"{name}.err"
        command = list(args)
        self.pinned_with = ""
        if cpu is not None and shutil.which("taskset"):
            command = ["taskset", "-c", str(cpu), *command]
            self.pinned_with = "taskset"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=workdir,
                start_new_session=True,
            )
        if cpu is not None and not self.pinned_with and hasattr(os, "sched_setaffinity"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self.process.pid, {cpu})
                self.pinned_with = "sched_setaffinity"
        elif cpu is None and hasattr(os, "sched_setaffinity"):
            # Not pinned means every CPU: a child inherits this process's affinity, and the
            # load generator pins itself (its CPU would be the child's only one).
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self.process.pid, START_CPUS)

    @property
    def pid(self) -> int:
        return self.process.pid

    def affinity(self) -> list[int]:
        try:
            return sorted(os.sched_getaffinity(self.pid))
        except (OSError, AttributeError):
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU time of the child (all its threads) so far."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def tail(self, lines: int = 20) -> str:
        out = []
        for path in (self.stdout_path, self.stderr_path):
            with contextlib.suppress(OSError):
                out.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(out)

    def wait_http(self, host: str, port: int, path: str, timeout: float) -> None:
        """Wait until ``GET path`` answers 200; raise if the child exits or time runs out."""
        deadline = time.monotonic() + timeout
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((host, port), timeout=1.0) as sock,
            ):
                sock.sendall(request)
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s:\n{self.tail()}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT (uvicorn shuts down cleanly, closing the store), then SIGKILL to the whole
        process group if it has not exited within ``timeout``, or if this wait is itself
        interrupted."""
        try:
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5.0)
        return self.process.returncode

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


HOOKS = Path(__file__).with_name("_serverhooks")


def start_signalyard(
    workdir: Path,
    *,
    port: int,
    cpu: int | None,
    name: str = "signalyard-serve",
    gc_tune: bool = False,
    worker: bool = False,
) -> tuple[Child, str]:
    """A fresh SQLite database in ``workdir`` and ``signalyard serve`` on it (delivery worker
    off unless ``worker``, default country US). Returns the child (ready) and the ingest key.

    The child's garbage collections are timed (``<workdir>/<name>.gc.json`` at exit, see
    ``_serverhooks/sitecustomize.py``); ``gc_tune`` applies the proposed GC change."""
    url = f"sqlite:///{workdir / (name + '.db')}"
    python_path = os.pathsep.join(p for p in (str(HOOKS), os.environ.get("PYTHONPATH")) if p)
    env = {
        **os.environ,
        "SIGNALYARD_DATABASE_URL": url,
        "SIGNALYARD_HOST": "127.0.0.1",
        "SIGNALYARD_PORT": str(port),
        "SIGNALYARD_WORKER": "true" if worker else "false",
        "SIGNALYARD_DEFAULT_COUNTRY": "US",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": python_path,
        "SIGNALYARD_BENCH_GC_STATS": str(workdir / f"{name}.gc.json"),
    }
    if gc_tune:
        env["SIGNALYARD_BENCH_GC_TUNE"] = "1"
    env.pop("SIGNALYARD_CONFIG", None)
    key = prepare_database(url, env)
    child = Child(name, [*_signalyard_command(), "serve"], env=env, workdir=workdir, cpu=cpu)
    try:
        child.wait_http("127.0.0.1", port, "/readyz", timeout=60.0)
    except BaseException:
        child.stop()
        raise
    return child, key


def start_static(workdir: Path, *, port: int, cpu: int | None) -> Child:
    loadgen = Path(__file__).with_name("loadgen.py")
    args = [sys.executable, str(loadgen), "--static-server", "--port", str(port)]
    child = Child("static-server", args, env=dict(os.environ), workdir=workdir, cpu=cpu)
    try:
        child.wait_http("127.0.0.1", port, "/", timeout=30.0)
    except BaseException:
        child.stop()
        raise
    return child
