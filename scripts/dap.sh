#!/usr/bin/env bash
# A local DAP pair for Vitrine's DAP mode: a Janus leader and helper on 127.0.0.1, each with its own
# database in a private Postgres cluster, one DAP task per experiment of a task list.
#
#   scripts/dap.sh start [TASKS.json]   fresh databases, tasks provisioned, every process healthy
#   scripts/dap.sh sync [URL|FILE]      after `vitrine-collector experiments add`: a task for each registered
#                                       experiment of the registry (default http://127.0.0.1:8787) that has
#                                       none, the aggregators restarted; existing tasks keep their keys
#   scripts/dap.sh stop                 stops what start started (by pid), then Postgres
#   scripts/dap.sh status               each process: pid, alive, health
#
# TASKS.json (default scripts/dap-tasks.json): {"tasks": [{"id", "variants", "vdaf": "histogram"|"sumvec",
# "bits", "time_precision", "min_batch_size", "noise_epsilon": null | ε}]}, or a registry document
# (GET /v1/experiments: one histogram task per experiment not ended, hourly, ε 1). Task ids, VDAF keys, HPKE keys
# and tokens are made here (`vitrine-collector dap provision`), never by a page. start writes into
# $DAP_HOME (default .cache/dap): dap-config.json (public: what the SDK and `vitrine simulate
# --dap-config` read) and collector-credentials.json (secret: what `vitrine-collector --dap-config` needs).
#
# Ports (all on 127.0.0.1): DAP_PORT_BASE (default 9700) + 1 leader, + 2 helper, + 11..15 health checks,
# + 20 Postgres. Janus: ../shared/janus's binary (checksum verified), or built from the source there into
# $VITRINE_CACHE (default ~/.cache/vitrine), outside the clone. Nothing listens beyond loopback.
set -euo pipefail
unset PGPASSWORD
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DAP_HOME=${DAP_HOME:-$ROOT/.cache/dap}
BASE=${DAP_PORT_BASE:-9700}
JANUS_DIR=${JANUS_DIR:-$ROOT/../shared/janus}
JANUS_VERSION=0.7.135
BIN_CACHE=${VITRINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vitrine}/janus-$JANUS_VERSION
LEADER_PORT=$((BASE + 1)) HELPER_PORT=$((BASE + 2)) PG_PORT=$((BASE + 20))
RUN=$DAP_HOME/run
# name:health port offset. The leader runs the upload/collection server and the three job drivers.
PROCS=(leader:11 leader-creator:12 leader-aggregation:13 leader-collection:14 helper:15)

say() { printf '[dap] %s\n' "$*" >&2; }
die() { printf '[dap] error: %s\n' "$*" >&2; exit 1; }

# Postgres refuses to run as root: as root, its commands run as the `postgres` user of Debian's package.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] && [ -x "$d/initdb" ] || die "Postgres is missing: run scripts/setup.sh (Debian: apt-get install postgresql)"
  echo "$d"
}

# The aggregator binary: the shipped one when its checksums hold, else a build from the shipped source.
janus_binary() {
  local gz="$JANUS_DIR/janus_aggregator-$JANUS_VERSION-linux-x86_64.gz" bin="$BIN_CACHE/janus_aggregator"
  local want_gz want_bin
  mkdir -p "$BIN_CACHE"
  if [ -f "$gz" ] && [ -f "$JANUS_DIR/SHA256SUMS" ]; then
    want_gz=$(awk -v f="$(basename "$gz")" '$2 == f {print $1}' "$JANUS_DIR/SHA256SUMS")
    want_bin=$(awk '$2 == "janus_aggregator" {print $1}' "$JANUS_DIR/SHA256SUMS")
    if [ -x "$bin" ] && [ "$(sha256sum < "$bin" | cut -d' ' -f1)" = "$want_bin" ]; then echo "$bin"; return; fi
    [ "$(sha256sum < "$gz" | cut -d' ' -f1)" = "$want_gz" ] || die "$gz does not match SHA256SUMS: refusing to run it"
    gunzip -c "$gz" > "$bin.tmp"
    [ "$(sha256sum < "$bin.tmp" | cut -d' ' -f1)" = "$want_bin" ] || die "unpacked janus_aggregator does not match SHA256SUMS"
    chmod 755 "$bin.tmp" && mv "$bin.tmp" "$bin"
    echo "$bin"; return
  fi
  local built="$BIN_CACHE/target/release/janus_aggregator"
  if [ ! -x "$built" ]; then
    [ -f "$JANUS_DIR/src/Cargo.toml" ] || die "no Janus binary or source in $JANUS_DIR: set JANUS_DIR to a Janus $JANUS_VERSION tree"
    say "building janus_aggregator $JANUS_VERSION from $JANUS_DIR/src (about 15 minutes cold on 2 cores, once)"
    CARGO_TARGET_DIR="$BIN_CACHE/target" cargo build --release --locked -p janus_aggregator \
      --manifest-path "$JANUS_DIR/src/Cargo.toml" >&2
  fi
  echo "$built"
}

