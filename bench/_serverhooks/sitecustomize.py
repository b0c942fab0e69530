"""Loaded by the benchmark's server child only (this folder is put on its PYTHONPATH).

- ``SIGNALYARD_BENCH_GC_STATS=<file>``: time every garbage collection (per generation) and
  write the totals as JSON to ``<file>`` at exit. A callback per collection: negligible.
- ``SIGNALYARD_BENCH_GC_TUNE=1``: the experiment of a proposed change, not what the package
  does: once ``signalyard serve`` has imported everything and built its lookup tables, move
  every object to the permanent generation (``gc.freeze()``) and collect the young
  generations less often (``gc.set_threshold(50_000, 20, 100)``).
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import time
from typing import Any

_path = os.environ.get("SIGNALYARD_BENCH_GC_STATS")
if _path:
    _started = [0.0]
    _times: dict[int, list[float]] = {0: [], 1: [], 2: []}

    def _on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _started[0] = time.perf_counter()
        else:
            _times[info["generation"]].append((time.perf_counter() - _started[0]) * 1000.0)

    def _write(path: str = _path) -> None:
        out: dict[str, Any] = {"tracked_objects_at_exit": len(gc.get_objects())}
        for generation, values in _times.items():
            values.sort()
            out[f"gen{generation}"] = {
                "collections": len(values),
                "total_ms": round(sum(values), 1),
                "p50_ms": round(values[len(values) // 2], 2) if values else 0.0,
                "max_ms": round(values[-1], 2) if values else 0.0,
            }
        with open(path, "w") as fh:
            json.dump(out, fh)

    gc.callbacks.append(_on_gc)
    atexit.register(_write)

if os.environ.get("SIGNALYARD_BENCH_GC_TUNE") == "1":

    def _tune() -> None:
        # What serve imports (uvicorn, starlette, httpx, alembic and SQLAlchemy for the
        # schema check), so that those modules' objects are frozen too.
        import uvicorn.protocols.http.httptools_impl
        import uvloop

        import signalyard.app
        import signalyard.cli
        import signalyard.store.migrate

        del signalyard, uvicorn, uvloop
        from signalyard.samples import sample_purchase
        from signalyard.transforms.pipeline import clean_event

        now = time.time()
        clean_event(
            sample_purchase(now), dataset_id="0", default_country="US", now=now, new_id=str
        )  # builds the lookup tables (countries, states, currencies, phone metadata)
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)

    _tune()

_heap_path = os.environ.get("SIGNALYARD_BENCH_HEAP")
if _heap_path:
    import sys
    import threading

    def _sample_heap(path: str = _heap_path, every: float = 10.0) -> None:
        """Append the Python heap's size (allocated blocks, GC-tracked objects) every
        ``every`` seconds, for ``bench/soak.py``."""
        while True:
            line = {
                "t": time.time(),
                "blocks": sys.getallocatedblocks(),
                "gc_objects": len(gc.get_objects()),
            }
            with open(path, "a") as out:
                out.write(json.dumps(line) + "\n")
            time.sleep(every)

    threading.Thread(target=_sample_heap, name="bench-heap", daemon=True).start()
