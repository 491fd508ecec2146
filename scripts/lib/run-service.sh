#!/usr/bin/env bash
# Runs one cluster service in the foreground: what each supervisord [program:NAME] runs.
#
#   bash scripts/lib/run-service.sh NAME [ENV_FILE]
#
# NAME is a line of cluster_services (scripts/lib/services.sh): auth, message-1, message-2,
# gateway-3000..3002, scheduler, worker. ENV_FILE (default $STACK_DIR/supervisor/services.env,
# written by `npm run up`) holds the environment every service shares: the infrastructure's
# addresses, the dev secrets, the JWT key files, LOG_LEVEL. It is sourced with `set -a`, then
# this script execs `env PORT=... EXTRA... node --import tsx ENTRY`: no shell stays behind, so
# supervisord's pid is node's and its signals (TERM to stop, KILL from chaos tests) reach node.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

name="${1:?usage: run-service.sh NAME [ENV_FILE]}"
env_file="${2:-${STACK_DIR:-$ROOT/.stack}/supervisor/services.env}"

STACK_DIR="${STACK_DIR:-$ROOT/.stack}"
# shellcheck source=SCRIPTDIR/services.sh
source "$ROOT/scripts/lib/services.sh"

line="$(cluster_services 3 | awk -v n="$name" '$1 == n')"
if [[ -z "$line" ]]; then
  echo "run-service: unknown service '$name' (known: $(cluster_service_names | tr '\n' ' '))" >&2
  exit 2
fi
read -r _ port entry extras <<<"$line"
read -r -a extra <<<"${extras:-}"

[[ -r "$env_file" ]] || {
  echo "run-service: $env_file missing (written by npm run up)" >&2
  exit 2
}
set -a
# shellcheck disable=SC1090
source "$env_file"
set +a

cd "$ROOT"
exec env "PORT=$port" "${extra[@]}" node --import tsx "$entry"
