"""The built-in sandboxes are a local tool: ``serve`` mounts them only on a loopback host,
unless ``sandbox_public`` says otherwise (and then warns); ``signalyard sandbox`` warns
when it listens on another address. A mounted sandbox takes the gateway's body limit."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette

from signalyard.app import create_app
from signalyard.cli import main
from signalyard.clock import FrozenClock
from signalyard.settings import Settings, is_loopback, load_settings
from signalyard.store.sqlite import SQLiteStore

SUMMARY = "/sandbox/meta/_sandbox/summary"
SANDBOX_EVENTS = "/sandbox/meta/_sandbox/events"


def make(tmp_path: Path, **settings: Any) -> Starlette:
    url = f"sqlite:///{tmp_path / 'signalyard.db'}"
    # The sandbox's routes never touch the store: the app is not started.
    return create_app(
        Settings(database_url=url, **settings),
        SQLiteStore(url),
        clock=FrozenClock(),
        run_worker=False,
    )


async def get(app: Starlette, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.get(path)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.5", False),
        ("192.168.1.20", False),
        ("gateway.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_sandbox_mounted_follows_host_and_opt_in() -> None:
    assert Settings().sandbox_mounted  # 127.0.0.1 by default
    assert not Settings(host="0.0.0.0").sandbox_mounted
    assert Settings(host="0.0.0.0", sandbox_public=True).sandbox_mounted
    assert not Settings(sandbox=False).sandbox_mounted
    assert not Settings(host="0.0.0.0", sandbox=False, sandbox_public=True).sandbox_mounted
    env = {"SIGNALYARD_HOST": "0.0.0.0", "SIGNALYARD_SANDBOX_PUBLIC": "true"}
    assert load_settings(environ=env).sandbox_mounted
    assert load_settings(environ={}).sandbox_public is False


def test_resolved_sandbox_url_brackets_ipv6() -> None:
    assert Settings(host="::1", port=9000).resolved_sandbox_url == "http://[::1]:9000"


@pytest.mark.anyio
async def test_a_loopback_gateway_mounts_the_sandbox(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    r = await get(make(tmp_path, host="127.0.0.1"), SUMMARY)
    assert r.status_code == 200 and r.json()["totals"]["events_held"] == 0
    assert not [rec for rec in caplog.records if rec.levelno >= logging.WARNING]


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3"])
async def test_a_public_gateway_does_not_mount_the_sandbox(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, host: str
) -> None:
    caplog.set_level(logging.INFO)
    app = make(tmp_path, host=host)
    for path in (SUMMARY, SANDBOX_EVENTS, "/sandbox/meta/_sandbox/faults"):
        assert (await get(app, path)).status_code == 404
    assert any("Sandboxes not mounted" in rec.getMessage() for rec in caplog.records)


@pytest.mark.anyio
async def test_opting_in_mounts_it_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    r = await get(make(tmp_path, host="0.0.0.0", sandbox_public=True), SANDBOX_EVENTS)
    assert r.status_code == 200
    warnings = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "THE SANDBOXES ARE PUBLIC" in message and "0.0.0.0" in message


async def get_through_proxy(app: Starlette, path: str, header: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.get(path, headers={header: "203.0.113.9"})


PROXY_HEADERS = ["X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Proto"]


@pytest.mark.anyio
@pytest.mark.parametrize("header", PROXY_HEADERS)
async def test_the_loopback_sandbox_refuses_requests_through_a_proxy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, header: str
) -> None:
    """A reverse proxy in front of a loopback port (as docs/deployment.md sets up) makes it
    public: what it forwards is answered 404, as if the sandbox were not mounted."""
    caplog.set_level(logging.INFO)
    app = make(tmp_path, host="127.0.0.1")
    for path in (SUMMARY, SANDBOX_EVENTS, "/sandbox/meta/_sandbox/faults"):
        r = await get_through_proxy(app, path, header)
        assert r.status_code == 404 and r.text == "Not Found"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        r = await client.delete("/sandbox/meta/_sandbox/state", headers={header: "198.51.100.7"})
        assert r.status_code == 404
        r = await client.post(
            "/sandbox/meta/v26.0/123/events",
            json={"data": [], "access_token": "t" * 40},
            headers={header: "198.51.100.7"},
        )
        assert r.status_code == 404
    told = [rec for rec in caplog.records if "came through a reverse proxy" in rec.getMessage()]
    assert len(told) == 1  # said once, not per request
    # Straight to the port (the worker, the operator's curl), it works.
    assert (await get(app, SUMMARY)).status_code == 200


@pytest.mark.anyio
async def test_sandbox_public_answers_through_a_proxy(tmp_path: Path) -> None:
    app = make(tmp_path, host="127.0.0.1", sandbox_public=True)
    r = await get_through_proxy(app, SUMMARY, "X-Forwarded-For")
    assert r.status_code == 200 and r.json()["totals"]["events_held"] == 0


@pytest.mark.anyio
async def test_the_mounted_sandbox_takes_the_gateways_body_limit(tmp_path: Path) -> None:
    app = make(tmp_path, max_body_bytes=4096)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        r = await client.post(
            "/sandbox/meta/v26.0/123/events",
            json={"data": [{"event_name": "x" * 5000}], "access_token": "t" * 40},
        )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == 100
    assert "larger than 4096 bytes" in r.json()["error"]["message"]


def _run_standalone(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[str, dict[str, Any]]:
    import uvicorn

    seen: dict[str, Any] = {}

    def fake_run(app: Any, **options: Any) -> None:
        seen.update(options)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(main, ["sandbox", "meta", *args])
    assert result.exit_code == 0, result.output
    return result.stderr, seen


def test_standalone_sandbox_warns_off_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr, seen = _run_standalone(monkeypatch, "--host", "0.0.0.0", "--port", "0")
    assert seen["host"] == "0.0.0.0"
    assert "WARNING" in stderr and "not a loopback address" in stderr


def test_standalone_sandbox_is_quiet_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr, seen = _run_standalone(monkeypatch, "--port", "0")
    assert seen["host"] == "127.0.0.1"
    assert stderr == ""


def _serve_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    import uvicorn

    import signalyard.cli.run as run

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setattr(run, "port_problem", lambda host, port: None)  # nothing is bound
    for name in [n for n in os.environ if n.startswith("SIGNALYARD_")]:
        monkeypatch.delenv(name)
    env = {
        "SIGNALYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "SIGNALYARD_DEFAULT_COUNTRY": "US",
    }
    result = CliRunner(env=env).invoke(main, ["serve", "--port", "8088", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_serve_says_when_it_does_not_mount_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _serve_output(tmp_path, monkeypatch, "--host", "0.0.0.0")
    assert "Sandboxes: not mounted (0.0.0.0 is not a loopback address)" in out
    assert "Sandboxes: not mounted" not in _serve_output(tmp_path, monkeypatch)
