"""`pip install` of the built wheel gives a `hub` that works outside the checkout.

The wheel is built from this checkout's tracked files, installed with its dependencies into a fresh
virtual environment, and run from an empty directory: its topics.yaml, rules.yaml,
infrastructure scripts and dashboard assets must come from the package itself."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from pipeline.sim.simulate import EventSimulator

ROOT = Path(__file__).resolve().parents[2]
BASE = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """(the new venv's bin directory, an empty working directory, its environment)."""
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HUB_", "VIRTUAL"))}
    env["HOME"] = str(base / "home")
    source = base / "src"  # the tracked files only, as a fresh clone has them
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target, follow_symlinks=False)
    wheels = base / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
         cwd=base, env={**env, "HOME": os.environ.get("HOME", "/root")})  # fmt: skip
    (wheel,) = wheels.glob("llm_analytics_hub-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=base, env=env)
    _run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
        cwd=base,
        env={**env, "HOME": os.environ.get("HOME", "/root")},
    )  # fmt: skip (pip's cache)
    work = base / "work"
    work.mkdir()
    return venv / "bin", work, env


def test_the_installed_package_is_not_the_checkout(installed) -> None:
    bin_dir, work, env = installed
    code = "import agents, pipeline; print(pipeline.__file__); print(agents.__file__)"
    paths = _run([str(bin_dir / "python"), "-c", code], work, env).split()
    assert all(str(bin_dir.parent) in path for path in paths), paths
    data = bin_dir.parent / "lib" / "python3.11" / "site-packages"
    for shipped in ("pipeline/data/topics.yaml", "pipeline/data/rules.yaml",
                    "agents/scripts/infra.sh", "agents/scripts/kafka/pom.xml",
                    "agents/api/static/dashboard.js"):  # fmt: skip
        assert (data / shipped).is_file(), shipped
        assert not (data / shipped).is_symlink(), f"{shipped} is a copy, not a link"
    assert (data / "pipeline/data/topics.yaml").read_text() == (ROOT / "topics.yaml").read_text()


def test_topics_list_help_and_infra_help_answer(installed) -> None:
    bin_dir, work, env = installed
    assert "usage: hub topics" in _run(
        [str(bin_dir / "hub"), "topics", "list", "--help"], work, env
    )
    assert "usage: hub infra" in _run([str(bin_dir / "hub"), "infra", "--help"], work, env)


def test_detect_finds_a_spike_in_a_csv(installed) -> None:
    bin_dir, work, env = installed
    rng = np.random.default_rng(3)
    values = 100 + rng.normal(0, 2, 600)
    values[500] = 160.0  # 30 standard deviations
    rows = [
        f"{BASE + timedelta(minutes=i):%Y-%m-%d %H:%M:%S},{v:.3f}" for i, v in enumerate(values)
    ]
    (work / "series.csv").write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    _run([str(bin_dir / "hub"), "detect", "--input", "series.csv", "--output", "alerts.jsonl"],
         work, env)  # fmt: skip
    alerts = [json.loads(line) for line in (work / "alerts.jsonl").read_text().splitlines()]
    spike = (BASE + timedelta(minutes=500)).timestamp()
    times = [datetime.fromisoformat(a["timestamp"]).timestamp() for a in alerts]
    assert any(abs(t - spike) <= 60 for t in times), times


def test_replay_aggregates_a_file_as_numpy_does(installed) -> None:
    bin_dir, work, env = installed
    rng = np.random.default_rng(5)
    sim = EventSimulator(seed=5)
    values = np.round(rng.lognormal(math.log(400.0), 0.5, 300), 2)
    with open(work / "events.jsonl", "w") as out:
        for i, value in enumerate(values.tolist()):
            event = sim.latency_event(BASE + timedelta(seconds=i * 0.15), "gpt-4o", value)
            out.write(event.to_wire() + "\n")
    _run([str(bin_dir / "hub"), "replay", "--input", "events.jsonl", "--output", "metrics.jsonl"],
         work, env)  # fmt: skip
    metrics = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    minute = [m for m in metrics if m["name"] == "llm_latency.total_latency_ms"
              and m["window"] == "one_minute"]  # fmt: skip
    assert minute, sorted({(m["name"], m["window"]) for m in metrics})
    assert sum(m["values"]["count"] for m in minute) == values.size
    assert sum(m["values"]["sum"] for m in minute) == pytest.approx(float(values.sum()), rel=1e-9)
