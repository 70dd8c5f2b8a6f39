#!/usr/bin/env bash
# Local Redis for development and tests.
#
#   scripts/redis.sh up       install redis-server with apt if missing, start it, wait for PONG
#   scripts/redis.sh down     stop the Redis that `up` started (pid file), nothing else
#   scripts/redis.sh status   print what runs where; exit 0 if Redis answers, 3 if not
#
# Environment:
#   HUB_REDIS_URL            if it points anywhere but 127.0.0.1/localhost, an external Redis is
#                            configured: `up`/`down` touch nothing.
#   HUB_REDIS_PORT           port (default 6379, or the port in a local HUB_REDIS_URL)
#   HUB_REDIS_START_TIMEOUT  seconds to wait for PONG (default 30)
#
# Files (a non-default port gets "-<port>" suffixed copies so several servers can coexist):
#   .run/redis.pid  .run/redis-data/  .logs/redis.log  .logs/redis-install.log (apt)
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
# HUB_HOME: where .cache/, .run/ and .logs/ go (`hub infra` sets it outside a checkout)
REPO_ROOT="${HUB_HOME:-$(cd -- "$SCRIPT_DIR/.." && pwd -P)}"
mkdir -p "$REPO_ROOT"
RUN_DIR="$REPO_ROOT/.run"
LOG_DIR="$REPO_ROOT/.logs"

DEFAULT_PORT=6379
START_TIMEOUT="${HUB_REDIS_START_TIMEOUT:-30}"

