#!/usr/bin/env bash
# make demo: topics, a worker, simulated traffic, 1-minute metrics arriving, and an
# incident from the past hours turned into anomaly alerts and a root-caused correlation;
# ends with the URL of the live dashboard (hub api, with a read key made for this run).
set -euo pipefail
cd "$(dirname "$0")/.."
HUB=.venv/bin/hub
DURATION="${DEMO_SECONDS:-90}"
mkdir -p .logs

# The demo has its own topics and state, reset on every run: its story starts 226
# minutes ago, which an earlier run's watermark would otherwise call late.
export HUB_TOPIC_PREFIX="${HUB_TOPIC_PREFIX:-demo-}"
export HUB_APP_ID="${HUB_APP_ID:-hub-demo}"
export HUB_DATA_DIR="${HUB_DATA_DIR:-$PWD/.run/demo}"
$HUB topics delete --yes
$HUB store-clear --yes
rm -rf "$HUB_DATA_DIR"
sleep 2  # topic deletion completes in the background
$HUB topics apply
echo "demo: producing the past 226 minutes (environment 'incident-replay'): one model's latency"
echo "      and prompt-injection attempts, with a two-minute injection campaign 6 minutes ago"
echo "      that slowed the model four-fold"
$HUB produce --incident-history --count 0 > .logs/demo-history.log 2>&1
echo "demo: starting a worker (log: .logs/demo-worker.log)"
$HUB worker --loglevel warn > .logs/demo-worker.log 2>&1 &
WORKER=$!
sleep 3
if ! kill -0 "$WORKER" 2>/dev/null; then
  echo "demo: the worker exited at start; its log (.logs/demo-worker.log) says:"
  tail -n 20 .logs/demo-worker.log
  exit 1
fi
echo "demo: starting the Redis sink and the causal-chain assembler (logs: .logs/demo-sink.log, .logs/demo-chains.log)"
$HUB sink > .logs/demo-sink.log 2>&1 &
SINK=$!
HUB_CHAIN_SETTLE_S="${HUB_CHAIN_SETTLE_S:-10}" $HUB chains > .logs/demo-chains.log 2>&1 &
CHAINS=$!
# The HTTP API and its live dashboard, with a read key made for this run only.
API_PORT="${DEMO_API_PORT:-8080}"
API_URL="http://127.0.0.1:$API_PORT"
DEMO_KEY="demo-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')"
echo "demo: starting the HTTP API at $API_URL with a read key for this run (log: .logs/demo-api.log)"
HUB_API_KEYS="$DEMO_KEY:read" $HUB api --port "$API_PORT" > .logs/demo-api.log 2>&1 &
API=$!
PRODUCER=""
cleanup() {
  if [ -n "$PRODUCER" ]; then kill "$PRODUCER" 2>/dev/null || true; fi
  kill "$WORKER" "$SINK" "$CHAINS" "$API" 2>/dev/null || true
  wait "$WORKER" "$SINK" "$CHAINS" "$API" 2>/dev/null || true
}
trap cleanup EXIT
api_up() {
  .venv/bin/python - "$API_URL/health" <<'PY' 2>/dev/null
import sys, time, urllib.request
for _ in range(40):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.5)
sys.exit(1)
PY
}
if kill -0 "$API" 2>/dev/null && api_up; then
  echo "demo: dashboard (fills as the windows close): $API_URL/dashboard#key=$DEMO_KEY"
else
  echo "demo: the API did not start (port $API_PORT busy? set DEMO_API_PORT); .logs/demo-api.log says:"
  tail -n 5 .logs/demo-api.log
  API_URL=""
fi

echo "demo: producing simulated traffic of every payload type for ${DURATION}s (200 events/s)"
$HUB produce --rate 200 --duration "$DURATION" --every-variant > .logs/demo-producer.log 2>&1 &
PRODUCER=$!

echo "demo: 1-minute windows close a few seconds after each minute ends; watching hub.metrics.1m"
$HUB tail hub.metrics.1m --contains llm_latency.total_latency_ms --summary --timeout "$((DURATION + 20))"
wait "$PRODUCER" || true
echo "demo: producer said: $(tail -n 1 .logs/demo-producer.log)"
echo "demo: the incident, as the detection task saw it (hub.anomalies, 1-minute windows):"
$HUB tail hub.anomalies --from-beginning --summary --timeout 5 | grep " 1m started" || true
echo "demo: ... and as one incident with its root cause (hub.correlations):"
$HUB tail hub.correlations --from-beginning --summary --timeout 5 --contains security_threats \
  | awk '/^incident /{block=""} {block=block $0 "\n"} END{printf "%s", block}' || true
echo "demo: rule alerts from rules.yaml (budgets past 80 %, model outages, tenant spend):"
$HUB tail hub.anomalies --from-beginning --summary --timeout 5 --contains '"rule:' | head -n 5 || true
echo "demo: composite metrics of the last closed minutes (hub.composites):"
$HUB tail hub.composites --from-beginning --summary --timeout 5 --contains one_minute | tail -n 5 || true
echo "demo: causal chains of events sharing a correlation_id (hub.event-correlations), three of them:"
$HUB tail hub.event-correlations --from-beginning --summary --timeout 5 --contains causal_chain \
  | head -n 3 || true
$HUB store-stats || true
echo "demo: more to look at: '$HUB tail hub.dead-letter --from-beginning', '$HUB topics list'"
echo "demo: (its topics carry the prefix '$HUB_TOPIC_PREFIX'; run 'HUB_TOPIC_PREFIX=$HUB_TOPIC_PREFIX $HUB tail ...')"
if [ -n "$API_URL" ]; then
  if [ -t 0 ]; then
    echo "demo: the dashboard and the API stay up until you press Enter (or Ctrl-C):"
  else
    echo "demo: the dashboard and the API stop with this demo (run it in a terminal to keep them):"
  fi
  echo "  $API_URL/dashboard#key=$DEMO_KEY"
  echo "  curl -s -H 'X-API-Key: $DEMO_KEY' '$API_URL/api/v1/correlations?per_page=1'"
  if [ -t 0 ]; then read -r _ || true; fi
fi
