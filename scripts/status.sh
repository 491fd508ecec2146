#!/usr/bin/env bash
# What runs: each infrastructure component, then each service and its /readyz.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source infra/native/lib.sh
source scripts/lib/services.sh
bash infra/native/stack.sh status
while read -r name port _; do
  if proc_running "$name"; then
    code=$(node -e "fetch('http://127.0.0.1:$port/readyz').then(r => console.log(r.status), () => console.log('no answer'))")
    printf '%-13s up    http://127.0.0.1:%s (readyz %s)\n' "$name" "$port" "$code"
  else
    printf '%-13s down\n' "$name"
  fi
done < <(cluster_services 3)
