"""The worker: the Faust app with every agent registered on it (what `hub worker` runs).

The agent modules import the app (``agents.runtime.app``) to register; the app does not import
them back, so the dependencies point one way: worker -> agents -> app.
"""

from __future__ import annotations

from agents.runtime import health_report  # noqa: F401 (registers its timer)
from agents.runtime.app import app
from agents.streams import aggregate, correlate, detect, ingest  # noqa: F401 (they register)

__all__ = ["app"]
