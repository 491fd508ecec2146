#!/usr/bin/env bash
# The whole test suite on this machine: lint, typecheck, unit tests, then the integration
# tests against the real Kafka, Mongo-wire server, Redis and RabbitMQ (started here when not
# running; left running afterwards for the next run — `npm run down` stops them).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source scripts/lib/node-deps.sh

started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$1" "$(($(date +%s) - started))"; }

step "dependencies"
ensure_node_deps "$ROOT"
step "lint"
npx eslint .
step "typecheck"
npm run -s typecheck
step "unit tests"
npx vitest run --project unit
step "browser for the web-client test"
# Debian's Chromium (a test tool cannot download its own browser here).
if ! command -v chromium >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
fi
step "infrastructure"
# The suite tests search against a real Sonic: a first build (about 26 minutes, cached after)
# is waited for here rather than run beside the tests, which would starve them of CPU.
SONIC_BUILD_FOREGROUND=1 bash infra/native/stack.sh up
step "integration tests"
npx vitest run --project integration
step "done"
