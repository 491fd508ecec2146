# shellcheck shell=bash
# The cluster's Node processes, started and stopped like the infrastructure (infra/native/lib.sh:
# pid files with start times, logs under .stack/logs). Source after infra/native/lib.sh.

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

# All service names this script may have started (for stop/status), up to 3 gateways.
cluster_service_names() {
  echo auth message-1 message-2 gateway-3000 gateway-3001 gateway-3002 scheduler worker
}

service_start() {
  local name="$1" port="$2" entry="$3"
  shift 3
  proc_start "$name" "$STACK_DIR/logs/$name.log" -- env "PORT=$port" "$@" node --import tsx "$entry"
}

# Waits until http://127.0.0.1:PORT/readyz answers 200 (or the process died).
service_wait_ready() {
  local name="$1" port="$2" timeout="${3:-90}"
  wait_cmd "$timeout" "$name" -- node -e "fetch('http://127.0.0.1:$port/readyz').then(r => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"
}