say() { printf 'redis: %s\n' "$*"; }
warn() { printf 'redis: %s\n' "$*" >&2; }
die() {
  printf 'redis: ERROR: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf 'redis:   %s\n' "$line" >&2; done
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
EXTERNAL=""
resolve_config() {
  local url="${HUB_REDIS_URL:-}" url_port=""
  if [[ -n "$url" ]]; then
    # redis://[user:password@]host[:port][/db]
    if [[ "$url" =~ ^redis://([^@/]*@)?(127\.0\.0\.1|localhost)(:([0-9]+))?(/[0-9]*)?$ ]]; then
      url_port="${BASH_REMATCH[4]:-$DEFAULT_PORT}"
    else
      EXTERNAL="$url"
    fi
  fi
  PORT="${HUB_REDIS_PORT:-${url_port:-$DEFAULT_PORT}}"
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "HUB_REDIS_PORT must be a port number, got '$PORT'"
  if [[ -n "$url_port" && "$url_port" != "$PORT" ]]; then
    die "HUB_REDIS_URL=$url disagrees with HUB_REDIS_PORT=$PORT" \
      "set only one of them, or make the ports equal"
  fi
  local suffix=""
  [[ "$PORT" == "$DEFAULT_PORT" ]] || suffix="-$PORT"
  PID_FILE="$RUN_DIR/redis$suffix.pid"
  LOCK_FILE="$RUN_DIR/redis$suffix.lock"
  DATA_DIR="$RUN_DIR/redis-data$suffix"
  LOG_FILE="$LOG_DIR/redis$suffix.log"
  INSTALL_LOG="$LOG_DIR/redis-install.log"
  ADDRESS="127.0.0.1:$PORT"
}

# ---------------------------------------------------------------------------------------------
# Probing
# ---------------------------------------------------------------------------------------------
PING_MSG=""
# ping_redis: 0 = PONG, 1 = nothing listens, 3 = something listens but no PONG
ping_redis() {
  local reply=""
  if ! port_open "$PORT"; then
    PING_MSG="nothing listens"
    return 1
  fi
  if command -v redis-cli >/dev/null 2>&1; then
    reply="$(timeout 3 redis-cli -h 127.0.0.1 -p "$PORT" ping 2>&1 | head -n 1)" || true
  else
    # RESP inline PING over bash's /dev/tcp.
    # shellcheck disable=SC2016 # $1 expands in the child shell
    reply="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "PING\r\n" >&3; IFS= read -r line <&3; printf "%s" "$line"' _ "$PORT" 2>/dev/null)" || true
    reply="${reply%$'\r'}"
    reply="${reply#+}"
  fi
  if [[ "$reply" == "PONG" ]]; then
    PING_MSG="PONG"
    return 0
  fi
  PING_MSG="something listens but does not answer PING with PONG (${reply:-no reply})"
  return 3
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

OUR_PID=""
# True if the pid file names a live redis-server serving our port.
ours_alive() {
  OUR_PID=""
  [[ -f "$PID_FILE" ]] || return 1
  local pid comm cmdline
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
  # redis-server rewrites its title to "redis-server 127.0.0.1:PORT".
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$comm" == redis-server* && "$cmdline" == *":$PORT"* ]] || return 1
  OUR_PID="$pid"
}

# ---------------------------------------------------------------------------------------------
# Install (Debian/Ubuntu package), never leaving a system service running
# ---------------------------------------------------------------------------------------------
ensure_installed() {
  if command -v redis-server >/dev/null 2>&1; then
    REDIS_SERVER="$(command -v redis-server)"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 ||
    die "redis-server is not installed and this system has no apt-get" \
      "install Redis 6+ with your package manager (so that redis-server is on PATH) and re-run: scripts/redis.sh up" \
      "or point HUB_REDIS_URL at an existing Redis"
  if [[ "$(id -u)" != 0 ]]; then
    die "redis-server is not installed" \
      "install it: sudo apt-get update && sudo apt-get install -y redis-server" \
      "(if apt starts a system service on 6379, stop it: sudo systemctl disable --now redis-server)" \
      "then re-run: scripts/redis.sh up"
  fi
  mkdir -p "$LOG_DIR"
  say "installing redis-server with apt-get (first run only)..."
  local started=$SECONDS own_policy=""
  # Keep the package's postinst from starting a system redis on 6379 (honoured by invoke-rc.d
  # and deb-systemd-invoke). Only add the policy if the system has none of its own.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  local ok=1
  {
    apt-get update &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server
  } >"$INSTALL_LOG" 2>&1 || ok=""
  if [[ -n "$own_policy" ]]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
  if [[ -z "$ok" ]] || ! command -v redis-server >/dev/null 2>&1; then
    tail -n 20 "$INSTALL_LOG" >&2 || true
    die "apt-get could not install redis-server (details in ${INSTALL_LOG#"$REPO_ROOT"/})" \
      "fix apt (network, sources), or install it by hand: apt-get install -y redis-server; then re-run: scripts/redis.sh up"
  fi
  REDIS_SERVER="$(command -v redis-server)"
  say "installed $("$REDIS_SERVER" --version | cut -d' ' -f1-3) in $((SECONDS - started))s"
  stop_system_service
}

# If a packaged redis service runs anyway (e.g. systemd ignored the policy), stop and disable it:
# it would sit on 6379 and be mistaken for ours.
stop_system_service() {
  local sys_pidfile=/run/redis/redis-server.pid
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    warn "apt started the system service redis-server; stopping and disabling it"
    systemctl disable --now redis-server >/dev/null 2>&1 || true
  elif [[ -s "$sys_pidfile" ]] && kill -0 "$(tr -dc '0-9' <"$sys_pidfile")" 2>/dev/null; then
    warn "apt started the system service redis-server; stopping and disabling it"
    if command -v service >/dev/null 2>&1; then
      service redis-server stop >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1; then
      update-rc.d redis-server disable >/dev/null 2>&1 || true
    fi
  fi
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
take_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$LOCK_FILE"
  if command -v flock >/dev/null 2>&1; then
    flock -w 60 9 || die "another scripts/redis.sh holds ${LOCK_FILE#"$REPO_ROOT"/} for 60s; try again"
  fi
}

print_log_tail() {
  warn "last 30 lines of ${LOG_FILE#"$REPO_ROOT"/}:"
  tail -n 30 "$LOG_FILE" >&2 2>/dev/null || warn "(no log file)"
}

cmd_up() {
  if [[ -n "$EXTERNAL" ]]; then
    say "external Redis configured (HUB_REDIS_URL=$EXTERNAL); starting nothing"
    return 0
  fi
  take_lock
  local rc=0
  if ours_alive; then
    ping_redis || rc=$?
    if [[ "$rc" == 0 ]]; then
      say "already up at $ADDRESS (pid $OUR_PID)"
      return 0
    fi
  else
    [[ ! -f "$PID_FILE" ]] || { warn "removing stale pid file ${PID_FILE#"$REPO_ROOT"/}"; rm -f "$PID_FILE"; }
    ping_redis || rc=$?
    case "$rc" in
      0)
        say "a Redis not started by this script already answers at $ADDRESS; reusing it"
        return 0
        ;;
      1) ;;
      *)
        die "port $PORT is in use by something that is not a usable Redis: $PING_MSG" \
          "stop that program, or set HUB_REDIS_PORT to a free port and re-run: scripts/redis.sh up"
        ;;
    esac
    ensure_installed
    mkdir -p "$DATA_DIR" "$LOG_DIR"
    say "starting $("$REDIS_SERVER" --version | cut -d' ' -f1-3) at $ADDRESS..."
    rm -f "$PID_FILE"
    if ! "$REDIS_SERVER" --bind 127.0.0.1 --port "$PORT" --protected-mode yes \
      --dir "$DATA_DIR" --pidfile "$PID_FILE" --logfile "$LOG_FILE" \
      --daemonize yes --appendonly no </dev/null 9>&-; then
      print_log_tail
      die "redis-server refused to start; see ${LOG_FILE#"$REPO_ROOT"/}, fix the cause and re-run: scripts/redis.sh up"
    fi
  fi

  local started=$SECONDS last_report=$SECONDS
  while :; do
    rc=0
    ping_redis || rc=$?
    [[ "$rc" != 0 ]] || break
    if ((SECONDS - started >= 2)) && ! ours_alive; then
      print_log_tail
      rm -f "$PID_FILE"
      die "redis-server exited during startup; see ${LOG_FILE#"$REPO_ROOT"/}, fix the cause and re-run: scripts/redis.sh up"
    fi
    if ((SECONDS - started >= START_TIMEOUT)); then
      print_log_tail
      die "Redis did not answer PING at $ADDRESS within ${START_TIMEOUT}s ($PING_MSG)" \
        "check ${LOG_FILE#"$REPO_ROOT"/}, then 'scripts/redis.sh down' and 'scripts/redis.sh up'"
    fi
    if ((SECONDS - last_report >= 5)); then
      say "waiting for PONG at $ADDRESS... $((SECONDS - started))s ($PING_MSG)"
      last_report=$SECONDS
    fi
    sleep 0.2
  done
  ours_alive || true
  say "up at $ADDRESS (pid ${OUR_PID:-?}); logs: ${LOG_FILE#"$REPO_ROOT"/}"
}

cmd_down() {
  if [[ -n "$EXTERNAL" ]]; then
    say "external Redis configured (HUB_REDIS_URL=$EXTERNAL); nothing to stop"
    return 0
  fi
  take_lock
  if ! ours_alive; then
    if [[ -f "$PID_FILE" ]]; then
      rm -f "$PID_FILE"
      say "not running (removed stale pid file)"
    else
      say "not running (no pid file)"
    fi
    if ping_redis; then
      say "note: a Redis not started by this script answers at $ADDRESS; leaving it alone"
    fi
    return 0
  fi
  local pid="$OUR_PID" waited=0
  say "stopping redis-server (pid $pid)..."
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((waited < 300)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "redis-server did not stop within 30s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$PID_FILE"
  say "stopped (was pid $pid)"
}

cmd_status() {
  if [[ -n "$EXTERNAL" ]]; then
    say "external (HUB_REDIS_URL=$EXTERNAL); not managed by this script"
    return 0
  fi
  local rc=0
  ping_redis || rc=$?
  if ours_alive; then
    if [[ "$rc" == 0 ]]; then
      say "running at $ADDRESS (pid $OUR_PID, started by scripts/redis.sh; PING -> PONG)"
      return 0
    fi
    say "process running (pid $OUR_PID) but not answering at $ADDRESS: $PING_MSG"
    return 3
  fi
  if [[ "$rc" == 0 ]]; then
    say "running at $ADDRESS (not started by this script; PING -> PONG)"
    return 0
  fi
  say "not running ($ADDRESS: $PING_MSG)"
  return 3
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    up | down | status) ;;
    -h | --help | help)
      usage
      return 0
      ;;
    *)
      usage >&2
      return 2
      ;;
  esac
  resolve_config
  "cmd_$cmd"
}

main "$@"
