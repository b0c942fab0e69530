"""Build hook: compile the hot transforms modules with mypyc (see docs/performance.md).

``signalyard.transforms`` normalizes and hashes every event; compiled to C with mypyc it runs
about 1.3x faster than under the interpreter. The pure-Python modules stay the source of
truth and the fallback: without mypy at build time, with ``SIGNALYARD_PURE_PYTHON=1``, or when
the C build fails (all or nothing, see ``_AllOrNothing``), the package installs as plain Python,
and compiled modules an earlier build left beside their sources are removed (an editable install
builds them in place, where they would shadow the sources: ``_remove_compiled``).
Everything else about the package is in ``pyproject.toml``.
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# The modules on the per-event path. Not transforms/__init__.py, nor modules that are not on
# that path (compiled modules do not see monkeypatched globals, and their classes are native).
COMPILED = [
    "signalyard/transforms/birthdate.py",
    "signalyard/transforms/custom_data.py",
    "signalyard/transforms/enrich.py",
    "signalyard/transforms/hashing.py",
    "signalyard/transforms/identity.py",
    "signalyard/transforms/normalize.py",
    "signalyard/transforms/phone.py",
    "signalyard/transforms/pipeline.py",
    "signalyard/transforms/user_data.py",
    "signalyard/transforms/user_data_general.py",
    "signalyard/transforms/validate.py",
]


def _extensions() -> list[Extension]:
    if os.environ.get("SIGNALYARD_PURE_PYTHON", "") not in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("signalyard: mypyc not available, installing pure Python", file=sys.stderr)
        return []
    try:
        extensions = mypycify(
            COMPILED,
            opt_level="3",
            # The shared library lives in the package, not at the top level of site-packages.
            group_name="signalyard.transforms._native",
        )
    except (Exception, SystemExit) as error:  # mypy/mypyc refused: pure Python, said loudly
        print(f"signalyard: mypyc failed ({error!r}), installing pure Python", file=sys.stderr)
        return []
    return extensions


class _AllOrNothing(build_ext):
    """Builds the compiled modules together or not at all: each needs the shared library
    mypyc makes, so if any fails to build (no C compiler...), none is kept and the package
    is plain Python."""

    def build_extensions(self) -> None:
        try:
            super().build_extensions()
        except Exception as error:
            print(f"signalyard: C build failed ({error}), installing pure Python", file=sys.stderr)
            for extension in self.extensions:
                path = self.get_ext_fullpath(extension.name)
                if os.path.exists(path):
                    os.remove(path)
            _remove_compiled()  # and those an earlier editable build left beside the sources
            self.extensions = []


def _remove_compiled() -> None:
    """Remove the compiled modules (and mypyc's shared library) that an earlier build left in
    ``signalyard/transforms/``: an editable install builds them in place, and Python imports
    them instead of their ``.py`` sources, so a pure-Python build must not leave them."""
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "signalyard", "transforms")
    stems = {os.path.splitext(os.path.basename(path))[0] for path in COMPILED}
    stems.add("_native__mypyc")
    if not os.path.isdir(folder):
        return
    for entry in sorted(os.listdir(folder)):
        if entry.split(".", 1)[0] in stems and entry.endswith((".so", ".pyd")):
            os.remove(os.path.join(folder, entry))
            print(f"signalyard: removed the stale compiled module {entry}", file=sys.stderr)


_EXTENSIONS = _extensions()
if not _EXTENSIONS:
    _remove_compiled()

setup(ext_modules=_EXTENSIONS, cmdclass={"build_ext": _AllOrNothing})
