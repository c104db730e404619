#!/usr/bin/env bash
# A local tenantfold cluster on loopback, no Docker: nats-server (JetStream),
# three aggregate nodes (bank-account example), a router and the placement
# controller, all from dist/. Seeds tenant `demo` and prints a curl command.
# Ctrl-C stops everything (controller and router, then nodes, then NATS).
#
# Usage: npm run cluster [-- --no-build | --source]
#   --no-build             run dist/ as it is (default: npm run build first)
#   --source               run src/ with tsx, no build (for hacking on the services)
#   DEV_CLUSTER_PORT_OFFSET=N   add N to every port (default ports below)
#   DEV_CLUSTER_DIR=dir    data and logs (default .tmp/dev-cluster, wiped at start)
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
log() { echo "cluster: $*"; }
die() { log "$*" >&2; exit 1; }

mode=build
case "${1:-}" in
  --no-build) mode=dist ;;
  --source) mode=source ;;
  '') ;;
  *) die "unknown option $1 (usage: npm run cluster [-- --no-build | --source])" ;;
esac

offset=${DEV_CLUSTER_PORT_OFFSET:-0}
[[ $offset =~ ^[0-9]+$ ]] || die "DEV_CLUSTER_PORT_OFFSET=$offset: expected a number"
port() { echo $(($1 + offset)); }
nats_port=$(port 4222) nats_monitor=$(port 8222)
router_grpc=$(port 50050) router_http=$(port 8080) controller_http=$(port 9464)
dir=${DEV_CLUSTER_DIR:-.tmp/dev-cluster}
nats_url=nats://127.0.0.1:$nats_port
admin_token=dev-admin-token
tenant=demo

# main PACKAGE: the entry point of a service; `runner` runs one (isolated-vm in
# the node needs --no-node-snapshot on Node 20).
main() { if [ "$mode" = source ]; then echo "packages/$1/src/main.ts"; else echo "packages/$1/dist/main.js"; fi; }
runner=(node --no-node-snapshot)
[ "$mode" = source ] && runner+=(--import tsx --conditions=source)
node_main=$(main aggregate-node)
router_main=$(main gateway-router)
controller_main=$(main placement-controller)
placementctl() { PLACEMENTCTL_NATS_URL=$nats_url PLACEMENTCTL_ADMIN_TOKEN=$admin_token "${runner[@]}" "$controller_main" "$@"; }

if ! command -v nats-server >/dev/null 2>&1; then
  log "installing nats-server (Debian package)"
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nats-server >/dev/null
fi
[ -d node_modules ] || die "node_modules missing: run npm run setup first"
if [ "$mode" = build ]; then
  log "npm run build"
  npm run build --silent || die "build failed (see above)"
fi
for file in "$node_main" "$router_main" "$controller_main"; do
  [ -f "$file" ] || die "$file missing (npm run build)"
done

for p in $nats_port $nats_monitor $router_grpc $router_http $controller_http $(port 50051) $(port 50052) $(port 50053) $(port 8081) $(port 8082) $(port 8083); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    die "port $p on 127.0.0.1 is in use (another cluster?); set DEV_CLUSTER_PORT_OFFSET"
  fi
done

rm -rf "$dir"
mkdir -p "$dir/logs"

# Services run in their own sessions, so Ctrl-C reaches only this script, which
# then stops them in order. pids[i] and names[i] go together.
pids=() names=()
start() {
  local name=$1
  shift
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  pids+=($!) names+=("$name")
}

# stop_group PATTERN: TERM the services whose name matches (a glob), then wait for them.
# shellcheck disable=SC2053,SC2317 # PATTERN is a glob; called from the traps
stop_group() {
  local i
  for i in "${!pids[@]}"; do
    [[ ${names[i]} == $1 ]] && kill -TERM "${pids[i]}" 2>/dev/null
  done
  for i in "${!pids[@]}"; do
    [[ ${names[i]} == $1 ]] && wait "${pids[i]}" 2>/dev/null
  done
}
stopping=0
# shellcheck disable=SC2317 # called from the traps
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  set +e # a service failing to stop must not stop the cleanup
  log "stopping"
  # Nodes leave placement and drain through NATS, so NATS goes last.
  stop_group '@(controller|router)'
  stop_group 'node-*'
  stop_group nats
  log "stopped; logs in $dir/logs"
}
shopt -s extglob
trap 'stop_all; exit 130' INT TERM HUP PIPE
trap stop_all EXIT

