#!/usr/bin/env bash
# Local infrastructure for LLM Analytics Hub: a single-node Kafka (KRaft) and a Redis.
#
#   scripts/infra.sh up     [kafka|redis|all]   install on first use, start, wait until usable
#   scripts/infra.sh down   [kafka|redis|all]   stop what `up` started (never anything else)
#   scripts/infra.sh status [kafka|redis|all]   print what runs where; exit 0 only if all answer
#
# Default target: all. Details, ports and environment variables (HUB_KAFKA_BOOTSTRAP,
# HUB_KAFKA_PORT, HUB_KAFKA_CONTROLLER_PORT, HUB_REDIS_URL, HUB_REDIS_PORT, ...) are described
# in scripts/kafka.sh and scripts/redis.sh. Runtime state lives in .run/, logs in .logs/,
# downloads in .cache/ (all git-ignored).
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}" target="${2:-all}"
  case "$cmd" in
    up | down | status) ;;
    -h | --help | help)
      usage
      return 0
      ;;
    *)
      usage >&2
      printf 'infra: ERROR: unknown command %s\n' "'${cmd}'" >&2
      return 2
      ;;
  esac
  if [[ $# -gt 2 ]]; then
    usage >&2
    return 2
  fi

  local services
  case "$target" in
    kafka) services=(kafka) ;;
    redis) services=(redis) ;;
    # Redis first on `up`: it takes a second, Kafka takes longer and gets the last word.
    all) services=(redis kafka) ;;
    *)
      usage >&2
      printf "infra: ERROR: unknown target '%s' (expected kafka, redis or all)\n" "$target" >&2
      return 2
      ;;
  esac

  local svc rc failed=() not_running=()
  for svc in "${services[@]}"; do
    rc=0
    bash "$SCRIPT_DIR/$svc.sh" "$cmd" || rc=$?
    case "$cmd:$rc" in
      *:0) ;;
      status:3) not_running+=("$svc") ;;
      up:*)
        printf 'infra: ERROR: %s did not come up (exit %s); the messages above say why.\n' "$svc" "$rc" >&2
        printf 'infra:   fix the cause, then re-run: scripts/infra.sh up %s\n' "$svc" >&2
        printf 'infra:   logs: .logs/%s.log; to use an existing server instead, set %s\n' "$svc" \
          "$([[ $svc == kafka ]] && echo HUB_KAFKA_BOOTSTRAP=host:port || echo HUB_REDIS_URL=redis://host:port/0)" >&2
        return 1
        ;;
      *) failed+=("$svc") ;;
    esac
  done

  if ((${#failed[@]})); then
    printf 'infra: ERROR: %s %s failed for: %s\n' "scripts/infra.sh" "$cmd" "${failed[*]}" >&2
    return 1
  fi
  if ((${#not_running[@]})); then
    printf 'infra: not running: %s (start with: scripts/infra.sh up)\n' "${not_running[*]}"
    return 3
  fi
}

main "$@"
