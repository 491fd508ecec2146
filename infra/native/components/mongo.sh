# shellcheck shell=bash
# The MongoDB-wire server: mongo-java-server on H2, behind our launcher (mongo-wire/).
# Sourced by infra/native/stack.sh; uses its settings, paths and helpers (HOST, CONF, DATA, LOGS,
# CACHE_DIR, say/die, proc_*, wait_*, free_port, with_lock). Defines <component>_prepare, _start,
# _wait, _down and _line (its status line), as every component does.

MONGO_SRC="$HERE/mongo-wire"
# Keyed by the pom and the launcher's sources: a change to any rebuilds, and every clone of
# the same revision shares one build.
MONGO_HOME="$CACHE_DIR/mongo-wire-$(sha "$MONGO_SRC/pom.xml" "$MONGO_SRC"/*.java)"

_mongo_build() {
  [[ -f "$MONGO_HOME/.complete" ]] && return 0
  command -v mvn >/dev/null || die "mongo: mvn is missing"
  command -v javac >/dev/null || die "mongo: javac (a JDK) is missing"
  say "mongo: fetching mongo-java-server and compiling the launcher (first time only)"
  local tmp
  tmp="$(mktemp -d "$CACHE_DIR/mongo-wire-build.XXXXXX")"
  cp "$MONGO_SRC/pom.xml" "$tmp/pom.xml"
  { mvn -q -B -f "$tmp/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tmp/libs" &&
    javac -d "$tmp/classes" -cp "$tmp/libs/*" "$MONGO_SRC"/*.java; } ||
    {
      rm -rf "$tmp"
      die "mongo: building the Mongo-wire server failed"
    }
  rm -rf "$MONGO_HOME"
  mkdir -p "$MONGO_HOME"
  mv "$tmp/libs" "$tmp/classes" "$MONGO_HOME/"
  rm -rf "$tmp"
  touch "$MONGO_HOME/.complete"
}

mongo_prepare() {
  [[ -f "$MONGO_HOME/.complete" ]] && return 0
  with_lock mongo-wire _mongo_build
}

mongo_start() {
  proc_running mongo && return 0
  free_port mongo "$MONGO_PORT" "" ""
  mkdir -p "$DATA/mongo" "$LOGS"
  proc_start mongo "$LOGS/mongo.log" -- java $MONGO_HEAP_OPTS -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$MONGO_HOME/classes:$MONGO_HOME/libs/*" MongoWireServer "$HOST" "$MONGO_PORT" "$DATA/mongo/chat.mv.db"
}

mongo_wait() {
  # A first start on a file the launcher wrote in the stock (Java-serialized) format copies it
  # into the compact one before listening: wait for that copy as long as it takes.
  wait_log "$MONGO_START_TIMEOUT" mongo 'mongo-wire( ready|: copying)'
  if ! grep -q 'mongo-wire ready' "$(proc_logfile mongo)"; then
    say "mongo: copying the data file into the compact format (once; progress in $(proc_logfile mongo))"
    wait_log "$MONGO_MIGRATE_TIMEOUT" mongo 'mongo-wire ready'
  fi
  wait_port "$HOST" "$MONGO_PORT" "$MONGO_START_TIMEOUT" mongo
  wait_cmd "$MONGO_START_TIMEOUT" mongo -- node "$HERE/probe.mjs" mongo "$HOST" "$MONGO_PORT"
}

mongo_down() { proc_stop mongo; }

mongo_line() {
  if proc_running mongo && port_open "$MONGO_PORT"; then
    printf '%-10s up    mongodb://%s:%s (mongo-java-server 1.47, H2, compact format)\n' mongo "$HOST" "$MONGO_PORT"
  else
    printf '%-10s down\n' mongo
    return 1
  fi
}
