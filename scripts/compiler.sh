#!/usr/bin/env bash
# A C compiler and Python's headers, for the compiled latency-batch scanner
# (pipeline/ingest/_batch_scan.c, built by `pip install -e .` during `make setup`).
#
#   scripts/compiler.sh PYTHON   check that `cc` and PYTHON's Python.h exist; if not, install
#                                them with apt-get (as root): gcc, libc6-dev and, for Debian's
#                                own Python, its -dev package
#
# The extension is optional: without it the install still succeeds and batches take the
# (slower) msgspec path, but tests/unit/ingest/test_batch_scan.py fails, so the loss is never silent.
# Files: .logs/compiler-install.log (apt)
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
INSTALL_LOG="$REPO_ROOT/.logs/compiler-install.log"
PYTHON="${1:-python3.11}"

say() { printf 'compiler: %s\n' "$*"; }

headers() {
  "$PYTHON" -c 'import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'
}

packages=()
command -v cc >/dev/null 2>&1 || packages+=(gcc libc6-dev)
if ! headers; then
  version="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  packages+=("python${version}-dev")
fi
[[ ${#packages[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1 || [[ "$(id -u)" != 0 ]]; then
  say "WARNING: missing ${packages[*]}: the compiled batch scanner will not be built"
  say "  install them (e.g. sudo apt-get install -y ${packages[*]}), then: rm .venv/.installed && make setup"
  exit 0
fi
mkdir -p "$(dirname "$INSTALL_LOG")"
say "installing ${packages[*]} with apt-get (first run only)..."
if ! {
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
} >"$INSTALL_LOG" 2>&1; then
  tail -n 20 "$INSTALL_LOG" >&2 || true
  say "WARNING: apt-get could not install ${packages[*]} (details in .logs/compiler-install.log)"
  say "  the compiled batch scanner will not be built; fix apt, then: rm .venv/.installed && make setup"
fi