janus_schema_dir() {
  [ -d "$JANUS_DIR/src/db" ] || die "Janus's schema ($JANUS_DIR/src/db) is missing"
  echo "$JANUS_DIR/src/db"
}

collector_binary() {
  if [ -n "${VITRINE_COLLECTOR:-}" ]; then echo "$VITRINE_COLLECTOR"; return; fi
  (cd "$ROOT" && cargo build -q -p vitrine-collector >&2)
  echo "$ROOT/target/debug/vitrine-collector"
}

healthy() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$1/healthz"; }

# A recorded pid that is alive AND still runs a Janus binary (after a reboot the number may be reused by
# an unrelated process, which stop must never kill).
alive() {
  local pid
  [ -f "$RUN/$1.pid" ] && pid=$(cat "$RUN/$1.pid") && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q janus
}

# Common keys of every Janus process (their configs are deny_unknown_fields: each gets only its own).
common_config() { # db health-offset
  cat <<EOF
database:
  url: "postgres://janus:$(cat "$DAP_HOME/pg-password")@127.0.0.1:$PG_PORT/$1"
  check_schema_version: false
health_check_listen_address: "127.0.0.1:$((BASE + $2))"
EOF
}

job_driver_config() {
  cat <<EOF
job_discovery_interval_s: 1
max_concurrent_job_workers: 4
worker_lease_duration_s: 60
worker_lease_clock_skew_allowance_s: 5
maximum_attempts_before_failure: 3
batch_aggregation_shard_count: 1
EOF
}

write_configs() {
  local c=$DAP_HOME/config
  mkdir -p "$c"
  for role in leader helper; do
    local port=$LEADER_PORT off=11
    [ "$role" = helper ] && port=$HELPER_PORT off=15
    { common_config "janus_$role" "$off"
      echo "listen_address: \"127.0.0.1:$port\""
      echo "max_upload_batch_size: 100"
      echo "max_upload_batch_write_delay_ms: 100"
      echo "batch_aggregation_shard_count: 1"
      echo "task_cache_ttl_s: 5"
    } > "$c/$role.yaml"
    common_config "janus_$role" 16 > "$c/$role-cli.yaml"
  done
  { common_config janus_leader 12
    echo "batch_aggregation_shard_count: 1"
    echo "tasks_update_frequency_s: 2"
    echo "aggregation_job_creation_interval_s: 1"
    echo "min_aggregation_job_size: 1"
    echo "max_aggregation_job_size: 500"
  } > "$c/leader-creator.yaml"
  { common_config janus_leader 13; job_driver_config; } > "$c/leader-aggregation.yaml"
  { common_config janus_leader 14; job_driver_config
    echo "min_collection_job_retry_delay_s: 1"
    echo "max_collection_job_retry_delay_s: 2"
  } > "$c/leader-collection.yaml"
}

