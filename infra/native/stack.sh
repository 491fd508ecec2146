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
#   infra/native/stack.sh sonic-bin                           the built Sonic binary's path (exit 1 if not built)
#   infra/native/stack.sh mongo-classpath                     the Mongo-wire server's Java classpath (builds it if needed)
# COMPONENT: kafka, mongo, redis, rabbitmq, prometheus, sonic (default: all).
#
# Which pieces, and why:
#   Kafka 3.9.x from Maven Central jars (infra/native/kafka/pom.xml), since no release tarball can
#     be downloaded here; combined broker+controller nodes in KRaft mode, 1 or 3 of them.
#   mongo-java-server 1.47 (H2 backend, a file under .stack/data/mongo) as the MongoDB-wire
#     server, from Maven Central with a small launcher (infra/native/mongo-wire) that runs each
#     collection's commands under that collection's lock and stores documents and keys in a
#     compact format of its own (a file of the older format is copied over on first start),
#     because mongod is not packaged for Debian 12. FerretDB 1.24
#     (SQLite) was tried first: it applies updates as read-modify-write (concurrent $inc lost
#     updates), and even with writes serialized in front of it, a 50-statement bulk update
#     hung it for good. See docs/infrastructure.md.
#   Redis and RabbitMQ from Debian packages, but as our own foreground processes with our own
#     config and data dirs; no systemd is involved. If a package's postinstall started the system
#     service on the port we need, that service is stopped (it would hold the port and use
#     /var/lib data we don't control). Anything else on our ports is an error, never killed.
#   Prometheus from Debian's package the same way, scraping the services and each broker's JMX
#     exporter agent (infra/native/components/prometheus.sh).
#   Sonic (message search) built once from crates.io with cargo and cached; a first build runs
#     in the background and never holds the rest up (infra/native/components/sonic.sh).
#
# Environment (defaults): KAFKA_PORT (9092), KAFKA_PORTS (19092,29092,39092 for 3 brokers; each
#   broker's controller listens on port+1), KAFKA_BROKERS or STACK_KAFKA_BROKERS (1; the services
#   use KAFKA_BROKERS for an address list, so a list is read as "that many brokers"),
#   MONGO_PORT (27017), REDIS_PORT (6379), RABBITMQ_PORT (5672), RABBITMQ_MGMT_PORT (15672;
#   RABBITMQ_MANAGEMENT=0 disables the plugin), RABBITMQ_DIST_PORT (RABBITMQ_PORT+20000),
#   RABBITMQ_NODENAME (chat@localhost), STACK_DIR (<repo>/.stack),
#   XDG_CACHE_HOME (~/.cache; built artifacts go to $XDG_CACHE_HOME/chat-cluster),
#   KAFKA_HEAP_OPTS (-Xms256m -Xmx512m), MONGO_HEAP_OPTS (-Xms128m -Xmx1g), *_START_TIMEOUT seconds,
#   MONGO_PAGE_SPLIT_SIZE (4096: the Mongo-wire store's page size), MONGO_RETENTION_MS (600000: how long
#   the store keeps old chunks, so a long read never loses them), MONGO_FILL_RATE (50: the chunk fill
#   rate below which the store compacts; MVStore's own default, 90, compacts all the time under load), MONGO_MIGRATE_TIMEOUT (7200 s: a
#   first start on a data file of the older Java-serialized format copies it), PROMETHEUS_PORT (9090),
#   PROMETHEUS_RETENTION (3d), SONIC_PORT (1491), SONIC_PASSWORD (chat-dev-search),
#   SONIC_BUILD_FOREGROUND (0; 1: a first build of Sonic is waited for).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
: "${STACK_DIR:=$ROOT/.stack}"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/chat-cluster"
HOST=127.0.0.1
COMPONENTS=(kafka mongo redis rabbitmq prometheus sonic)

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
MONGO_MIGRATE_TIMEOUT="${MONGO_MIGRATE_TIMEOUT:-7200}"
REDIS_START_TIMEOUT="${REDIS_START_TIMEOUT:-30}"
RABBITMQ_START_TIMEOUT="${RABBITMQ_START_TIMEOUT:-120}"

RABBITMQ_BIN=/usr/lib/rabbitmq/bin # the Debian wrappers in /usr/sbin would `su rabbitmq`

CONF="$STACK_DIR/conf"
DATA="$STACK_DIR/data"
LOGS="$STACK_DIR/logs"

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
# The components, one file each: prepare / start / wait / down / line (status) per component
# ---------------------------------------------------------------------------------------------

# shellcheck source=components/kafka.sh
source "$HERE/components/kafka.sh"
# shellcheck source=components/mongo.sh
source "$HERE/components/mongo.sh"
# shellcheck source=components/redis.sh
source "$HERE/components/redis.sh"
# shellcheck source=components/rabbitmq.sh
source "$HERE/components/rabbitmq.sh"
# shellcheck source=components/prometheus.sh
source "$HERE/components/prometheus.sh"
# shellcheck source=components/sonic.sh
source "$HERE/components/sonic.sh"

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
  echo "export SEARCH_HOST=$HOST"
  echo "export SEARCH_PORT=$SONIC_PORT"
  echo "export SEARCH_PASSWORD=$SONIC_PASSWORD"
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
  build-sonic) cmd_build_sonic ;;
  sonic-bin) sonic_built && echo "$SONIC_BIN" ;;
  mongo-classpath) mongo_prepare >&2 && echo "$MONGO_HOME/classes:$MONGO_HOME/libs/*" ;;
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
