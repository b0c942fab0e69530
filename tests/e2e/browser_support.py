"""Helpers for the browser tests: finding Chromium and Playwright, a small HTTP server for the
shop's pages (the script and ``/collect`` come from a real gateway), and the snippet exactly as
docs/browser.md documents it."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).resolve().parent / "pages"
SHOP_HOST = "shop.example.com"
"""The shop's host name; Chromium resolves it to 127.0.0.1 (``--host-resolver-rules``), so its
registrable domain is example.com and the subdomain index of its cookies is 1."""
DOC_SRC = "https://track.shop.example/sy.js"
DOC_DATASET = "1234567890"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Under CI a missing browser is a failure; locally the test is skipped, saying why."""
    if in_ci():
        pytest.fail(f"{reason} (required under CI)", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("SIGNALYARD_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def documented_snippet(src: str, dataset: str, attrs: str = "") -> str:
    """The snippet of docs/browser.md with its script URL, dataset and extra attributes set."""
    text = (ROOT / "docs" / "browser.md").read_text()
    match = re.search(r"<!-- snippet -->\s*```html\n(.*?)```", text, re.S)
    assert match, "docs/browser.md lost its <!-- snippet --> block"
    snippet = match.group(1)
    assert DOC_SRC in snippet and f'data-dataset="{DOC_DATASET}"' in snippet
    snippet = snippet.replace(DOC_SRC, src)
    return snippet.replace(f'data-dataset="{DOC_DATASET}"', f'data-dataset="{dataset}"{attrs}')


class Site:
    """A threaded HTTP server on 127.0.0.1 serving the shop's pages: those of tests/e2e/pages,
    with ``<!-- HEAD -->`` replaced by :attr:`head`. It answers nothing else (404)."""

    def __init__(self) -> None:
        self.head = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                page = PAGES / path.lstrip("/")
                if path.endswith(".html") and page.is_file() and page.parent == PAGES:
                    html = page.read_text().replace("<!-- HEAD -->", site.head)
                    self._send(200, html.encode(), "text/html; charset=utf-8")
                    return
                self._send(404, b"not found", "text/plain")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate: Callable[[], Any], *, timeout: float = 10, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
