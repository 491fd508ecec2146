#!/usr/bin/env bash
# Brings the whole cluster up on this machine, natively on 127.0.0.1: Kafka, the Mongo-wire
# server, Redis and RabbitMQ (infra/native/stack.sh), then auth, 2 message-service replicas,
# the gateways, the scheduler and the worker. Installs what is missing; safe to run again.
#
#   npm run up [-- --gateways 3] [-- --brokers 3]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

GATEWAYS=2
BROKERS=1
while (($#)); do
  case "$1" in
    --gateways) GATEWAYS="$2"; shift 2 ;;
    --brokers) BROKERS="$2"; shift 2 ;;
    *) echo "usage: npm run up [-- --gateways 1..3] [-- --brokers 1|3]" >&2; exit 2 ;;
  esac
done
[[ "$GATEWAYS" =~ ^[123]$ ]] || { echo "--gateways must be 1, 2 or 3" >&2; exit 2; }

source scripts/lib/node-deps.sh
ensure_node_deps "$ROOT"

bash infra/native/stack.sh up --brokers "$BROKERS"

source infra/native/lib.sh
source scripts/lib/services.sh
eval "$(bash infra/native/stack.sh env)"
node scripts/dev-secrets.mjs "$STACK_DIR/secrets"
set -a
# shellcheck disable=SC1091
source "$STACK_DIR/secrets/secrets.env"
set +a
export JWT_PRIVATE_KEY_FILE="$STACK_DIR/secrets/jwt-private.pem"
export JWT_PUBLIC_KEY_FILE="$STACK_DIR/secrets/jwt-public.pem"
export LOG_LEVEL="${LOG_LEVEL:-info}"

# Gateways with a different count than before: stop the extra ones.
for port in 3000 3001 3002; do
  ((port - 3000 < GATEWAYS)) || proc_stop "gateway-$port" 2>/dev/null || true
done

mapfile -t services < <(cluster_services "$GATEWAYS")
# auth and message first: the message service creates the topics the others use.
for line in "${services[@]}"; do
  read -r name port entry extra <<<"$line"
  case "$name" in auth | message-*) service_start "$name" "$port" "$entry" ${extra:+"$extra"} ;; esac
done
for line in "${services[@]}"; do
  read -r name port _ <<<"$line"
  case "$name" in auth | message-*) service_wait_ready "$name" "$port" ;; esac
done
for line in "${services[@]}"; do
  read -r name port entry extra <<<"$line"
  case "$name" in auth | message-*) ;; *) service_start "$name" "$port" "$entry" ${extra:+"$extra"} ;; esac
done
for line in "${services[@]}"; do
  read -r name port _ <<<"$line"
  service_wait_ready "$name" "$port"
done

cat <<TXT

The chat cluster is up.
  Gateways (web client, REST, Socket.IO, /ws):  $(for ((i = 0; i < GATEWAYS; i++)); do printf 'http://127.0.0.1:%s/  ' $((3000 + i)); done)
  API docs:        http://127.0.0.1:3000/api/docs
  Internal:        auth :4001, message :4002 and :4012, scheduler :4003 (admin), worker :4004
  Every process:   /healthz  /readyz  /metrics
  Admin token:     ADMIN_API_TOKEN in $STACK_DIR/secrets/secrets.env
  Logs:            $STACK_DIR/logs/        Stop: npm run down
TXT