start_pg() {
  local bin; bin=$(pg_bin)
  rm -rf "$DAP_HOME/pg"
  mkdir -p "$DAP_HOME/pg" "$DAP_HOME/logs"
  openssl rand -hex 16 > "$DAP_HOME/pg-password"
  cp "$DAP_HOME/pg-password" "$DAP_HOME/pg/pwfile"
  # As root, Postgres runs as `postgres`: it must be able to pass through $DAP_HOME (a mktemp -d is 0700).
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres: "$DAP_HOME/pg"; chmod 644 "$DAP_HOME/pg-password"; chmod o+x "$DAP_HOME"
  fi
  as_pg "$bin/initdb" -D "$DAP_HOME/pg/data" -U janus --pwfile="$DAP_HOME/pg/pwfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 >"$DAP_HOME/logs/initdb.log" 2>&1 \
    || die "initdb failed: see $DAP_HOME/logs/initdb.log"
  as_pg "$bin/pg_ctl" -D "$DAP_HOME/pg/data" -l "$DAP_HOME/pg/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$DAP_HOME/pg" start >/dev/null \
    || die "Postgres did not start: see $DAP_HOME/pg/postgres.log"
  # Not exported: Janus reads PGPASSWORD too, and refuses it beside the password in its database URL.
  local schema pw; schema=$(janus_schema_dir); pw=$(cat "$DAP_HOME/pg-password")
  for db in janus_leader janus_helper; do
    PGPASSWORD=$pw "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U janus "$db"
    cat "$schema"/*.up.sql | PGPASSWORD=$pw "$bin/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U janus -d "$db" \
      >"$DAP_HOME/logs/schema-$db.log" 2>&1 || die "the Janus schema did not apply: see $DAP_HOME/logs/schema-$db.log"
  done
}

# Gives both aggregators the tasks of DIR/{leader,helper}-tasks.yaml (DIR: $DAP_HOME by default).
provision_janus() {
  local janus=$1 dir=${2:-$DAP_HOME}
  for role in leader helper; do
    "$janus" janus_cli --config-file "$DAP_HOME/config/$role-cli.yaml" provision-tasks \
      "$dir/$role-tasks.yaml" >"$DAP_HOME/logs/provision-$role.log" 2>&1 \
      || die "provisioning the $role's tasks failed: see $DAP_HOME/logs/provision-$role.log"
  done
}

# Starts the leader's four processes and the helper, and waits until each is healthy.
start_procs() {
  local janus=$1
  for p in "${PROCS[@]}"; do
    local name=${p%%:*} cmd=aggregator
    case $name in
      leader-creator) cmd=aggregation_job_creator ;;
      leader-aggregation) cmd=aggregation_job_driver ;;
      leader-collection) cmd=collection_job_driver ;;
    esac
    RUST_LOG=${RUST_LOG:-warn} nohup "$janus" "$cmd" --config-file "$DAP_HOME/config/$name.yaml" \
      >>"$DAP_HOME/logs/$name.log" 2>&1 </dev/null &
    echo $! > "$RUN/$name.pid"
  done
  local deadline=$((SECONDS + 60))
  for p in "${PROCS[@]}"; do
    local name=${p%%:*} port=$((BASE + ${p##*:}))
    until healthy "$port"; do
      alive "$name" || die "$name exited: see $DAP_HOME/logs/$name.log"
      [ $SECONDS -lt $deadline ] || die "$name not healthy on :$port after 60 s: see $DAP_HOME/logs/$name.log"
      sleep 0.5
    done
  done
}

# Stops the aggregator processes start_procs started (by pid), leaving Postgres up.
stop_procs() {
  for p in "${PROCS[@]}"; do
    local name=${p%%:*}
    if alive "$name"; then
      local pid; pid=$(cat "$RUN/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$name.pid"
  done
}

# A task for every registered experiment not ended that has none; only then are the aggregators restarted
# (they cache task lookups). The collector re-reads its credentials file by itself.
sync() {
  local from=${1:-http://127.0.0.1:8787} janus collector out
  local stage=$DAP_HOME/staging
  for p in "${PROCS[@]}"; do alive "${p%%:*}" || die "not running ($DAP_HOME): scripts/dap.sh start first"; done
  # Staged: the collector and the SDK see the new credentials only once both aggregators hold the tasks.
  rm -rf "$stage"; mkdir -p "$stage"
  if [ -f "$from" ]; then cp "$from" "$stage/registry.json"
  else curl -fsS "${from%/}/v1/experiments" -o "$stage/registry.json" || die "could not read the registry at ${from%/}/v1/experiments"
  fi
  cp "$DAP_HOME/collector-credentials.json" "$stage/"
  janus=$(janus_binary)
  collector=$(collector_binary)
  export DATASTORE_KEYS; DATASTORE_KEYS=$(cat "$DAP_HOME/datastore-keys")
  out=$("$collector" dap provision --append --tasks "$stage/registry.json" --leader "http://127.0.0.1:$LEADER_PORT/" \
    --helper "http://127.0.0.1:$HELPER_PORT/" --out "$stage" 2>&1) || die "$out"
  say "$out"
  case $out in *"provisioned 0 new"*) rm -rf "$stage"; return 0 ;; esac
  provision_janus "$janus" "$stage"
  for f in leader-tasks.yaml helper-tasks.yaml dap-config.json collector-credentials.json; do
    mv "$stage/$f" "$DAP_HOME/$f"
  done
  rm -rf "$stage"
  stop_procs
  start_procs "$janus"
  say "aggregators restarted with the new task(s)"
}

start() {
  local tasks=${1:-$ROOT/scripts/dap-tasks.json}
  [ -f "$tasks" ] || die "task list $tasks not found"
  for p in "${PROCS[@]}"; do alive "${p%%:*}" && die "already running ($DAP_HOME): run scripts/dap.sh stop first"; done
  local janus collector
  janus=$(janus_binary)
  collector=$(collector_binary)
  "$collector" dap --help >/dev/null 2>&1 \
    || die "this vitrine-collector has no 'dap provision' yet (the collector's DAP mode, issue 16, is still to land)"
  stop_pg quiet
  mkdir -p "$RUN" "$DAP_HOME/logs"
  # Whatever fails from here on, nothing this start began is left running.
  trap 'stop' EXIT
  start_pg
  write_configs
  # Ids, keys and tokens for every task, then both aggregators' task files.
  "$collector" dap provision --tasks "$tasks" --leader "http://127.0.0.1:$LEADER_PORT/" \
    --helper "http://127.0.0.1:$HELPER_PORT/" --out "$DAP_HOME"
  export DATASTORE_KEYS; DATASTORE_KEYS=$(openssl rand 16 | basenc --base64url | tr -d =)
  echo "$DATASTORE_KEYS" > "$DAP_HOME/datastore-keys"
  # Before the aggregators start: they cache task lookups, so a task provisioned later stays unknown.
  provision_janus "$janus"
  start_procs "$janus"
  trap - EXIT
  say "leader http://127.0.0.1:$LEADER_PORT/, helper http://127.0.0.1:$HELPER_PORT/ (Janus $JANUS_VERSION)"
  say "SDK config: $DAP_HOME/dap-config.json; collector credentials: $DAP_HOME/collector-credentials.json"
  say "the demo against it: cargo run --release -p vitrine-collector -- --db vitrine.db --addr 127.0.0.1:8787 \\"
  say "  --register www/experiments.json --dap-config $DAP_HOME/collector-credentials.json, then npm run demo"
  say "  and open http://localhost:8080/?leader=http://127.0.0.1:$LEADER_PORT/&helper=http://127.0.0.1:$HELPER_PORT/"
}

stop_pg() {
  local bin; bin=$(pg_bin)
  if [ -f "$DAP_HOME/pg/data/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$DAP_HOME/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  [ "${1:-}" = quiet ] || say "stopped"
}

stop() {
  stop_procs
  stop_pg
}

status() {
  local down=0
  for p in "${PROCS[@]}"; do
    local name=${p%%:*} port=$((BASE + ${p##*:})) state=stopped
    if alive "$name"; then
      state="pid $(cat "$RUN/$name.pid"), $(healthy "$port" && echo healthy || echo 'not healthy')"
    else
      down=1
    fi
    printf '%-20s %s\n' "$name" "$state"
  done
  return $down
}

case "${1:-}" in
  start) shift; start "$@" ;;
  sync) shift; sync "$@" ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: scripts/dap.sh start [TASKS.json] | sync [COLLECTOR_URL|REGISTRY.json] | stop | status" >&2; exit 2 ;;
esac
