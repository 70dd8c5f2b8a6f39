#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) for development and tests.
#
#   scripts/kafka.sh up       install (first run only) + format (first run only) + start + wait until it answers
#   scripts/kafka.sh down     stop the broker that `up` started (pid file), nothing else
#   scripts/kafka.sh status   print what runs where; exit 0 if a broker is usable, 3 if not
#   scripts/kafka.sh topics ARGS...   run Kafka's TopicCommand against the broker
#                                     (e.g. `topics --list`, `topics --create --topic t`)
#
# The broker comes from Maven Central jars (org.apache.kafka:kafka_2.13, no tarball), collected
# by Maven into <repo>/.cache/kafka-<version>/libs once; later runs need no network.
#
# Environment:
#   HUB_KAFKA_BOOTSTRAP        if set to anything but 127.0.0.1:<port> / localhost:<port>, an
#                              external cluster is configured: `up`/`down` touch nothing.
#   HUB_KAFKA_PORT             client listener port (default 9092, or the port in a local
#                              HUB_KAFKA_BOOTSTRAP)
#   HUB_KAFKA_CONTROLLER_PORT  KRaft controller port (default 9093)
#   HUB_KAFKA_VERSION          Kafka version(s) to try, in order (default "3.9.1 3.9.2")
#   HUB_KAFKA_START_TIMEOUT    seconds to wait for the broker to answer (default 90)
#   HUB_KAFKA_HEAP             JVM heap options (default "-Xms256m -Xmx1g")
#
# Files (non-default ports get their own "-<port>" suffixed copies so several brokers can coexist):
#   .run/kafka.pid  .run/kafka/server.properties  .run/kafka-data/  .run/kafka-cluster-id
#   .logs/kafka.log (log4j)  .logs/kafka.out (JVM stdout/stderr)  .logs/kafka-install.log (Maven)
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
# HUB_HOME: where .cache/, .run/ and .logs/ go (`hub infra` sets it outside a checkout)
REPO_ROOT="${HUB_HOME:-$(cd -- "$SCRIPT_DIR/.." && pwd -P)}"
mkdir -p "$REPO_ROOT"

KAFKA_TEMPLATE_DIR="$SCRIPT_DIR/kafka"
POM="$KAFKA_TEMPLATE_DIR/pom.xml"
PROPS_TEMPLATE="$KAFKA_TEMPLATE_DIR/server.properties"
LOG4J_PROPS="$KAFKA_TEMPLATE_DIR/log4j.properties"
CACHE_DIR="$REPO_ROOT/.cache"
M2_REPO="$CACHE_DIR/m2"
RUN_DIR="$REPO_ROOT/.run"
LOG_DIR="$REPO_ROOT/.logs"

DEFAULT_PORT=9092
DEFAULT_CONTROLLER_PORT=9093
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
START_TIMEOUT="${HUB_KAFKA_START_TIMEOUT:-90}"
HEAP_OPTS="${HUB_KAFKA_HEAP:--Xms256m -Xmx1g}"

