#!/usr/bin/env bash
# make demo: topics, a worker, simulated traffic, and 1-minute latency metrics arriving.
set -euo pipefail
cd "$(dirname "$0")/.."
HUB=.venv/bin/hub
DURATION="${DEMO_SECONDS:-90}"
mkdir -p .logs

$HUB topics apply
echo "demo: starting a worker (log: .logs/demo-worker.log)"
$HUB worker --loglevel warn > .logs/demo-worker.log 2>&1 &
WORKER=$!
sleep 3
if ! kill -0 "$WORKER" 2>/dev/null; then
  echo "demo: the worker exited at start; its log (.logs/demo-worker.log) says:"
  tail -n 20 .logs/demo-worker.log
  exit 1
fi
PRODUCER=""
cleanup() {
  if [ -n "$PRODUCER" ]; then kill "$PRODUCER" 2>/dev/null || true; fi
  kill "$WORKER" 2>/dev/null || true
  wait "$WORKER" 2>/dev/null || true
}
trap cleanup EXIT

echo "demo: producing simulated traffic of every payload type for ${DURATION}s (200 events/s)"
$HUB produce --rate 200 --duration "$DURATION" --every-variant > .logs/demo-producer.log 2>&1 &
PRODUCER=$!

echo "demo: 1-minute windows close a few seconds after each minute ends; watching hub.metrics.1m"
$HUB tail hub.metrics.1m --contains llm_latency.total_latency_ms --summary --timeout "$((DURATION + 20))"
wait "$PRODUCER" || true
echo "demo: producer said: $(tail -n 1 .logs/demo-producer.log)"
echo "demo: more to look at: '$HUB tail hub.dead-letter --from-beginning', '$HUB topics list'"
