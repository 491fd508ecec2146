#!/usr/bin/env bash
# Stops what `npm run up` started: the services, then the infrastructure (only processes it started).
#   npm run down [-- --purge]   (--purge also deletes .stack/data)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source infra/native/lib.sh
source scripts/lib/services.sh
# shellcheck disable=SC2046
proc_stop $(cluster_service_names)
bash infra/native/stack.sh down "$@"