# wait_http NAME URL: until URL answers 2xx, or the service exits (then its log tail).
wait_http() {
  local name=$1 url=$2 i pid
  for i in "${!names[@]}"; do [ "${names[i]}" = "$name" ] && pid=${pids[i]}; done
  for ((i = 0; i < 150; i++)); do
    node -e "fetch('$url').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && return 0
    kill -0 "$pid" 2>/dev/null || { tail -20 "$dir/logs/$name.log" >&2; die "$name exited; log: $dir/logs/$name.log"; }
    sleep 0.2
  done
  die "$name not ready at $url within 30 s; log: $dir/logs/$name.log"
}

start nats nats-server -js -sd "$dir/nats" -a 127.0.0.1 -p "$nats_port" -m "$nats_monitor"
wait_http nats "http://127.0.0.1:$nats_monitor/healthz"
log "nats      $nats_url"
placementctl init >/dev/null || die "placementctl init failed"

for n in 1 2 3; do
  start "node-$n" env AGGREGATE_NODE_ID="node-$n" AGGREGATE_NATS_URL="$nats_url" \
    AGGREGATE_GRPC_LISTEN="127.0.0.1:$(port $((50050 + n)))" AGGREGATE_ADMIN_LISTEN="127.0.0.1:$(port $((8080 + n)))" \
    AGGREGATE_MANIFEST=examples/bank-account/aggregates.yaml AGGREGATE_ADMIN_TOKEN="$admin_token" \
    "${runner[@]}" "$node_main"
done
for n in 1 2 3; do
  wait_http "node-$n" "http://127.0.0.1:$(port $((8080 + n)))/ready"
  log "node-$n    grpc 127.0.0.1:$(port $((50050 + n)))  admin http://127.0.0.1:$(port $((8080 + n)))"
done

start router env ROUTER_NATS_URL="$nats_url" ROUTER_GRPC_LISTEN="127.0.0.1:$router_grpc" \
  ROUTER_HTTP_LISTEN="127.0.0.1:$router_http" "${runner[@]}" "$router_main"
start controller env PLACEMENTCTL_NATS_URL="$nats_url" PLACEMENTCTL_ADMIN_TOKEN="$admin_token" \
  PLACEMENTCTL_LISTEN="127.0.0.1:$controller_http" PLACEMENTCTL_LOG_LEVEL=info "${runner[@]}" "$controller_main" serve
wait_http router "http://127.0.0.1:$router_http/ready"
log "router    http://127.0.0.1:$router_http  grpc 127.0.0.1:$router_grpc"
wait_http controller "http://127.0.0.1:$controller_http/health"
log "controller http://127.0.0.1:$controller_http (placementctl serve)"

# Seed: open account acc-1 of tenant demo through the router, deposit 100.
api=http://127.0.0.1:$router_http/v1
node --input-type=module - "$api" "$tenant" <<'SEED' || die "seeding tenant $tenant failed"
const [api, tenant] = process.argv.slice(2);
const send = async (type, data) => {
  const response = await fetch(`${api}/commands`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
    body: JSON.stringify({ aggregate_type: 'account', aggregate_id: 'acc-1', payload: { type, data } }),
  });
  if (!response.ok) throw new Error(`${type}: ${response.status} ${await response.text()}`);
};
await send('Open', { owner: 'ann' });
await send('Deposit', { amount: 100 });
SEED
owner=$(placementctl --json tenants where "$tenant" | node -e 'console.log(JSON.parse(require("node:fs").readFileSync(0, "utf8")).owner)')
target=node-2
[ "$owner" = node-2 ] && target=node-3
log "seeded tenant $tenant on $owner: account acc-1 opened with a balance of 100"

cat <<EOF

Send a command through the router:
  curl -s -X POST $api/commands -H 'content-type: application/json' -H 'x-tenant-id: $tenant' \\
    -d '{"aggregate_type":"account","aggregate_id":"acc-1","payload":{"type":"Deposit","data":{"amount":25}}}'
Read the state:
  curl -s $api/aggregates/account/acc-1 -H 'x-tenant-id: $tenant'
Move the tenant (a verified migration), from another shell:
  PLACEMENTCTL_NATS_URL=$nats_url PLACEMENTCTL_ADMIN_TOKEN=$admin_token npm run placementctl -- migrate $tenant --to $target

EOF
log "up in $((SECONDS - started))s; Ctrl-C stops everything; logs in $dir/logs"

# Runs until Ctrl-C, or until a service exits on its own (then everything stops).
set +e
wait -n "${pids[@]}"
code=$?
for i in "${!pids[@]}"; do
  kill -0 "${pids[i]}" 2>/dev/null || log "${names[i]} exited with code $code; log: $dir/logs/${names[i]}.log"
done
exit 1
