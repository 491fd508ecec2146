#!/usr/bin/env bash
# Native infrastructure for local development and CI, without Docker: Kafka (KRaft), a
# MongoDB-wire server, Redis and RabbitMQ, all on 127.0.0.1, state under .stack/ at the repo root.
#
#   infra/native/stack.sh up [--brokers 1|3] [COMPONENT...]   install what is missing, start, wait
#   infra/native/stack.sh down [--purge] [COMPONENT...]       stop what this script started
#   infra/native/stack.sh reset                               down --purge (deletes .stack/data)
#   infra/native/stack.sh status                              up/down per component (exit 3 if any down)
#   infra/native/stack.sh logs [COMPONENT|PROCESS]            tail .stack/logs/*.log (follows on a tty)
#   infra/native/stack.sh env                                 export lines for the services' config
#   infra/native/stack.sh kafka-topics ARGS...                org.apache.kafka.tools.TopicCommand
#   infra/native/stack.sh kafka-console-producer|kafka-console-consumer ARGS...
#   infra/native/stack.sh rabbitmqctl|rabbitmq-diagnostics ARGS...   against our RabbitMQ node
# COMPONENT: kafka, mongo, redis, rabbitmq, prometheus (default: all).
#
# Which pieces, and why:
#   Kafka 3.9.x from Maven Central jars (infra/native/kafka/pom.xml), since no release tarball can
#     be downloaded here; combined broker+controller nodes in KRaft mode, 1 or 3 of them.
#   mongo-java-server 1.47 (H2 backend, a file under .stack/data/mongo) as the MongoDB-wire
#     server, from Maven Central with a small launcher (infra/native/mongo-wire) that runs each
#     collection's commands under that collection's lock, because mongod is not packaged for
#     Debian 12. FerretDB 1.24
#     (SQLite) was tried first: it applies updates as read-modify-write (concurrent $inc lost
#     updates), and even with writes serialized in front of it, a 50-statement bulk update
#     hung it for good. See docs/infrastructure.md.
#   Redis and RabbitMQ from Debian packages, but as our own foreground processes with our own
#     config and data dirs; no systemd is involved. If a package's postinstall started the system
#     service on the port we need, that service is stopped (it would hold the port and use
#     /var/lib data we don't control). Anything else on our ports is an error, never killed.
#   Prometheus from Debian's package the same way, scraping the services and each broker's JMX
#     exporter agent (infra/native/components/prometheus.sh).
#
# Environment (defaults): KAFKA_PORT (9092), KAFKA_PORTS (19092,29092,39092 for 3 brokers; each
#   broker's controller listens on port+1), KAFKA_BROKERS or STACK_KAFKA_BROKERS (1; the services
#   use KAFKA_BROKERS for an address list, so a list is read as "that many brokers"),
#   MONGO_PORT (27017), REDIS_PORT (6379), RABBITMQ_PORT (5672), RABBITMQ_MGMT_PORT (15672;
#   RABBITMQ_MANAGEMENT=0 disables the plugin), RABBITMQ_DIST_PORT (RABBITMQ_PORT+20000),
#   RABBITMQ_NODENAME (chat@localhost), STACK_DIR (<repo>/.stack),
#   XDG_CACHE_HOME (~/.cache; built artifacts go to $XDG_CACHE_HOME/chat-cluster),
#   KAFKA_HEAP_OPTS (-Xms256m -Xmx512m), MONGO_HEAP_OPTS (-Xms128m -Xmx1g), *_START_TIMEOUT seconds,
#   PROMETHEUS_PORT (9090), PROMETHEUS_RETENTION (3d).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
: "${STACK_DIR:=$ROOT/.stack}"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/chat-cluster"
HOST=127.0.0.1
COMPONENTS=(kafka mongo redis rabbitmq prometheus)

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_PORTS="${KAFKA_PORTS:-19092,29092,39092}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
MONGO_PORT="${MONGO_PORT:-27017}"
REDIS_PORT="${REDIS_PORT:-6379}"
RABBITMQ_PORT="${RABBITMQ_PORT:-5672}"
RABBITMQ_MGMT_PORT="${RABBITMQ_MGMT_PORT:-15672}"
RABBITMQ_DIST_PORT="${RABBITMQ_DIST_PORT:-$((RABBITMQ_PORT + 20000))}"
RABBITMQ_NODENAME="${RABBITMQ_NODENAME:-chat@localhost}"
RABBITMQ_MANAGEMENT="${RABBITMQ_MANAGEMENT:-1}"
MONGO_HEAP_OPTS="${MONGO_HEAP_OPTS:--Xms128m -Xmx1g}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
MONGO_START_TIMEOUT="${MONGO_START_TIMEOUT:-30}"
REDIS_START_TIMEOUT="${REDIS_START_TIMEOUT:-30}"
RABBITMQ_START_TIMEOUT="${RABBITMQ_START_TIMEOUT:-120}"

