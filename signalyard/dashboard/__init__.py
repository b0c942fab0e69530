"""The web dashboard: server-rendered pages over the statistics rollups, behind an admin
login. See docs/dashboard.md.

Mount it in the gateway: ``Mount("/dashboard", app=create_dashboard(store, clock,
settings.dashboard))``. It reads the store (never the outbox's history) and writes only when
an operator replays dead letters.
"""

from __future__ import annotations

from signalyard.dashboard.app import create_dashboard

__all__ = ["create_dashboard"]
