#!/usr/bin/env bash
# What runs: each infrastructure component, then each service: its state under supervisord,
# pid, uptime, how many times supervisord restarted it, and its /readyz status code.
# Exit 3 if anything is down or a service is not RUNNING with /readyz 200.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 1
source infra/native/lib.sh
source scripts/lib/services.sh

rc=0
bash infra/native/stack.sh status || rc=3

declare -A state=() pid=() uptime=() restarts=() code=()
if command -v supervisorctl >/dev/null && supervisor_up; then
  while read -r n s p u; do state[$n]=$s pid[$n]=$p uptime[$n]=$u; done < <(service_states)
  while read -r n c; do restarts[$n]=$c; done < <(service_restarts)
  printf '%-13s up    pid %s, config %s\n' supervisord "$(svctl pid)" "$SUPERVISOR_CONF"
else
  printf '%-13s down\n' supervisord
  rc=3
fi

mapfile -t services < <(cluster_services 3)
ports=()
for line in "${services[@]}"; do
  read -r name port _ <<<"$line"
  ports+=("$port")
done
while read -r port c; do code[$port]=$c; done < <(readyz_codes "${ports[@]}")

printf '%-13s %-8s %8s %12s %8s  %s\n' service state pid uptime restarts readyz
for line in "${services[@]}"; do
  read -r name port _ <<<"$line"
  c="${code[$port]:--}"
  [[ "$c" == - ]] && c="no answer"
  if [[ -n "${state[$name]:-}" ]]; then
    p="${pid[$name]}"
    [[ "$p" == 0 ]] && p=-
    printf '%-13s %-8s %8s %12s %8s  %s  http://127.0.0.1:%s\n' "$name" "${state[$name]}" "$p" \
      "${uptime[$name]}" "${restarts[$name]:-0}" "$c" "$port"
    [[ "${state[$name]}" == RUNNING && "$c" == 200 ]] || rc=3
  elif proc_running "$name"; then
    # Left by the previous, unsupervised `npm run up` (pid file); `npm run up` takes it over.
    printf '%-13s %-8s %8s %12s %8s  %s  (old pid file, not supervised: npm run up takes it over)\n' "$name" RUNNING "$(proc_pid "$name")" - - "$c"
    rc=3
  elif [[ "$name" != gateway-* ]]; then
    printf '%-13s %-8s\n' "$name" down
    rc=3
  fi
  # A gateway that is neither configured nor running is just not part of this cluster's size.
done
exit "$rc"
