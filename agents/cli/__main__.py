"""``python -m agents.cli``: the same as ``hub``."""

from agents.cli.main import main

raise SystemExit(main())
