"""Where the hub keeps its files on this machine: the checkout when run from one, else
a per-user directory (an installed `hub` has no checkout to write into).

``HUB_HOME`` overrides both. Under it live ``.cache/`` (Kafka's jars, Redis), ``.run/``
(servers' state) and ``.logs/``, exactly as in a checkout."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""The ``agents`` package."""
SCRIPTS_DIR = PACKAGE_DIR / "scripts"
"""The shell scripts that install and run Kafka and Redis (``scripts/`` of the checkout,
shipped inside the package)."""


def checkout_root() -> Path | None:
    """The repository this package runs from, if it runs from one."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "scripts").is_dir() else None


def hub_home() -> Path:
    """``HUB_HOME``, else the checkout, else ``$XDG_DATA_HOME/llm-analytics-hub``."""
    if explicit := os.environ.get("HUB_HOME"):
        return Path(explicit)
    if (root := checkout_root()) is not None:
        return root
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "llm-analytics-hub"


def logs_dir() -> Path:
    path = hub_home() / ".logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