RABBITMQ_BIN=/usr/lib/rabbitmq/bin # the Debian wrappers in /usr/sbin would `su rabbitmq`

CONF="$STACK_DIR/conf"
DATA="$STACK_DIR/data"
LOGS="$STACK_DIR/logs"

# shellcheck source=components/prometheus.sh
source "$HERE/components/prometheus.sh"

say() { printf '%s\n' "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}
sha() { cat "$@" | sha256sum | cut -c1-12; }

# ---------------------------------------------------------------------------------------------
# Installing what is missing
# ---------------------------------------------------------------------------------------------

APT_UPDATED=0
apt_install() {
  (($# > 0)) || return 0
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "need root (or sudo) to apt-get install $*"
    sudo=(sudo)
  fi
  say "installing Debian packages: $*"
  # DPkg::Lock::Timeout: wait for a concurrent apt/dpkg instead of failing on its lock.
  if ((APT_UPDATED == 0)); then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -qq update >&2
    APT_UPDATED=1
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -qq install -y --no-install-recommends "$@" >&2
}

# ensure_tools COMPONENT... : the Debian packages each component needs, installed in one go.
ensure_tools() {
  local -a pkgs=()
  local c
  command -v node >/dev/null || pkgs+=(nodejs) # readiness probes (probe.mjs)
  for c in "$@"; do
    case "$c" in
    kafka)
      command -v java >/dev/null || pkgs+=(openjdk-17-jre-headless)
      if ! kafka_libs_ready; then command -v mvn >/dev/null || pkgs+=(maven); fi
      ;;
    redis) command -v redis-server >/dev/null && command -v redis-cli >/dev/null || pkgs+=(redis-server redis-tools) ;;
    prometheus) command -v prometheus >/dev/null || pkgs+=(prometheus) ;;
    rabbitmq) [[ -x "$RABBITMQ_BIN/rabbitmq-server" ]] || pkgs+=(rabbitmq-server) ;;
    mongo)
      command -v javac >/dev/null || pkgs+=(openjdk-17-jdk-headless)
      command -v mvn >/dev/null || pkgs+=(maven)
      ;;
    esac
  done
  ((${#pkgs[@]} == 0)) || apt_install "${pkgs[@]}"
}

# with_lock NAME CMD... : runs CMD holding a lock in the shared cache, so two checkouts (or two
# concurrent `up`s) don't build the same cached artifact at once.
with_lock() {
  local name="$1"
  shift
  mkdir -p "$CACHE_DIR"
  (
    flock 9
    "$@"
  ) 9>"$CACHE_DIR/.$name.lock"
}

# ---------------------------------------------------------------------------------------------
# Ports: ours, the Debian services', or somebody else's
# ---------------------------------------------------------------------------------------------

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# port_pid PORT -> pid of the process listening on PORT (needs ss; empty if unknown).
port_pid() {
  command -v ss >/dev/null || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2
}

# free_port COMPONENT PORT SERVICE_USER SERVICE : before starting COMPONENT on PORT. If a
# Debian-packaged service (running as SERVICE_USER) holds the port, stop it; otherwise fail.
free_port() {
  local comp="$1" port="$2" svc_user="$3" svc="$4" pid user
  port_open "$port" || return 0
  pid="$(port_pid "$port")"
  user=""
  [[ -n "$pid" ]] && user="$(stat -c %U "/proc/$pid" 2>/dev/null || true)"
  if [[ -n "$svc_user" && -n "$pid" && "$user" == "$svc_user" ]]; then
    say "$comp: port $port is held by the system $svc service (pid $pid, user $user); stopping it"
    service "$svc" stop >&2 2>&1 || true
    local deadline=$((SECONDS + 30))
    while port_open "$port" && ((SECONDS < deadline)); do sleep 0.5; done
    if port_open "$port"; then
      say "$comp: 'service $svc stop' did not free port $port; sending SIGTERM to pid $pid"
      kill -TERM "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 20))
      while port_open "$port" && ((SECONDS < deadline)); do sleep 0.5; done
    fi
    port_open "$port" && die "$comp: port $port is still in use"
    return 0
  fi
  local who="unknown process (install iproute2 for details)"
  [[ -n "$pid" ]] && who="pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120))"
  die "$comp: port $port is already in use by $who; stop it or choose another port (see the env vars in $0)"
}

# ---------------------------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------------------------

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/kafka/pom.xml")"
KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"

kafka_libs_ready() { [[ "$(cat "$KAFKA_HOME/.complete" 2>/dev/null)" == "$(sha "$HERE/kafka/pom.xml")" ]]; }

_kafka_fetch_libs() {
  kafka_libs_ready && return 0
  command -v mvn >/dev/null || die "kafka: mvn is missing"
  local tmp
  tmp="$(mktemp -d "$CACHE_DIR/kafka-fetch.XXXXXX")"
  # Run from a copy so Maven leaves nothing (target/) in the source tree.
  cp "$HERE/kafka/pom.xml" "$tmp/pom.xml"
  mvn -q -B -f "$tmp/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tmp/libs" ||
    {
      rm -rf "$tmp"
      die "kafka: fetching the Kafka jars with Maven failed"
    }
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_HOME"
  mv "$tmp/libs" "$KAFKA_LIBS"
  rm -rf "$tmp"
  sha "$HERE/kafka/pom.xml" >"$KAFKA_HOME/.complete"
}

kafka_prepare() {
  kafka_libs_ready || with_lock kafka _kafka_fetch_libs
  jmx_agent_prepare
  command -v java >/dev/null || die "kafka: java is missing"
}

# kafka_mode: the running mode (1 or 3), empty if no broker of ours is running.
kafka_mode() {
  if proc_running kafka-1b; then
    echo 1
  elif proc_running kafka-3b-1 || proc_running kafka-3b-2 || proc_running kafka-3b-3; then
    echo 3
  fi
}

# kafka_names MODE -> process names; kafka_port MODE ID -> client port of broker ID.
kafka_names() { if [[ "$1" == 1 ]]; then echo kafka-1b; else echo kafka-3b-1 kafka-3b-2 kafka-3b-3; fi; }
kafka_port() {
  if [[ "$1" == 1 ]]; then
    echo "$KAFKA_PORT"
  else
    local -a ports
    IFS=, read -r -a ports <<<"$KAFKA_PORTS"
    ((${#ports[@]} == 3)) || die "KAFKA_PORTS must list 3 ports, got '$KAFKA_PORTS'"
    echo "${ports[$(($2 - 1))]}"
  fi
}
kafka_bootstrap() {
  local mode="$1" id out=""
  if [[ "$mode" == 1 ]]; then
    echo "$HOST:$KAFKA_PORT"
    return
  fi
  for id in 1 2 3; do out+="${out:+,}$HOST:$(kafka_port 3 "$id")"; done
  echo "$out"
}

_kafka_log4j() {
  cat <<'EOF'
# Brokers log to stdout (= .stack/logs/kafka-*.log) at WARN; the few INFO lines kept say which
# version started and when the node is ready ("Kafka Server started").
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=INFO
EOF
}

# _kafka_config MODE ID DATADIR: server.properties for one combined broker+controller node.
_kafka_config() {
  local mode="$1" id="$2" data="$3" port cport voters="" rf minisr i
  port="$(kafka_port "$mode" "$id")"
  cport=$((port + 1))
  if [[ "$mode" == 1 ]]; then
    voters="1@$HOST:$cport"
    rf=1 minisr=1
  else
    for i in 1 2 3; do voters+="${voters:+,}$i@$HOST:$(($(kafka_port 3 "$i") + 1))"; done
    rf=3 minisr=2
  fi
  cat <<EOF
# Generated by infra/native/stack.sh; edits are overwritten on the next 'up'.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$cport
advertised.listeners=PLAINTEXT://$HOST:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$data

# Topics are created explicitly by the services.
auto.create.topics.enable=false
num.partitions=12
default.replication.factor=$rf
min.insync.replicas=$minisr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$minisr
transaction.state.log.num.partitions=12
group.initial.rebalance.delay.ms=0

# Small footprint for a dev box (2 cores).
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.segment.bytes=16777216
log.retention.hours=24
log.retention.bytes=268435456
log.retention.check.interval.ms=60000
EOF
}

# _kafka_format CONFIG DATADIR CLUSTER_ID: KRaft storage must be formatted once per data dir.
_kafka_format() {
  [[ -f "$2/meta.properties" ]] && return 0
  java -Xmx256m -cp "$KAFKA_LIBS/*" -Dlog4j.configuration="file:$CONF/kafka-tools-log4j.properties" \
    kafka.tools.StorageTool format -t "$3" -c "$1" --ignore-formatted >/dev/null ||
    die "kafka: formatting $2 failed"
}

kafka_start() {
  local mode="$1" other id name data conf cid_file cid
  other=$([[ "$mode" == 1 ]] && echo 3 || echo 1)
  if [[ "$(kafka_mode)" == "$other" ]]; then
    say "kafka: stopping the $other-broker cluster to switch to $mode broker(s)"
    # shellcheck disable=SC2046
    proc_stop $(kafka_names "$other")
  fi

  mkdir -p "$CONF" "$DATA" "$LOGS"
  _kafka_log4j >"$CONF/kafka-log4j.properties"
  printf 'log4j.rootLogger=WARN, stderr\nlog4j.appender.stderr=org.apache.log4j.ConsoleAppender\nlog4j.appender.stderr.Target=System.err\nlog4j.appender.stderr.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stderr.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n\n' \
    >"$CONF/kafka-tools-log4j.properties"

  # One cluster id per mode, kept next to the data so --purge resets both together.
  cid_file="$DATA/kafka-${mode}b.cluster-id"
  if [[ ! -s "$cid_file" ]]; then
    head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' >"$cid_file"
  fi
  cid="$(cat "$cid_file")"

  local -a pids=()
  id=0
  for name in $(kafka_names "$mode"); do
    id=$((id + 1))
    proc_running "$name" && continue
    free_port kafka "$(kafka_port "$mode" "$id")" "" ""
    free_port kafka "$(($(kafka_port "$mode" "$id") + 1))" "" "" # its controller listener
    free_port kafka "$(jmx_agent_port "$(kafka_port "$mode" "$id")")" "" "" # its JMX exporter
    data="$DATA/$name"
    conf="$CONF/$name.properties"
    mkdir -p "$data"
    _kafka_config "$mode" "$id" "$data" >"$conf"
    _kafka_format "$conf" "$data" "$cid" &
    pids+=($!)
  done
  local p
  for p in "${pids[@]}"; do wait "$p" || exit 1; done

  id=0
  for name in $(kafka_names "$mode"); do
    id=$((id + 1))
    # shellcheck disable=SC2086,SC2046 # KAFKA_HEAP_OPTS is a list of JVM flags; the agent flag has no spaces
    proc_start "$name" "$LOGS/$name.log" -- java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true $(kafka_jmx_args "$(kafka_port "$mode" "$id")") \
      -Dlog4j.configuration="file:$CONF/kafka-log4j.properties" -Dkafka.logs.dir="$LOGS" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$CONF/$name.properties"
  done
  prometheus_kafka_targets "$mode"
}

kafka_wait() {
  local mode="$1" id=0 name port
  for name in $(kafka_names "$mode"); do
    id=$((id + 1))
    port="$(kafka_port "$mode" "$id")"
    wait_port "$HOST" "$port" "$KAFKA_START_TIMEOUT" "$name"
    wait_log "$KAFKA_START_TIMEOUT" "$name" 'Kafka Server started'
    # The broker answers metadata and sees every broker of the cluster (all unfenced).
    wait_cmd "$KAFKA_START_TIMEOUT" "$name" -- node "$HERE/probe.mjs" kafka "$HOST" "$port" "$mode"
  done
}

kafka_down() {
  local -a all
  read -r -a all <<<"$(kafka_names 1) $(kafka_names 3)"
  # All brokers at once: stopping them one by one makes the last ones wait for a lost quorum.
  proc_stop "${all[@]}"
}

kafka_line() {
  local mode
  mode="$(kafka_mode)"
  if [[ -z "$mode" ]]; then
    printf '%-9s down\n' kafka
    return 1
  fi
  local name id=0 ok=1
  for name in $(kafka_names "$mode"); do
    id=$((id + 1))
    proc_running "$name" && port_open "$(kafka_port "$mode" "$id")" || ok=0
  done
  if ((ok)); then
    printf '%-9s up    %s (Kafka %s, KRaft, %s broker(s))\n' kafka "$(kafka_bootstrap "$mode")" "$KAFKA_VERSION" "$mode"
  else
    printf '%-9s down  (%s-broker cluster partly running: %s)\n' kafka "$mode" "$(kafka_bootstrap "$mode")"
    return 1
  fi
}

# kafka_tool CLASS ARGS... : a Kafka CLI class with our jars; --bootstrap-server added if absent.
kafka_tool() {
  local cls="$1" mode
  shift
  kafka_libs_ready || die "kafka jars not fetched yet: run '$0 up kafka' first"
  mode="$(kafka_mode)"
  [[ -n "$mode" ]] || die "kafka is not running (run '$0 up')"
  local -a extra=()
  [[ " $* " == *" --bootstrap-server "* ]] || extra=(--bootstrap-server "$(kafka_bootstrap "$mode")")
  mkdir -p "$CONF"
  [[ -f "$CONF/kafka-tools-log4j.properties" ]] || printf 'log4j.rootLogger=WARN\n' >"$CONF/kafka-tools-log4j.properties"
  exec java -Xmx256m -cp "$KAFKA_LIBS/*" -Dlog4j.configuration="file:$CONF/kafka-tools-log4j.properties" \
    "$cls" "${extra[@]}" "$@"
}

# ---------------------------------------------------------------------------------------------
# MongoDB wire: mongo-java-server
# ---------------------------------------------------------------------------------------------

MONGO_SRC="$HERE/mongo-wire"
# Keyed by the pom and the launcher source: a change to either rebuilds, and every clone of
# the same revision shares one build.
MONGO_HOME="$CACHE_DIR/mongo-wire-$(sha "$MONGO_SRC/pom.xml" "$MONGO_SRC/MongoWireServer.java")"

_mongo_build() {
  [[ -f "$MONGO_HOME/.complete" ]] && return 0
  command -v mvn >/dev/null || die "mongo: mvn is missing"
  command -v javac >/dev/null || die "mongo: javac (a JDK) is missing"
  say "mongo: fetching mongo-java-server and compiling the launcher (first time only)"
  local tmp
  tmp="$(mktemp -d "$CACHE_DIR/mongo-wire-build.XXXXXX")"
  cp "$MONGO_SRC/pom.xml" "$tmp/pom.xml"
  { mvn -q -B -f "$tmp/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tmp/libs" &&
    javac -d "$tmp/classes" -cp "$tmp/libs/*" "$MONGO_SRC/MongoWireServer.java"; } ||
    {
      rm -rf "$tmp"
      die "mongo: building the Mongo-wire server failed"
    }
  rm -rf "$MONGO_HOME"
  mkdir -p "$MONGO_HOME"
  mv "$tmp/libs" "$tmp/classes" "$MONGO_HOME/"
  rm -rf "$tmp"
  touch "$MONGO_HOME/.complete"
}

mongo_prepare() {
  [[ -f "$MONGO_HOME/.complete" ]] && return 0
  with_lock mongo-wire _mongo_build
}

mongo_start() {
  proc_running mongo && return 0
  free_port mongo "$MONGO_PORT" "" ""
  mkdir -p "$DATA/mongo" "$LOGS"
  proc_start mongo "$LOGS/mongo.log" -- java $MONGO_HEAP_OPTS -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$MONGO_HOME/classes:$MONGO_HOME/libs/*" MongoWireServer "$HOST" "$MONGO_PORT" "$DATA/mongo/chat.mv.db"
}

mongo_wait() {
  wait_port "$HOST" "$MONGO_PORT" "$MONGO_START_TIMEOUT" mongo
  wait_log "$MONGO_START_TIMEOUT" mongo 'mongo-wire ready'
  wait_cmd "$MONGO_START_TIMEOUT" mongo -- node "$HERE/probe.mjs" mongo "$HOST" "$MONGO_PORT"
}

mongo_down() { proc_stop mongo; }

mongo_line() {
  if proc_running mongo && port_open "$MONGO_PORT"; then
    printf '%-9s up    mongodb://%s:%s (mongo-java-server 1.47, H2)\n' mongo "$HOST" "$MONGO_PORT"
  else
    printf '%-9s down\n' mongo
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------

redis_prepare() { :; }

redis_start() {
  proc_running redis && return 0
  free_port redis "$REDIS_PORT" redis redis-server
  mkdir -p "$CONF" "$DATA/redis" "$LOGS"
  cat >"$CONF/redis.conf" <<EOF
# Generated by infra/native/stack.sh; edits are overwritten on the next 'up'.
bind $HOST
port $REDIS_PORT
protected-mode yes
daemonize no
supervised no
pidfile ""
logfile ""
dir $DATA/redis
# AOF only: durable across restarts without RDB fork snapshots.
appendonly yes
appendfsync everysec
save ""
always-show-logo no
EOF
  proc_start redis "$LOGS/redis.log" -- redis-server "$CONF/redis.conf"
}

redis_wait() {
  wait_port "$HOST" "$REDIS_PORT" "$REDIS_START_TIMEOUT" redis
  # PING fails with LOADING while the AOF is replayed.
  wait_cmd "$REDIS_START_TIMEOUT" redis -- sh -c "redis-cli -h $HOST -p $REDIS_PORT ping | grep -qx PONG"
}

redis_down() { proc_stop redis; }

redis_line() {
  if proc_running redis && port_open "$REDIS_PORT"; then
    printf '%-9s up    redis://%s:%s (Redis %s)\n' redis "$HOST" "$REDIS_PORT" "$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2)"
  else
    printf '%-9s down\n' redis
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ
# ---------------------------------------------------------------------------------------------

rabbitmq_mgmt_enabled() {
  [[ "$RABBITMQ_MANAGEMENT" != 0 ]] && compgen -G "/usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins/rabbitmq_management-*" >/dev/null
}

# rabbitmq_env: the environment for the server and its CLI tools. HOME holds the Erlang cookie
# both sides must share; RABBITMQ_CONF_ENV_FILE keeps /etc/rabbitmq/rabbitmq-env.conf out.
rabbitmq_env() {
  local base="$DATA/rabbitmq"
  mkdir -p "$base/home" "$CONF"
  : >"$CONF/rabbitmq-env.conf"
  printf '%s\n' \
    "HOME=$base/home" \
    "RABBITMQ_NODENAME=$RABBITMQ_NODENAME" \
    "RABBITMQ_NODE_IP_ADDRESS=$HOST" \
    "RABBITMQ_NODE_PORT=$RABBITMQ_PORT" \
    "RABBITMQ_DIST_PORT=$RABBITMQ_DIST_PORT" \
    "RABBITMQ_CONF_ENV_FILE=$CONF/rabbitmq-env.conf" \
    "RABBITMQ_CONFIG_FILE=$CONF/rabbitmq.conf" \
    "RABBITMQ_ADVANCED_CONFIG_FILE=$CONF/rabbitmq-advanced.config" \
    "RABBITMQ_ENABLED_PLUGINS_FILE=$CONF/rabbitmq-enabled-plugins" \
    "RABBITMQ_MNESIA_BASE=$base/mnesia" \
    "RABBITMQ_PID_FILE=$base/rabbitmq.pid" \
    "RABBITMQ_LOG_BASE=$LOGS/rabbitmq.d" \
    "RABBITMQ_LOGS=-" \
    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}" \
    "ERL_EPMD_ADDRESS=$HOST"
}

rabbitmq_prepare() { :; }

rabbitmq_start() {
  proc_running rabbitmq && return 0
  free_port rabbitmq "$RABBITMQ_PORT" rabbitmq rabbitmq-server
  mkdir -p "$CONF" "$DATA/rabbitmq" "$LOGS"
  {
    echo "# Generated by infra/native/stack.sh; edits are overwritten on the next 'up'."
    echo "listeners.tcp.default = $HOST:$RABBITMQ_PORT"
    echo "# The default (50% of RAM) trips the disk alarm on small dev disks and blocks publishers."
    echo "disk_free_limit.absolute = 50MB"
    echo "loopback_users.guest = true"
    if rabbitmq_mgmt_enabled; then
      echo "management.tcp.ip = $HOST"
      echo "management.tcp.port = $RABBITMQ_MGMT_PORT"
    fi
  } >"$CONF/rabbitmq.conf"
  if rabbitmq_mgmt_enabled; then
    echo '[rabbitmq_management].' >"$CONF/rabbitmq-enabled-plugins"
  else
    echo '[].' >"$CONF/rabbitmq-enabled-plugins"
  fi

  # Erlang nodes register with epmd (port 4369). If none runs, run our own in the foreground
  # so it is tracked and stopped like everything else (erl would otherwise daemonize one).
  if ! epmd -names >/dev/null 2>&1; then
    proc_start epmd "$LOGS/epmd.log" -- env ERL_EPMD_ADDRESS="$HOST" epmd
    wait_port "$HOST" "${ERL_EPMD_PORT:-4369}" 10 epmd
  fi

  local -a env
  mapfile -t env < <(rabbitmq_env)
  proc_start rabbitmq "$LOGS/rabbitmq.log" -- env "${env[@]}" "$RABBITMQ_BIN/rabbitmq-server"
}

rabbitmq_wait() {
  wait_port "$HOST" "$RABBITMQ_PORT" "$RABBITMQ_START_TIMEOUT" rabbitmq
  wait_cmd "$RABBITMQ_START_TIMEOUT" rabbitmq -- node "$HERE/probe.mjs" amqp "$HOST" "$RABBITMQ_PORT"
  if rabbitmq_mgmt_enabled; then
    wait_port "$HOST" "$RABBITMQ_MGMT_PORT" 30 rabbitmq
  fi
}

rabbitmq_down() {
  proc_stop rabbitmq
  # Our epmd goes too, unless another Erlang node (not ours) has registered with it meanwhile.
  if proc_running epmd; then
    if epmd -names 2>/dev/null | grep -q '^name '; then
      say "rabbitmq: leaving epmd running, other Erlang nodes use it: $(epmd -names | grep '^name ' | tr '\n' ' ')"
    else
      proc_stop epmd
    fi
  fi
}

rabbitmq_line() {
  if proc_running rabbitmq && port_open "$RABBITMQ_PORT"; then
    local mgmt=""
    rabbitmq_mgmt_enabled && mgmt=", management http://$HOST:$RABBITMQ_MGMT_PORT"
    printf '%-9s up    amqp://guest:guest@%s:%s (RabbitMQ, node %s%s)\n' rabbitmq "$HOST" "$RABBITMQ_PORT" "$RABBITMQ_NODENAME" "$mgmt"
  else
    printf '%-9s down\n' rabbitmq
    return 1
  fi
}

rabbitmq_cli() {
  local tool="$1"
  shift
  local -a env
  mapfile -t env < <(rabbitmq_env)
  exec env "${env[@]}" "$RABBITMQ_BIN/$tool" -n "$RABBITMQ_NODENAME" "$@"
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

# brokers_default: --brokers default from STACK_KAFKA_BROKERS or KAFKA_BROKERS. The services read
# KAFKA_BROKERS as a comma-separated address list; such a list counts as its number of entries.
brokers_default() {
  local v="${STACK_KAFKA_BROKERS:-${KAFKA_BROKERS:-1}}"
  if [[ "$v" == *:* ]]; then
    local -a list
    IFS=, read -r -a list <<<"$v"
    v="${#list[@]}"
  fi
  echo "$v"
}

check_components() {
  local c
  for c in "$@"; do
    [[ " ${COMPONENTS[*]} " == *" $c "* ]] || die "unknown component '$c' (known: ${COMPONENTS[*]})"
  done
}

cmd_up() {
  local brokers
  brokers="$(brokers_default)"
  local -a comps=()
  while (($# > 0)); do
    case "$1" in
    --brokers) brokers="${2:-}" && shift 2 ;;
    --brokers=*) brokers="${1#*=}" && shift ;;
    -*) die "up: unknown option $1" ;;
    *) comps+=("$1") && shift ;;
    esac
  done
  [[ "$brokers" == 1 || "$brokers" == 3 ]] || die "--brokers must be 1 or 3 (got '$brokers')"
  ((${#comps[@]} > 0)) || comps=("${COMPONENTS[@]}")
  check_components "${comps[@]}"

  local t0=$SECONDS c
  mkdir -p "$LOGS"
  ensure_tools "${comps[@]}"

  # Slow first-time work (Maven download, Go build) runs in parallel; each has its own log.
  local -a pids=() names=()
  for c in "${comps[@]}"; do
    ("${c}_prepare") >"$LOGS/prepare-$c.log" 2>&1 &
    pids+=($!)
    names+=("$c")
  done
  local i failed=0
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      say "ERROR: preparing ${names[$i]} failed; last lines of $LOGS/prepare-${names[$i]}.log:"
      tail -n 30 "$LOGS/prepare-${names[$i]}.log" >&2
      failed=1
    fi
  done
  ((failed == 0)) || exit 1

  # Start everything, then wait: the JVM and Erlang boots overlap.
  for c in "${comps[@]}"; do
    if [[ "$c" == kafka ]]; then kafka_start "$brokers"; else "${c}_start"; fi
  done
  for c in "${comps[@]}"; do
    if [[ "$c" == kafka ]]; then kafka_wait "$brokers"; else "${c}_wait"; fi
  done

  for c in "${comps[@]}"; do "${c}_line" || true; done
  say "ready in $((SECONDS - t0))s (logs: $LOGS)"
}

cmd_down() {
  local purge=0
  local -a comps=()
  while (($# > 0)); do
    case "$1" in
    --purge) purge=1 && shift ;;
    -*) die "down: unknown option $1" ;;
    *) comps+=("$1") && shift ;;
    esac
  done
  ((${#comps[@]} > 0)) || comps=("${COMPONENTS[@]}")
  check_components "${comps[@]}"

  # In parallel: a 3-broker Kafka and RabbitMQ each take a few seconds to shut down cleanly.
  local c
  local -a pids=()
  for c in "${comps[@]}"; do
    "${c}_down" &
    pids+=($!)
  done
  local p rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=1; done

  if ((purge)); then
    if ((${#comps[@]} == ${#COMPONENTS[@]})); then
      rm -rf "$DATA"
      say "deleted $DATA"
    else
      for c in "${comps[@]}"; do
        case "$c" in
        kafka) rm -rf "$DATA"/kafka-* ;;
        *) rm -rf "${DATA:?}/$c" ;;
        esac
      done
      say "deleted the data of: ${comps[*]}"
    fi
  fi
  for c in "${comps[@]}"; do
    if "${c}_line" >/dev/null; then
      say "WARNING: $c is still up"
      rc=1
    fi
  done
  return "$rc"
}

cmd_status() {
  local c rc=0
  for c in "${COMPONENTS[@]}"; do "${c}_line" || rc=3; done
  return "$rc"
}

cmd_logs() {
  local -a files=()
  local what="${1:-}"
  if [[ -z "$what" ]]; then
    mapfile -t files < <(ls "$LOGS"/*.log 2>/dev/null)
  elif [[ "$what" == kafka ]]; then
    local mode name
    mode="$(kafka_mode)"
    for name in $(kafka_names "${mode:-$(brokers_default)}"); do files+=("$LOGS/$name.log"); done
  else
    files=("$LOGS/$what.log")
  fi
  local f
  for f in "${files[@]}"; do
    [[ -f "$f" ]] || die "no log $f (known: $(cd "$LOGS" 2>/dev/null && printf '%s ' *.log))"
  done
  if [[ -t 1 ]]; then
    exec tail -n 100 -F "${files[@]}"
  else
    exec tail -n 200 "${files[@]}"
  fi
}

cmd_env() {
  local mode
  mode="$(kafka_mode)"
  mode="${mode:-$(brokers_default)}"
  echo "export KAFKA_BROKERS=$(kafka_bootstrap "$mode")"
  echo "export KAFKA_REPLICATION_FACTOR=$mode"
  echo "export MONGO_URL=mongodb://$HOST:$MONGO_PORT"
  echo "export REDIS_URL=redis://$HOST:$REDIS_PORT"
  echo "export AMQP_URL=amqp://guest:guest@$HOST:$RABBITMQ_PORT"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}"
  (($# > 0)) && shift
  case "$cmd" in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  reset) cmd_down --purge "$@" ;;
  status) cmd_status ;;
  logs) cmd_logs "$@" ;;
  env) cmd_env ;;
  kafka-topics) kafka_tool org.apache.kafka.tools.TopicCommand "$@" ;;
  kafka-console-producer) kafka_tool kafka.tools.ConsoleProducer "$@" ;;
  kafka-console-consumer) kafka_tool org.apache.kafka.tools.consumer.ConsoleConsumer "$@" ;;
  rabbitmqctl | rabbitmq-diagnostics) rabbitmq_cli "$cmd" "$@" ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
  esac
}

main "$@"