say() { printf 'kafka: %s\n' "$*"; }
warn() { printf 'kafka: %s\n' "$*" >&2; }
die() {
  printf 'kafka: ERROR: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf 'kafka:   %s\n' "$line" >&2; done
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------------------------------------
# Configuration: local or external, which ports
# ---------------------------------------------------------------------------------------------
EXTERNAL=""
PORT=""
resolve_config() {
  local bootstrap="${HUB_KAFKA_BOOTSTRAP:-}" bs_port=""
  if [[ -n "$bootstrap" ]]; then
    if [[ "$bootstrap" =~ ^(PLAINTEXT://)?(127\.0\.0\.1|localhost):([0-9]+)$ ]]; then
      bs_port="${BASH_REMATCH[3]}"
    else
      EXTERNAL="$bootstrap"
    fi
  fi
  PORT="${HUB_KAFKA_PORT:-${bs_port:-$DEFAULT_PORT}}"
  CONTROLLER_PORT="${HUB_KAFKA_CONTROLLER_PORT:-$DEFAULT_CONTROLLER_PORT}"
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "HUB_KAFKA_PORT must be a port number, got '$PORT'"
  [[ "$CONTROLLER_PORT" =~ ^[0-9]+$ ]] ||
    die "HUB_KAFKA_CONTROLLER_PORT must be a port number, got '$CONTROLLER_PORT'"
  if [[ -n "$bs_port" && "$bs_port" != "$PORT" ]]; then
    die "HUB_KAFKA_BOOTSTRAP=$bootstrap disagrees with HUB_KAFKA_PORT=$PORT" \
      "set only one of them, or make the ports equal"
  fi
  [[ "$PORT" != "$CONTROLLER_PORT" ]] ||
    die "HUB_KAFKA_PORT and HUB_KAFKA_CONTROLLER_PORT are both $PORT; they must differ"

  local suffix=""
  [[ "$PORT" == "$DEFAULT_PORT" ]] || suffix="-$PORT"
  PID_FILE="$RUN_DIR/kafka$suffix.pid"
  LOCK_FILE="$RUN_DIR/kafka$suffix.lock"
  CONF_DIR="$RUN_DIR/kafka$suffix"
  PROPS="$CONF_DIR/server.properties"
  TOOLS_LOG4J="$CONF_DIR/tools-log4j.properties"
  DATA_DIR="$RUN_DIR/kafka-data$suffix"
  CLUSTER_ID_FILE="$RUN_DIR/kafka-cluster-id$suffix"
  LOG_FILE="$LOG_DIR/kafka$suffix.log"
  OUT_FILE="$LOG_DIR/kafka$suffix.out"
  INSTALL_LOG="$LOG_DIR/kafka-install.log"
  ADDRESS="127.0.0.1:$PORT"
}

# ---------------------------------------------------------------------------------------------
# Probing: does something at 127.0.0.1:PORT answer a Kafka Metadata request?
# ---------------------------------------------------------------------------------------------
# Sends a Metadata v4 request (understood by Kafka 1.0 .. 4.x) and parses the broker list.
# Exit: 0 broker answered with >= 1 broker, 1 nothing listens, 2 answered but no broker
# registered yet, 3 listener is not Kafka, 4 listener accepted but did not answer in time.
# shellcheck disable=SC2016
KAFKA_PROBE_PY='
import socket, struct, sys
host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
CORR = 0x48554221
def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b
req = struct.pack(">hhi", 3, 4, CORR) + kstr("hub-infra-probe") + struct.pack(">ib", 0, 0)
try:
    sock = socket.create_connection((host, port), timeout=timeout)
except OSError as exc:
    print(f"nothing listens ({exc.strerror or exc})")
    sys.exit(1)
try:
    sock.settimeout(timeout)
    sock.sendall(struct.pack(">i", len(req)) + req)
    def recv(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed without a Kafka response")
            buf += chunk
        return buf
    (size,) = struct.unpack(">i", recv(4))
    if not 8 <= size <= 64 * 1024 * 1024:
        raise ValueError(f"implausible response size {size}")
    data = recv(size)
    pos = 0
    def take(fmt):
        global pos
        vals = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return vals[0] if len(vals) == 1 else vals
    def take_str():
        global pos
        n = take(">h")
        if n < 0:
            return None
        s = data[pos:pos + n].decode("utf-8", "replace")
        pos += n
        return s
    if take(">i") != CORR:
        raise ValueError("response correlation id mismatch")
    take(">i")  # throttle_time_ms
    brokers = []
    for _ in range(take(">i")):
        node, bhost, bport = take(">i"), take_str(), take(">i")
        take_str()  # rack
        brokers.append(f"{node}@{bhost}:{bport}")
    cluster_id = take_str()
    controller = take(">i")
except socket.timeout:
    print(f"something listens but gave no Kafka answer within {timeout:g}s")
    sys.exit(4)
except (OSError, EOFError, ValueError, struct.error) as exc:
    print(f"something listens but it is not Kafka ({exc})")
    sys.exit(3)
finally:
    sock.close()
if not brokers:
    print(f"Kafka answered but no broker is registered yet (cluster {cluster_id})")
    sys.exit(2)
listing = ",".join(brokers)
print(f"brokers={listing} controller={controller} cluster_id={cluster_id}")
'

PROBE_MSG=""
# probe [timeout_seconds] -> sets PROBE_MSG, returns the probe exit code
probe() {
  local timeout="${1:-3}" rc=0
  if command -v python3 >/dev/null 2>&1; then
    PROBE_MSG="$(python3 -c "$KAFKA_PROBE_PY" 127.0.0.1 "$PORT" "$timeout" 2>&1)" || rc=$?
  else
    # Fallback without Python: Kafka's own ApiVersions client (slower: one JVM per call).
    if ! port_open "$PORT"; then
      PROBE_MSG="nothing listens"
      return 1
    fi
    local libs
    libs="$(installed_libs)" || { PROBE_MSG="python3 missing and Kafka not installed"; return 4; }
    local line
    line="$(timeout "$((timeout + 20))" java -Dlog4j.configuration="file:$TOOLS_LOG4J" \
      -cp "$libs/*" kafka.admin.BrokerApiVersionsCommand --bootstrap-server "$ADDRESS" 2>/dev/null |
      grep -m 1 ' (id: ')" || true
    if [[ -n "$line" ]]; then
      PROBE_MSG="answers ApiVersions: ${line% -> (}"
    else
      PROBE_MSG="something listens but gave no Kafka ApiVersions answer"
      rc=4
    fi
  fi
  return "$rc"
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# Our process (pid file)
# ---------------------------------------------------------------------------------------------
OUR_PID=""
# True if the pid file names a live broker process started with our properties file.
ours_alive() {
  OUR_PID=""
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *kafka.Kafka* && "$cmdline" == *"$PROPS"* ]] || return 1
  OUR_PID="$pid"
}

# ---------------------------------------------------------------------------------------------
# Install: Maven Central jars -> .cache/kafka-<version>/libs (marker file = complete install)
# ---------------------------------------------------------------------------------------------
KAFKA_VERSION=""
KAFKA_LIBS=""
pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

# installed_libs: print the libs dir of a complete install of a wanted version, if any.
installed_libs() {
  local v dir hash
  hash="$(pom_hash)"
  for v in ${HUB_KAFKA_VERSION:-3.9.1 3.9.2}; do
    dir="$CACHE_DIR/kafka-$v"
    if [[ -f "$dir/.installed" ]] && grep -qx "pom_sha256=$hash" "$dir/.installed" &&
      [[ -f "$dir/libs/kafka_2.13-$v.jar" ]]; then
      printf '%s\n' "$dir/libs"
      return 0
    fi
  done
  return 1
}

ensure_installed() {
  local libs
  if libs="$(installed_libs)"; then
    KAFKA_LIBS="$libs"
    KAFKA_VERSION="$(basename "$(dirname "$libs")")"
    KAFKA_VERSION="${KAFKA_VERSION#kafka-}"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "Maven (mvn) is needed once to download the Kafka jars, and it is not installed" \
      "install it (Debian/Ubuntu: apt-get install -y maven) and re-run: scripts/kafka.sh up"
  mkdir -p "$CACHE_DIR" "$LOG_DIR"
  local v dir tmp started
  : >"$INSTALL_LOG"
  for v in ${HUB_KAFKA_VERSION:-3.9.1 3.9.2}; do
    dir="$CACHE_DIR/kafka-$v"
    tmp="$dir/libs.partial"
    say "downloading Kafka $v jars with Maven (first run only)..."
    started=$SECONDS
    rm -rf "$tmp"
    mkdir -p "$dir"
    if mvn -B -q -f "$POM" -Dmaven.repo.local="$M2_REPO" -Dkafka.version="$v" \
      "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime \
      -DoutputDirectory="$tmp" >>"$INSTALL_LOG" 2>&1 &&
      [[ -f "$tmp/kafka_2.13-$v.jar" ]]; then
      rm -rf "$dir/libs"
      mv "$tmp" "$dir/libs"
      {
        echo "version=$v"
        echo "pom_sha256=$(pom_hash)"
        echo "jars=$(find "$dir/libs" -name '*.jar' | wc -l)"
        echo "installed_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
      } >"$dir/.installed"
      KAFKA_VERSION="$v"
      KAFKA_LIBS="$dir/libs"
      say "installed Kafka $v ($(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars) in $((SECONDS - started))s -> ${KAFKA_LIBS#"$REPO_ROOT"/}"
      return 0
    fi
    rm -rf "$tmp"
    warn "Maven could not fetch Kafka $v (details in ${INSTALL_LOG#"$REPO_ROOT"/})"
  done
  tail -n 20 "$INSTALL_LOG" >&2 || true
  die "could not download the Kafka jars from Maven Central" \
    "check network access to Maven Central and ${INSTALL_LOG#"$REPO_ROOT"/}, then re-run: scripts/kafka.sh up" \
    "or point HUB_KAFKA_BOOTSTRAP at an existing Kafka cluster"
}

check_java() {
  command -v java >/dev/null 2>&1 ||
    die "java is not installed; Kafka needs Java 11+ (17 recommended)" \
      "install it (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless) and re-run"
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n 1)"
  major="${major#1.}"
  if [[ "$major" =~ ^[0-9]+$ ]] && ((major < 11)); then
    die "java $major is too old; Kafka 3.9 needs Java 11+ (17 recommended)"
  fi
}

# ---------------------------------------------------------------------------------------------
# Config generation + storage format
# ---------------------------------------------------------------------------------------------
write_config() {
  mkdir -p "$CONF_DIR" "$DATA_DIR" "$LOG_DIR"
  local tmp="$PROPS.tmp"
  {
    echo "# GENERATED by scripts/kafka.sh from scripts/kafka/server.properties; edit the template."
    awk -v listeners="PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT" \
      -v advertised="PLAINTEXT://127.0.0.1:$PORT" \
      -v voters="1@127.0.0.1:$CONTROLLER_PORT" \
      -v logdirs="$DATA_DIR" '
      /^listeners=/            { print "listeners=" listeners; next }
      /^advertised.listeners=/ { print "advertised.listeners=" advertised; next }
      /^controller.quorum.voters=/ { print "controller.quorum.voters=" voters; next }
      /^log.dirs=/             { print "log.dirs=" logdirs; next }
      { print }' "$PROPS_TEMPLATE"
  } >"$tmp"
  mv "$tmp" "$PROPS"
  cat >"$TOOLS_LOG4J" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stderr.Target=System.err
EOF
}

kafka_tool() {
  java -Xmx512m -Dlog4j.configuration="file:$TOOLS_LOG4J" -cp "$KAFKA_LIBS/*" "$@"
}

ensure_formatted() {
  local meta="$DATA_DIR/meta.properties" cid=""
  if [[ -f "$meta" ]]; then
    cid="$(sed -n 's/^cluster.id=//p' "$meta")"
    [[ -f "$CLUSTER_ID_FILE" ]] || printf '%s\n' "$cid" >"$CLUSTER_ID_FILE"
    return 0
  fi
  if [[ -s "$CLUSTER_ID_FILE" ]]; then
    cid="$(tr -d '[:space:]' <"$CLUSTER_ID_FILE")"
  else
    cid="$(kafka_tool kafka.tools.StorageTool random-uuid | tail -n 1 | tr -d '[:space:]')"
    [[ "$cid" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "could not generate a cluster id (got '$cid')"
    printf '%s\n' "$cid" >"$CLUSTER_ID_FILE"
  fi
  say "formatting storage in ${DATA_DIR#"$REPO_ROOT"/} (cluster id $cid, first start only)..."
  local out
  if ! out="$(kafka_tool kafka.tools.StorageTool format -t "$cid" -c "$PROPS" --ignore-formatted 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "formatting the Kafka storage failed" \
      "if ${DATA_DIR#"$REPO_ROOT"/} holds data from another cluster, remove it (rm -rf ${DATA_DIR#"$REPO_ROOT"/} ${CLUSTER_ID_FILE#"$REPO_ROOT"/}) and re-run"
  fi
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
print_log_tail() {
  warn "last 30 lines of ${LOG_FILE#"$REPO_ROOT"/}:"
  tail -n 30 "$LOG_FILE" >&2 2>/dev/null || warn "(no log file)"
  if [[ -s "$OUT_FILE" ]]; then
    warn "last 10 lines of ${OUT_FILE#"$REPO_ROOT"/} (JVM stdout/stderr):"
    tail -n 10 "$OUT_FILE" >&2 || true
  fi
}

# wait_ready PID: poll until the broker answers; PID must stay alive.
wait_ready() {
  local pid="$1" started=$SECONDS last_report=$SECONDS rc
  while :; do
    rc=0
    probe 2 || rc=$?
    if [[ "$rc" == 0 ]]; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      print_log_tail
      rm -f "$PID_FILE"
      die "the broker process (pid $pid) exited during startup" \
        "see ${LOG_FILE#"$REPO_ROOT"/} and ${OUT_FILE#"$REPO_ROOT"/}; fix the cause and re-run: scripts/kafka.sh up"
    fi
    if ((SECONDS - started >= START_TIMEOUT)); then
      print_log_tail
      die "broker (pid $pid) did not answer at $ADDRESS within ${START_TIMEOUT}s (last probe: $PROBE_MSG)" \
        "it is still running; check ${LOG_FILE#"$REPO_ROOT"/}, then 'scripts/kafka.sh down' and 'scripts/kafka.sh up'" \
        "(a slow machine may need HUB_KAFKA_START_TIMEOUT=180)"
    fi
    if ((SECONDS - last_report >= 5)); then
      say "waiting for the broker to answer at $ADDRESS... $((SECONDS - started))s ($PROBE_MSG)"
      last_report=$SECONDS
    fi
    sleep 1
  done
}

cmd_up() {
  if [[ -n "$EXTERNAL" ]]; then
    say "external cluster configured (HUB_KAFKA_BOOTSTRAP=$EXTERNAL); starting nothing"
    return 0
  fi
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  # One `up`/`down` at a time per instance.
  exec 9>"$LOCK_FILE"
  if command -v flock >/dev/null 2>&1; then
    flock -w 120 9 || die "another scripts/kafka.sh holds ${LOCK_FILE#"$REPO_ROOT"/} for 120s; try again"
  fi

  if ours_alive; then
    wait_ready "$OUR_PID"
    say "already up at $ADDRESS (pid $OUR_PID)"
    return 0
  fi
  [[ ! -f "$PID_FILE" ]] || { warn "removing stale pid file ${PID_FILE#"$REPO_ROOT"/}"; rm -f "$PID_FILE"; }

  local rc=0
  probe 3 || rc=$?
  case "$rc" in
    0)
      say "a Kafka broker not started by this script already answers at $ADDRESS; reusing it ($PROBE_MSG)"
      return 0
      ;;
    1) ;;
    *)
      die "port $PORT is in use by something that does not answer as a Kafka broker: $PROBE_MSG" \
        "stop that program, or set HUB_KAFKA_PORT (and HUB_KAFKA_CONTROLLER_PORT) to free ports and re-run: scripts/kafka.sh up"
      ;;
  esac
  if port_open "$CONTROLLER_PORT"; then
    die "controller port $CONTROLLER_PORT is already in use by another program" \
      "stop it, or set HUB_KAFKA_CONTROLLER_PORT to a free port and re-run: scripts/kafka.sh up"
  fi

  check_java
  ensure_installed
  write_config
  ensure_formatted

  say "starting Kafka $KAFKA_VERSION (KRaft, node 1) at $ADDRESS, controller 127.0.0.1:$CONTROLLER_PORT..."
  local started=$SECONDS
  : >"$OUT_FILE"
  # shellcheck disable=SC2086,SC2016 # HEAP_OPTS is deliberately word-split; $$ is for the child
  setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-launcher "$PID_FILE" \
    java $HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOG_DIR" -Dhub.kafka.log.file="$LOG_FILE" \
    -Dlog4j.configuration="file:$LOG4J_PROPS" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$PROPS" \
    </dev/null >>"$OUT_FILE" 2>&1 9>&- &
  local launcher=$! pid=""
  # The launcher writes its own pid (= the JVM's, via exec) into the pid file.
  for _ in $(seq 1 50); do
    [[ -s "$PID_FILE" ]] && pid="$(tr -dc '0-9' <"$PID_FILE")" && [[ -n "$pid" ]] && break
    sleep 0.1
  done
  [[ -n "$pid" ]] || pid="$launcher"
  printf '%s\n' "$pid" >"$PID_FILE"
  wait_ready "$pid"
  say "up at $ADDRESS (pid $pid) in $((SECONDS - started))s; logs: ${LOG_FILE#"$REPO_ROOT"/}"
}

cmd_down() {
  if [[ -n "$EXTERNAL" ]]; then
    say "external cluster configured (HUB_KAFKA_BOOTSTRAP=$EXTERNAL); nothing to stop"
    return 0
  fi
  mkdir -p "$RUN_DIR"
  exec 9>"$LOCK_FILE"
  if command -v flock >/dev/null 2>&1; then
    flock -w 120 9 || die "another scripts/kafka.sh holds ${LOCK_FILE#"$REPO_ROOT"/} for 120s; try again"
  fi
  if ! ours_alive; then
    if [[ -f "$PID_FILE" ]]; then
      rm -f "$PID_FILE"
      say "not running (removed stale pid file)"
    else
      say "not running (no pid file)"
    fi
    if probe 2 >/dev/null; then
      say "note: a broker not started by this script answers at $ADDRESS; leaving it alone"
    fi
    return 0
  fi
  local pid="$OUR_PID"
  say "stopping broker (pid $pid)..."
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null && ((waited < 300)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "broker did not stop within 30s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$PID_FILE"
  say "stopped (was pid $pid) after $((waited / 10))s"
}

cmd_status() {
  if [[ -n "$EXTERNAL" ]]; then
    say "external (HUB_KAFKA_BOOTSTRAP=$EXTERNAL); not managed by this script"
    return 0
  fi
  local rc=0
  if ours_alive; then
    probe 2 || rc=$?
    if [[ "$rc" == 0 ]]; then
      say "running at $ADDRESS (pid $OUR_PID, started by scripts/kafka.sh; $PROBE_MSG)"
      return 0
    fi
    say "process running (pid $OUR_PID) but not answering at $ADDRESS: $PROBE_MSG"
    return 3
  fi
  probe 2 || rc=$?
  if [[ "$rc" == 0 ]]; then
    say "running at $ADDRESS (not started by this script; $PROBE_MSG)"
    return 0
  fi
  say "not running ($ADDRESS: $PROBE_MSG)"
  return 3
}

cmd_topics() {
  if [[ -n "$EXTERNAL" ]]; then
    die "external cluster configured (HUB_KAFKA_BOOTSTRAP=$EXTERNAL); use your own tools for it"
  fi
  check_java
  KAFKA_LIBS="$(installed_libs)" || die "Kafka is not installed yet; run: scripts/kafka.sh up"
  mkdir -p "$CONF_DIR"
  [[ -f "$TOOLS_LOG4J" ]] || write_config
  kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$ADDRESS" "$@"
}

main() {
  local cmd="${1:-}"
  [[ $# -eq 0 ]] || shift
  case "$cmd" in
    up | down | status | topics) ;;
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
  "cmd_$cmd" "$@"
}

main "$@"
