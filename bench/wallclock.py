"""Wall-clock timings that tests used to assert (a shared machine made them flaky): measured
here and printed, one JSON object per line; the tests keep the behaviour checks.

- ``sandbox_timeout``: a client with a 0.1 s timeout against the sandbox's ``timeout`` fault
  (answer delayed 0.5 s): how long until the client gives up (should be about 0.1 s, well
  under the 0.5 s delay: the sandbox records the events first and holds only the answer).
- ``graph_ingest``: one request of 200 full Purchase events to the Graph-compatible endpoint
  (cleaned off the event loop, stored in SQLite, acknowledged once committed).
- ``import``: ``signalyard import`` of an N-row CSV file (100,000 by default) into SQLite.

    python bench/wallclock.py [--only sandbox_timeout,graph_ingest,import] [--rows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime
import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from click.testing import CliRunner

from signalyard.app import create_app
from signalyard.cli import main
from signalyard.clock import SystemClock
from signalyard.sandbox.meta import SandboxState
from signalyard.sandbox.meta import create_app as create_sandbox
from signalyard.settings import Settings
from signalyard.sources.auth import new_key
from signalyard.store import migrate
from signalyard.store.sqlite import SQLiteStore

DATASET = "1234567890"


def _serve(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", server, thread


def sandbox_timeout() -> dict[str, Any]:
    state = SandboxState()
    base, server, thread = _serve(create_sandbox(state=state))
    try:
        r = httpx.post(f"{base}/_sandbox/faults", json={"kind": "timeout", "delay": 0.5})
        r.raise_for_status()
        event = {
            "event_name": "Purchase",
            "event_time": int(time.time()) - 5,
            "event_id": "late-1",
            "action_source": "website",
            "event_source_url": "https://shop.example/thanks",
            "user_data": {"client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0"},
            "custom_data": {"currency": "USD", "value": 1.0},
        }
        body = {"data": [event], "access_token": "EAAB" + "m" * 60}
        waits = []
        for _ in range(5):
            started = time.monotonic()
            with contextlib.suppress(httpx.ReadTimeout):
                httpx.post(f"{base}/v26.0/{DATASET}/events", json=body, timeout=0.1)
            waits.append(time.monotonic() - started)
        return {
            "bench": "sandbox_timeout",
            "client_timeout_s": 0.1,
            "fault_delay_s": 0.5,
            "gave_up_after_s": [round(w, 3) for w in waits],
        }
    finally:
        server.should_exit = True
        thread.join(5)


def _purchase(now: float, i: int) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(now) - 60,
        "event_id": f"o-{i}",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout/thank-you",
        "user_data": {
            "em": [f"customer{i}@example.com"],
            "ph": ["(650) 555-0199"],
            "fn": "Mary",
            "ln": "Smith",
            "ct": "Menlo Park",
            "st": "CA",
            "zp": "94025",
            "country": "us",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
            "fbp": "fb.1.1700000000000.1234567890",
        },
        "custom_data": {"currency": "usd", "value": 129.5},
    }


async def _graph_ingest(url: str) -> dict[str, Any]:
    clock = SystemClock()
    store = SQLiteStore(url)
    app = create_app(Settings(database_url=url), store, clock=clock, run_worker=False)
    key = new_key()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        now = clock.now()
        await store.add_dataset(DATASET, name="Shop", default_country="US", now=now)
        await store.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="", now=now)
        seconds = []
        for round_ in range(3):
            events = [_purchase(now, round_ * 1000 + i) for i in range(200)]
            started = time.monotonic()
            r = await client.post(
                f"/v26.0/{DATASET}/events?access_token={key.secret}", json={"data": events}
            )
            seconds.append(time.monotonic() - started)
            r.raise_for_status()
    return {"bench": "graph_ingest", "events": 200, "seconds": [round(s, 3) for s in seconds]}


def graph_ingest(tmp: Path) -> dict[str, Any]:
    url = f"sqlite:///{tmp / 'ingest.db'}"
    migrate.upgrade(url)
    return asyncio.run(_graph_ingest(url))


def import_file(tmp: Path, rows: int) -> dict[str, Any]:
    for name in list(os.environ):
        if name.startswith("SIGNALYARD_"):
            del os.environ[name]
    runner = CliRunner(env={"SIGNALYARD_DATABASE_URL": f"sqlite:///{tmp / 'import.db'}"})

    def cli(*args: str) -> Any:
        return runner.invoke(main, list(args))

    cli("migrate")
    cli("datasets", "add", DATASET, "--name", "Shop", "--default-country", "us")
    t = time.time() - 3600
    path = tmp / "orders.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(["Email", "Phone", "First Name", "Last Name", "City", "Zip", "Country",
                         "Order Total", "Currency", "Order ID", "Created At"])  # fmt: skip
        for i in range(rows):
            at = datetime.datetime.fromtimestamp(t - i % 86400, datetime.UTC).isoformat()
            writer.writerow([f"customer{i}@example.com", f"(650) 555-{i % 10000:04d}", "Mary",
                             "Smith", "Menlo Park", "94025", "US", f"{i % 500}.99", "USD",
                             f"POS-{i}", at])  # fmt: skip
    started = time.monotonic()
    result = cli("import", str(path), "--dataset", DATASET)
    seconds = time.monotonic() - started
    return {
        "bench": "import",
        "rows": rows,
        "exit_code": result.exit_code,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
    }


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="sandbox_timeout,graph_ingest,import")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if "sandbox_timeout" in only:
            print(json.dumps(sandbox_timeout()), flush=True)
        if "graph_ingest" in only:
            print(json.dumps(graph_ingest(Path(tmp))), flush=True)
        if "import" in only:
            print(json.dumps(import_file(Path(tmp), args.rows)), flush=True)


if __name__ == "__main__":
    main_()
