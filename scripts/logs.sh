#!/usr/bin/env bash
# One process's log: follows it on a terminal (tail -n 100 -F, across restarts and rotation),
# prints its last 200 lines otherwise.
#
#   npm run logs NAME     a service (auth, message-1, gateway-3000, ...), supervisord, or an
#                         infrastructure component (kafka, mongo, redis, rabbitmq, ...)
#   npm run logs          lists the names
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source infra/native/lib.sh
source scripts/lib/services.sh
LOGS="$STACK_DIR/logs"

name="${1:-}"
if [[ -z "$name" || "$name" == -h || "$name" == --help ]]; then
  mapfile -t svc < <(cluster_services 3 | awk '{ print $1 }')
  echo "usage: npm run logs NAME   (logs in $LOGS)"
  printf '  services:       '
  for n in "${svc[@]}"; do [[ -f "$LOGS/$n.log" ]] && printf '%s ' "$n"; done
  echo
  printf '  infrastructure: '
  infra=()
  for f in "$LOGS"/*.log; do
    [[ -f "$f" ]] || continue
    n="$(basename "$f" .log)"
    [[ " ${svc[*]} " == *" $n "* || "$n" == prepare-* ]] && continue
    infra+=("$n")
  done
  printf '%s ' "${infra[@]}"
  [[ " ${infra[*]} " == *" kafka-"* ]] && printf '(kafka: all brokers)'
  echo
  exit 0
fi

if cluster_services 3 | awk -v n="$name" '$1 == n { found = 1 } END { exit !found }'; then
  log="$LOGS/$name.log"
  [[ -f "$log" ]] || { echo "no log yet: $log (is it configured? npm run status)" >&2; exit 1; }
  if [[ -t 1 ]]; then
    exec tail -n 100 -F "$log"
  else
    exec tail -n 200 "$log"
  fi
fi
# Infrastructure components and processes, supervisord: the same logs directory.
exec bash infra/native/stack.sh logs "$name"
