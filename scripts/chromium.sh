#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser test (tests/integration/test_dashboard.py).
#
#   scripts/chromium.sh    install the `chromium` package with apt if /usr/bin/chromium is
#                          missing (as root), then check that it starts headless
#
# Playwright drives this browser; `playwright install` (which downloads a browser build of
# its own) is never used. Environment:
#   HUB_CHROMIUM   the browser to check (default /usr/bin/chromium; the test reads it too)
#
# Files: .logs/chromium-install.log (apt)
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
LOG_DIR="$REPO_ROOT/.logs"
INSTALL_LOG="$LOG_DIR/chromium-install.log"
CHROMIUM="${HUB_CHROMIUM:-/usr/bin/chromium}"

say() { printf 'chromium: %s\n' "$*"; }
die() {
  printf 'chromium: ERROR: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf 'chromium:   %s\n' "$line" >&2; done
  exit 1
}

install_chromium() {
  [[ "$CHROMIUM" == /usr/bin/chromium ]] ||
    die "$CHROMIUM (HUB_CHROMIUM) does not exist" \
      "point HUB_CHROMIUM at an installed Chromium, or unset it to use Debian's /usr/bin/chromium"
  command -v apt-get >/dev/null 2>&1 ||
    die "Chromium is not installed and this system has no apt-get" \
      "install Chromium with your package manager and set HUB_CHROMIUM to its binary," \
      "then re-run: make test"
  if [[ "$(id -u)" != 0 ]]; then
    die "Chromium is not installed (the dashboard test drives a real browser)" \
      "install it: sudo apt-get update && sudo apt-get install -y chromium" \
      "or run this script as root: sudo bash scripts/chromium.sh; then re-run: make test"
  fi
  mkdir -p "$LOG_DIR"
  say "installing chromium with apt-get (first run only; about 100 MB)..."
  local started=$SECONDS
  if ! {
    apt-get update &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
  } >"$INSTALL_LOG" 2>&1 || [[ ! -x "$CHROMIUM" ]]; then
    tail -n 20 "$INSTALL_LOG" >&2 || true
    die "apt-get could not install chromium (details in ${INSTALL_LOG#"$REPO_ROOT"/})" \
      "fix apt (network, sources), or install it by hand: apt-get install -y chromium; then re-run: make test"
  fi
  say "installed $("$CHROMIUM" --version 2>/dev/null | head -n 1) in $((SECONDS - started))s"
}

main() {
  case "${1:-}" in
    "") ;;
    -h | --help | help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
      return 0
      ;;
    *)
      die "unknown argument '$1'" "usage: scripts/chromium.sh"
      ;;
  esac
  [[ -x "$CHROMIUM" ]] || install_chromium
  # A headless start proves the shared libraries are all there (a half-removed package
  # would pass the file check and fail in the middle of the test).
  local dom
  dom="$(timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --dump-dom about:blank 2>/dev/null)" || true
  [[ "$dom" == *"<body>"* ]] ||
    die "$CHROMIUM is installed but does not start headless" \
      "try: $CHROMIUM --headless --no-sandbox --disable-gpu --dump-dom about:blank" \
      "and reinstall it: apt-get install --reinstall -y chromium"
  say "ready: $("$CHROMIUM" --version 2>/dev/null | head -n 1) at $CHROMIUM"
}

main "$@"
