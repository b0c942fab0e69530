"""The snapshot check every platform's ``test_payload.py`` runs on the body it builds: the
body, pretty-printed, must equal ``<folder>/<name>.json``; ``SNAPSHOT_UPDATE=1`` rewrites it."""

from __future__ import annotations

import os
from pathlib import Path

import orjson


def check_snapshot(folder: Path, name: str, body: bytes) -> None:
    """Compare ``body`` (JSON) with the snapshot ``name`` in ``folder``, or refresh it."""
    text = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode() + "\n"
    path = folder / f"{name}.json"
    if os.environ.get("SNAPSHOT_UPDATE") == "1":
        path.write_text(text)
        return
    assert path.exists(), f"no snapshot {path.name}: run the tests with SNAPSHOT_UPDATE=1"
    assert text == path.read_text(), f"{path.name} changed: review, then SNAPSHOT_UPDATE=1"
