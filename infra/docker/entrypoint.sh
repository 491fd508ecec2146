#!/bin/sh
# Entry point of the chat-cluster image: loads the development tokens, then runs the command.
#
# The one-shot `secrets` compose service writes $SECRETS_DIR/secrets.env (INTERNAL_API_TOKEN=...,
# ADMIN_API_TOKEN=...) with scripts/dev-secrets.mjs. Each variable of that file is exported only
# when the environment leaves it unset or empty, so a deployment that passes real tokens in the
# environment keeps them. Without the file (plain `docker run`), the environment is used as is
# and the service's config check names whatever is missing.
set -eu

SECRETS_DIR="${SECRETS_DIR:-/secrets}"
secrets_env="$SECRETS_DIR/secrets.env"

if [ -r "$secrets_env" ]; then
  while IFS='=' read -r key value || [ -n "$key" ]; do
    case "$key" in
      '' | \#* | [0-9]* | *[!A-Za-z0-9_]*) continue ;; # blank, comment, or not a variable name
    esac
    eval "current=\${$key:-}" # safe: $key is a plain identifier (checked above)
    if [ -z "$current" ]; then
      export "$key=$value"
    fi
  done <"$secrets_env"
fi

exec "$@"
