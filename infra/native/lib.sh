# shellcheck shell=bash
# Process helpers for the native dev stack: start long-running programs in the background with a
# pid file and a log, stop exactly those again, and wait for them to become ready.
#
# Source it from bash (set -euo pipefail friendly):
#
#   STACK_DIR=/path/to/.stack        # optional; default: <repo root>/.stack
#   source infra/native/lib.sh
#   proc_start gateway "$STACK_DIR/logs/gateway.log" -- env PORT=3000 node dist/main.js
#   wait_port 127.0.0.1 3000 30 gateway
#   wait_cmd 30 gateway -- curl -fsS http://127.0.0.1:3000/health
#   proc_running gateway && echo up
#   proc_stop gateway
#
# Files, all under $STACK_DIR:
#   pids/NAME.pid   line 1: "PID STARTTIME BOOT_ID" (STARTTIME = field 22 of /proc/PID/stat);
#                   line 2: the log file; line 3: the command, shell-quoted (for humans).
#   logs/           conventional place for logs; the previous run's log is kept as NAME.log.1.
#
# Why the start time: a pid alone may have been reused by an unrelated process after ours died
# (or after a reboot); pid + kernel start time + boot id identifies "the process we started".
# Each program runs in its own session/process group (setsid), so stopping it also reaches the
# children it spawned (RabbitMQ's beam.smp under its sh wrapper, for example), and nothing that
# merely shares our terminal.

if [[ -z "${STACK_DIR:-}" ]]; then
  STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.stack"
fi
mkdir -p "$STACK_DIR"
STACK_DIR="$(cd "$STACK_DIR" && pwd)" # absolute: callers may cd around
export STACK_DIR

# Seconds proc_stop waits after SIGTERM before it escalates.
: "${PROC_STOP_TIMEOUT:=30}"

_lib_log() { printf '%s\n' "$*" >&2; }

_boot_id() { cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown; }

# _proc_stat PID -> "STATE PGRP STARTTIME" (fields 3, 5, 22 of /proc/PID/stat), or fails.
_proc_stat() {
  local stat rest
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  rest="${stat##*) }" # the command name may contain spaces and parentheses
  local -a f
  read -r -a f <<<"$rest"
  printf '%s %s %s\n' "${f[0]}" "${f[2]}" "${f[19]}"
}

_pidfile() { printf '%s/pids/%s.pid\n' "$STACK_DIR" "$1"; }

# proc_pid NAME -> prints the pid recorded for NAME if that very process is still alive.
proc_pid() {
  local file pid start boot state pgrp now_start
  file="$(_pidfile "$1")"
  [[ -f "$file" ]] || return 1
  read -r pid start boot <"$file" || return 1
  [[ "$boot" == "$(_boot_id)" ]] || return 1
  read -r state pgrp now_start < <(_proc_stat "$pid") || return 1
  [[ "$now_start" == "$start" && "$state" != Z && "$state" != X ]] || return 1
  printf '%s\n' "$pid"
}

# proc_running NAME: true if the process started under NAME is alive.
proc_running() { proc_pid "$1" >/dev/null; }

# proc_logfile NAME -> the log file recorded for NAME (or the conventional logs/NAME.log).
proc_logfile() {
  local file
  file="$(_pidfile "$1")"
  if [[ -f "$file" ]] && sed -n 2p "$file" | grep -q .; then
    sed -n 2p "$file"
  else
    printf '%s/logs/%s.log\n' "$STACK_DIR" "$1"
  fi
}

# proc_start NAME LOGFILE -- CMD...
#   Starts CMD in the background in its own session, stdin from /dev/null, stdout+stderr appended
#   to LOGFILE (a previous LOGFILE is rotated to LOGFILE.1), and records its pid file.
#   If NAME is already running it does nothing (so callers can be idempotent) and returns 0.
#   Environment and working directory are inherited: use `env VAR=... CMD` or a subshell with cd.
proc_start() {
  local name="$1" log="$2"
  shift 2
  [[ "${1:-}" == "--" ]] || { _lib_log "proc_start: usage: proc_start NAME LOGFILE -- CMD..."; return 2; }
  shift
  (($# > 0)) || { _lib_log "proc_start: no command given for $name"; return 2; }

  if proc_running "$name"; then
    return 0
  fi

  mkdir -p "$STACK_DIR/pids" "$(dirname "$log")"
  [[ -s "$log" ]] && mv -f "$log" "$log.1"
  printf '=== %s: starting %s: %s\n' "$(date -Is)" "$name" "$*" >"$log"

  setsid "$@" </dev/null >>"$log" 2>&1 &
  local pid=$! state pgrp start
  # The start time is fixed at fork, so it is already the final one even before setsid execs.
  read -r state pgrp start < <(_proc_stat "$pid") || {
    _lib_log "proc_start: $name exited immediately"
    tail -n 20 "$log" >&2
    return 1
  }
  {
    printf '%s %s %s\n' "$pid" "$start" "$(_boot_id)"
    printf '%s\n' "$log"
    printf '%q ' "$@"
    printf '\n'
  } >"$(_pidfile "$name").tmp"
  mv -f "$(_pidfile "$name").tmp" "$(_pidfile "$name")"
  disown "$pid" 2>/dev/null || true
}

# _group_alive PGID: true if any non-zombie process is in process group PGID.
#   One pass over /proc/*/stat (field 3 = state, field 5 = pgrp; the command name in field 2 may
#   contain spaces, hence the strip up to the last ") ").
_group_alive() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
    awk -v g="$1" '{ sub(/^.*\) /, ""); split($0, f, " ");
                     if (f[3] == g && f[1] != "Z" && f[1] != "X") { found = 1; exit } }
                   END { exit !found }'
}

