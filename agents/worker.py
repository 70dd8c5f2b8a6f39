"""The worker: the Faust app with every agent registered on it (what `hub worker` runs).

The agent modules import the app (``agents.app``) to register; the app does not import
them back, so the dependencies point one way: worker -> agents -> app.
"""

from __future__ import annotations

from agents import aggregate, correlate, detect, health_report, ingest  # noqa: F401 (they register)
from agents.app import app

__all__ = ["app"]
