# shellcheck shell=bash
# ensure_node_deps: installs the npm workspaces' dependencies when missing or stale
# (package-lock.json newer than the last install). Reuses npm's cache; idempotent.
ensure_node_deps() {
  local root="$1"
  if [[ ! -f "$root/node_modules/.package-lock.json" || "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]]; then
    echo "installing npm dependencies..." >&2
    # npm 11 leaves other platforms' optional packages (rollup, esbuild) out of the lock file
    # and then calls it out of sync in `npm ci`; `npm install` follows the same lock file.
    (cd "$root" && { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --loglevel=error; })
  fi
}