# _wait_groups_gone SECONDS PGID... : true once none of the groups has a live process.
_wait_groups_gone() {
  local deadline=$((SECONDS + $1)) g alive
  shift
  while :; do
    alive=0
    for g in "$@"; do _group_alive "$g" && alive=1 && break; done
    ((alive)) || return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.3
  done
}

# proc_stop NAME... : stops the named processes (all of them in parallel) and everything in
#   their process groups: SIGTERM to each program, up to PROC_STOP_TIMEOUT seconds for it and its
#   children to exit, then SIGTERM to the rest of the group, then SIGKILL. Names that are not
#   running are skipped. Only processes recorded by proc_start are ever signalled.
proc_stop() {
  local name pid
  local -a groups=() names=()
  for name in "$@"; do
    if pid="$(proc_pid "$name")"; then
      # Our processes lead their own group (setsid); refuse anything else rather than guess.
      local state pgrp start
      read -r state pgrp start < <(_proc_stat "$pid") || continue
      if [[ "$pgrp" != "$pid" ]]; then
        _lib_log "proc_stop: $name (pid $pid) is not a process group leader; sending SIGTERM to it alone"
      fi
      kill -TERM "$pid" 2>/dev/null || true
      groups+=("$pid")
      names+=("$name")
    fi
    rm -f "$(_pidfile "$name")"
  done
  ((${#groups[@]} > 0)) || return 0

  if ! _wait_groups_gone "$PROC_STOP_TIMEOUT" "${groups[@]}"; then
    local g
    _lib_log "proc_stop: ${names[*]}: still running ${PROC_STOP_TIMEOUT}s after SIGTERM; terminating the process group(s)"
    for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
    if ! _wait_groups_gone 5 "${groups[@]}"; then
      _lib_log "proc_stop: ${names[*]}: sending SIGKILL"
      for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
      _wait_groups_gone 5 "${groups[@]}" || _lib_log "proc_stop: ${names[*]}: processes survived SIGKILL"
    fi
  fi
  # A program may exit before its children; they are still ours to clean up.
  local g
  for g in "${groups[@]}"; do
    if _group_alive "$g"; then
      kill -TERM -- "-$g" 2>/dev/null || true
      _wait_groups_gone 5 "$g" || kill -KILL -- "-$g" 2>/dev/null || true
    fi
  done
}

# fail_with_log NAME MESSAGE : prints MESSAGE and the tail of NAME's log to stderr, returns 1.
fail_with_log() {
  local name="$1" log
  shift
  log="$(proc_logfile "$name")"
  _lib_log "ERROR: $name: $*"
  if [[ -f "$log" ]]; then
    _lib_log "---- last 40 lines of $log ----"
    tail -n 40 "$log" >&2
    _lib_log "---- end of $log ----"
  fi
  return 1
}

# _died NAME: true if NAME was started by proc_start but is no longer running (fail fast).
_died() { [[ -f "$(_pidfile "$1")" ]] && ! proc_running "$1"; }

# wait_port HOST PORT TIMEOUT_S NAME : waits until HOST:PORT accepts TCP connections.
#   Fails early if the process NAME (as started by proc_start) has exited.
wait_port() {
  local host="$1" port="$2" timeout="$3" name="$4"
  local deadline=$((SECONDS + timeout))
  while :; do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
      return 0
    fi
    if _died "$name"; then
      fail_with_log "$name" "exited before $host:$port opened"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      fail_with_log "$name" "$host:$port not open after ${timeout}s"
      return 1
    fi
    sleep 0.2
  done
}

# wait_cmd TIMEOUT_S NAME -- CMD... : runs CMD until it exits 0 (at most every 0.5 s).
#   Fails early if the process NAME has exited; on failure shows CMD's last output and NAME's log.
wait_cmd() {
  local timeout="$1" name="$2"
  shift 2
  [[ "${1:-}" == "--" ]] || { _lib_log "wait_cmd: usage: wait_cmd TIMEOUT_S NAME -- CMD..."; return 2; }
  shift
  local deadline=$((SECONDS + timeout)) out
  out="$(mktemp)"
  while :; do
    if "$@" >"$out" 2>&1; then
      rm -f "$out"
      return 0
    fi
    if _died "$name" || ((SECONDS >= deadline)); then
      local why="'$*' did not succeed within ${timeout}s"
      _died "$name" && why="exited while waiting for '$*'"
      _lib_log "---- last output of: $* ----"
      tail -n 10 "$out" >&2
      rm -f "$out"
      fail_with_log "$name" "$why"
      return 1
    fi
    sleep 0.5
  done
}

# wait_log TIMEOUT_S NAME PATTERN : waits until NAME's log (this run's; see rotation above)
#   has a line matching the extended regex PATTERN.
wait_log() {
  local timeout="$1" name="$2" pattern="$3"
  local log
  log="$(proc_logfile "$name")"
  wait_cmd "$timeout" "$name" -- grep -Eq -- "$pattern" "$log"
}
