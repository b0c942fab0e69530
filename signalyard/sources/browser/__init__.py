"""The browser script that ``GET /sy.js`` serves (see docs/browser.md)."""

from __future__ import annotations

from importlib.resources import files

SCRIPT: bytes = files(__name__).joinpath("sy.js").read_bytes()
"""``sy.js`` as shipped: plain ES2017, UTF-8."""
