#!/usr/bin/env bash
# Stops what `npm run up` started: the services (through our supervisord), supervisord, then the
# infrastructure (only processes it started).
#   npm run down [-- --purge]   (--purge also deletes .stack/data)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source infra/native/lib.sh
source scripts/lib/services.sh

if command -v supervisorctl >/dev/null && supervisor_up; then
  # Each service gets SIGTERM and up to stopwaitsecs (30 s) to drain, all at once.
  svctl stop all || true
  if proc_running supervisord; then
    PROC_STOP_TIMEOUT=45 proc_stop supervisord
  else
    # Answering on our socket but without our pid file (lost?): ask it to exit.
    svctl shutdown || true
  fi
else
  proc_stop supervisord
fi
# Services the previous, unsupervised `npm run up` started (pid files), if any are left.
# shellcheck disable=SC2046
proc_stop $(cluster_service_names)
bash infra/native/stack.sh down "$@"
