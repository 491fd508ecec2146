# shellcheck shell=bash
# The cluster's Node processes on the native stack. Source after infra/native/lib.sh (which sets
# STACK_DIR).
#
# They run under our own supervisord (Debian's `supervisor` package), started by `npm run up`
# with $STACK_DIR/supervisor/supervisord.conf: one [program:NAME] per line of cluster_services,
# each running `scripts/lib/run-service.sh NAME` (which execs node, so supervisord's pid is
# node's). supervisord restarts whatever exits (autorestart, growing backoff between failed
# starts); the infrastructure stays under infra/native/stack.sh (pid files, lib.sh).
#
# A service's pid, for tools (chaos tests, profilers), is what supervisord reports:
#
#   supervisorctl -c "$STACK_DIR/supervisor/supervisord.conf" pid gateway-3000
#
# prints the pid and exits 0 while it runs; prints 0 and exits 7 while it is not running
# (starting, backoff, stopped); "No such process NAME" and exit 1 for an unknown name.
# `service_pid NAME` below wraps it. SIGKILL that pid and supervisord starts the service again.
# State, restart counts and readiness: `npm run status`; logs: `npm run logs NAME`
# ($STACK_DIR/logs/NAME.log).

SUPERVISOR_DIR="$STACK_DIR/supervisor"
SUPERVISOR_CONF="$SUPERVISOR_DIR/supervisord.conf"
# supervisord's own log (spawns, exits, backoffs): where restart counts come from.
SUPERVISOR_LOG="$SUPERVISOR_DIR/supervisord.log"
# Lines "DATE TIME reset: 'NAME'" (supervisord's timestamp format) for programs `npm run up`
# (re)configured: their restart count starts again from there.
SUPERVISOR_RESETS="$SUPERVISOR_DIR/restart-resets.log"
# What every service's environment is made of (written by up.sh, sourced by run-service.sh).
# shellcheck disable=SC2034 # used by the scripts that source this file
SERVICES_ENV="$SUPERVISOR_DIR/services.env"

# NAME PORT ENTRY [VAR=VALUE...]: what runs where (gateways, 2 message replicas, auth, scheduler, worker).
cluster_services() {
  local gateways="$1"
  echo "auth 4001 services/auth/src/main.ts"
  echo "message-1 4002 services/message/src/main.ts"
  echo "message-2 4012 services/message/src/main.ts"
  local i
  for ((i = 0; i < gateways; i++)); do
    echo "gateway-$((3000 + i)) $((3000 + i)) services/gateway/src/main.ts GATEWAY_ID=gw-$((3000 + i))"
  done
  echo "scheduler 4003 services/scheduler/src/main-scheduler.ts"
  echo "worker 4004 services/scheduler/src/main-worker.ts"
}

# All service names there may be (up to 3 gateways). Also the pid-file names the previous,
# unsupervised `npm run up` used, which up/down still stop when they find them.
cluster_service_names() {
  echo auth message-1 message-2 gateway-3000 gateway-3001 gateway-3002 scheduler worker
}

# svctl ARGS... : supervisorctl against our supervisord (never the system one).
svctl() { supervisorctl -c "$SUPERVISOR_CONF" "$@"; }

# supervisor_up: true if our supervisord answers on its socket.
supervisor_up() { [[ -f "$SUPERVISOR_CONF" ]] && svctl pid >/dev/null 2>&1; }

# service_pid NAME -> the pid of the running service (fails if it is not running).
service_pid() {
  local pid
  pid="$(svctl pid "$1" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] || return 1
  printf '%s\n' "$pid"
}

# service_states -> "NAME STATE PID UPTIME" per configured program (PID 0 and UPTIME - when
# not running), from `supervisorctl status`.
service_states() {
  { svctl status 2>/dev/null || true; } | awk '
    NF >= 2 && $2 ~ /^[A-Z]+$/ {
      pid = 0; up = "-"
      if (match($0, /pid [0-9]+/)) pid = substr($0, RSTART + 4, RLENGTH - 4)
      if ($2 == "RUNNING" && match($0, /uptime .*/)) { up = substr($0, RSTART + 7); gsub(/ /, "", up) }
      print $1, $2, pid, up
    }'
}

# service_mark_reset NAME... : the restart counts of these programs start again now (before
# `npm run up` changes or adds them).
service_mark_reset() {
  local now name
  now="$(date '+%Y-%m-%d %H:%M:%S,%3N')"
  for name in "$@"; do printf "%s reset: '%s'\n" "$now" "$name"; done >>"$SUPERVISOR_RESETS"
}

# service_restarts -> "NAME COUNT" per program that has been spawned: how many times
# supervisord started it again (after it exited or was killed) since the later of: supervisord
# started, the program was last stopped on request ("stopped: NAME", e.g. `supervisorctl
# restart`), `npm run up` last changed or added it (service_mark_reset). That is its spawns
# since then, minus 1. supervisord keeps no such counter, so this reads its log (rotated parts
# too) merged by timestamp with the resets.
service_restarts() {
  local -a parts=()
  local i
  for ((i = 9; i >= 1; i--)); do [[ -f "$SUPERVISOR_LOG.$i" ]] && parts+=("$SUPERVISOR_LOG.$i"); done
  [[ -f "$SUPERVISOR_LOG" ]] && parts+=("$SUPERVISOR_LOG")
  ((${#parts[@]} > 0)) || return 0
  [[ -f "$SUPERVISOR_RESETS" ]] && parts+=("$SUPERVISOR_RESETS")
  # Stable sort on "DATE TIME,ms": each file is in order already; this interleaves them.
  cat "${parts[@]}" | LC_ALL=C sort -s -k1,2 | awk '
    / supervisord started with pid / { delete spawns; next }
    / spawned: \047/ { n = $0; sub(/^.* spawned: \047/, "", n); sub(/\047.*$/, "", n); spawns[n]++; next }
    / reset: \047/ { n = $0; sub(/^.* reset: \047/, "", n); sub(/\047.*$/, "", n); spawns[n] = 0; next }
    / stopped: / { n = $0; sub(/^.* stopped: /, "", n); sub(/ .*$/, "", n); spawns[n] = 0; next }
    END { for (n in spawns) print n, (spawns[n] > 1 ? spawns[n] - 1 : 0) }'
}

# readyz_codes PORT... -> "PORT CODE" per port: the HTTP status of http://127.0.0.1:PORT/readyz,
# or "-" if nothing answered within 2 s. One node process for all of them.
readyz_codes() {
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const ports = process.argv.slice(1);
    Promise.all(ports.map((p) =>
      fetch(`http://127.0.0.1:${p}/readyz`, { signal: AbortSignal.timeout(2000) })
        .then((r) => `${p} ${r.status}`, () => `${p} -`),
    )).then((lines) => console.log(lines.join("\n")));
  ' "$@"
}
