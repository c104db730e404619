#!/usr/bin/env bash
# End-to-end on Docker Swarm (this machine, loopback only): builds the images
# offline, deploys swarm/stacks/platform.yml, sends commands through the router,
# migrates a tenant with placementctl inside the stack while commands flow,
# kills a node container and checks Swarm restarts it and its tenants keep
# working, then removes the stack, its volumes, secret and label.
# Needs a running engine in Swarm mode (docker/ensure-engine.sh sets one up).
#
# Usage: npm run test:swarm [-- --no-build]   (--no-build: use dist/ as it is)
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
stack=${SWARM_E2E_STACK:-tfe2e}
log() { echo "swarm-e2e: [$((SECONDS - started))s] $*"; }
die() { log "FAILED: $*" >&2; exit 1; }

build_flag=()
case "${1:-}" in
  --no-build) build_flag=(--no-build) ;;
  '') ;;
  *) die "unknown option $1 (usage: npm run test:swarm [-- --no-build])" ;;
esac

docker info >/dev/null 2>&1 || die "no Docker engine answers (start one with docker/ensure-engine.sh)"
[ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ] || die "the engine is not in Swarm mode (docker/ensure-engine.sh inits it)"
swarm_node=$(docker info --format '{{.Swarm.NodeID}}')
docker stack ls --format '{{.Name}}' | grep -qx "$stack" && die "stack $stack already deployed (docker stack rm $stack)"

# --- images -------------------------------------------------------------------
log "building images offline"
images=$(bash docker/build-images.sh "${build_flag[@]}" e2e)
eval "export $(echo "$images" | tr '\n' ' ')"
log "images: $(echo "$images" | sed 's/sha256:\(.\{12\}\).*/\1/' | tr '\n' ' ')"

# --- ports, label, secret --------------------------------------------------------
# Free loopback ports for every service (the machine is shared: no fixed ports).
read -r NATS_PORT NATS_MONITOR_PORT ROUTER_GRPC_PORT ROUTER_HTTP_PORT CONTROLLER_PORT \
  NODE_1_GRPC_PORT NODE_1_ADMIN_PORT NODE_2_GRPC_PORT NODE_2_ADMIN_PORT NODE_3_GRPC_PORT NODE_3_ADMIN_PORT \
  < <(node -e '
    const net = require("node:net");
    const servers = Array.from({ length: 11 }, () => net.createServer().listen(0, "127.0.0.1"));
    Promise.all(servers.map((s) => new Promise((ok) => s.on("listening", ok)))).then(() => {
      console.log(servers.map((s) => s.address().port).join(" "));
      servers.forEach((s) => s.close());
    });')
export NATS_PORT NATS_MONITOR_PORT ROUTER_GRPC_PORT ROUTER_HTTP_PORT CONTROLLER_PORT \
  NODE_1_GRPC_PORT NODE_1_ADMIN_PORT NODE_2_GRPC_PORT NODE_2_ADMIN_PORT NODE_3_GRPC_PORT NODE_3_ADMIN_PORT

# One machine: its one tenant_range label places all three node services.
range=$stack
generated=${stack}-nodes # the stack placementctl writes
export NODE_1_RANGE=$range NODE_2_RANGE=$range NODE_3_RANGE=$range
export ADMIN_TOKEN_SECRET=${stack}_admin_token LOG_LEVEL=warn

cleanup() {
  local code=$?
  log "tearing down"
  local namespace i
  for namespace in "$generated" "$stack"; do docker stack rm "$namespace" >/dev/null 2>&1 || true; done
  # stack rm returns at once; containers go a few seconds later, and volumes stay.
  for namespace in "$generated" "$stack"; do
    for ((i = 0; i < 120; i++)); do
      [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$namespace")" ] && break
      sleep 0.5
    done
    [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$namespace")" ] || log "containers of $namespace still present after 60 s"
  done
  docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker volume rm >/dev/null
  docker secret rm "$ADMIN_TOKEN_SECRET" >/dev/null 2>&1 || true
  docker node update --label-rm tenant_range "$swarm_node" >/dev/null 2>&1 || true
  [ -n "${work:-}" ] && rm -rf "$work"
  local left
  left=$(docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | wc -l)
  log "stacks removed, $left volumes left; total $((SECONDS - started))s"
  [ "$left" = 0 ] || code=1
  if [ "$code" = 0 ]; then log "PASSED"; else log "FAILED (exit $code)"; fi
  exit "$code"
}
trap cleanup EXIT

docker node update --label-add "tenant_range=$range" "$swarm_node" >/dev/null
admin_token=$(node -e 'console.log(require("node:crypto").randomBytes(24).toString("base64url"))')
printf '%s' "$admin_token" | docker secret create "$ADMIN_TOKEN_SECRET" - >/dev/null

# --- deploy -------------------------------------------------------------------------
log "deploying stack $stack (NATS :$NATS_PORT, router http :$ROUTER_HTTP_PORT)"
docker stack deploy --detach=true --resolve-image never -c swarm/stacks/platform.yml "$stack" >/dev/null

# container NAME: the running container of service NAME.
container() { docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_$1" --filter status=running | head -1; }
# wait_healthy SERVICE...: until each (full Swarm name) has a healthy running container (90 s).
wait_healthy() {
  local service id i
  for service in "$@"; do
    for ((i = 0; i < 180; i++)); do
      id=$(docker ps -q --filter "label=com.docker.swarm.service.name=$service" --filter health=healthy | head -1)
      [ -n "$id" ] && break
      sleep 0.5
    done
    [ -n "$id" ] || { docker service ps --no-trunc "$service" >&2; die "$service not healthy within 90 s"; }
  done
}
wait_healthy "${stack}_nats" "${stack}_node-1" "${stack}_node-2" "${stack}_node-3"
log "nats and nodes healthy"
wait_healthy "${stack}_router" "${stack}_controller"
log "router and controller healthy"

# placementctl runs inside the controller's container, with the stack's settings and secret.
ctl() { docker exec -e PLACEMENTCTL_LOG_LEVEL=warn "$(container controller)" placementctl "$@"; }
json_field() { node -e "console.log(JSON.parse(require('node:fs').readFileSync(0, 'utf8')).$1)"; }
# wait_ready ADMIN_PORT: until the node's /ready answers 200 (60 s).
wait_ready() {
  local i
  for ((i = 0; i < 120; i++)); do
    node -e "fetch('http://127.0.0.1:$1/ready').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && return 0
    sleep 0.5
  done
  die "the node with admin port $1 is not ready within 60 s"
}
ctl init >/dev/null
for port in "$NODE_1_ADMIN_PORT" "$NODE_2_ADMIN_PORT" "$NODE_3_ADMIN_PORT"; do wait_ready "$port"; done

# --- commands through the router ---------------------------------------------
work=$(mktemp -d)
ledger=$work/ledger.json
traffic() {
  node swarm/e2e/traffic.mjs "$@" --router "http://127.0.0.1:$ROUTER_HTTP_PORT" --ledger "$ledger" |
    tee -a "$work/traffic.log"
}
tenants=acme,globex,initech,umbrella,hooli,stark
traffic open --tenants "$tenants" --accounts 4 >/dev/null || die "opening accounts failed: $(tail -1 "$work/traffic.log")"
traffic deposit --count 600 --concurrency 16 >/dev/null || die "deposits failed: $(tail -1 "$work/traffic.log")"
log "commands through the router: $(tail -1 "$work/traffic.log")"
ctl tenants list | sed 's/^/    /'

# --- migration under load ----------------------------------------------------------
tenant=acme
from=$(ctl --json tenants where "$tenant" | json_field owner)
to=node-1
[ "$from" = node-1 ] && to=node-2
log "migrating $tenant $from -> $to with placementctl in the controller container, commands flowing"
stop=$work/stop
traffic deposit --tenants "$tenant" --until "$stop" --concurrency 8 >/dev/null &
load=$!
sleep 2
ctl migrate "$tenant" --to "$to" | sed 's/^/    /' || { touch "$stop"; wait "$load"; die "migration of $tenant failed"; }
sleep 2
touch "$stop"
wait "$load" || die "commands failed during the migration: $(tail -1 "$work/traffic.log")"
log "during the migration: $(tail -1 "$work/traffic.log")"
owner=$(ctl --json tenants where "$tenant" | json_field owner)
[ "$owner" = "$to" ] || die "$tenant is on $owner after the migration, expected $to"
traffic check >/dev/null || die "states differ from acknowledged commands: $(tail -1 "$work/traffic.log")"
log "states match every acknowledged command: $(tail -1 "$work/traffic.log")"

# --- a node killed: Swarm restarts it, its tenants keep working -------------------------
victim=$to
old=$(container "$victim")
log "docker kill $victim (container ${old:0:12}, owns $tenant)"
killed_at=$SECONDS
docker kill "$old" >/dev/null
for ((i = 0; i < 180; i++)); do
  new=$(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_$victim" --filter health=healthy | head -1)
  [ -n "$new" ] && [ "$new" != "$old" ] && break
  sleep 0.5
done
if [ -z "$new" ] || [ "$new" = "$old" ]; then die "Swarm did not restart $victim within 90 s"; fi
victim_port=NODE_${victim#node-}_ADMIN_PORT
wait_ready "${!victim_port}"
log "Swarm restarted $victim in $((SECONDS - killed_at))s (container ${new:0:12}); tasks:"
docker service ps --format '{{.Name}} {{.CurrentState}} {{.Error}}' "${stack}_$victim" | head -3 | sed 's/^/    /'
traffic deposit --tenants "$tenant" --count 200 --concurrency 8 >/dev/null || die "$tenant failed after the restart: $(tail -1 "$work/traffic.log")"
log "after the restart: $(tail -1 "$work/traffic.log")"
traffic check >/dev/null || die "states differ after the restart: $(tail -1 "$work/traffic.log")"
log "states match every acknowledged command: $(tail -1 "$work/traffic.log")"

# --- placementctl stack: its output deploys as is ------------------------------------
# It writes one service per tenant_range from the registered nodes; here all three
# share this machine's range, so it replaces the platform's three node services
# (same ports). One machine runs one task of it (max_replicas_per_node: 1).
ctl stack --image "$NODE_IMAGE" --nats-url "nats://127.0.0.1:$NATS_PORT" \
  --manifest /app/examples/bank-account/aggregates.yaml >"$work/nodes.yml" || die "placementctl stack failed"
log "placementctl stack wrote $(grep -c 'image: sha256:' "$work/nodes.yml") service(s); replacing the platform's node services with it"
docker service rm "${stack}_node-1" "${stack}_node-2" "${stack}_node-3" >/dev/null
for ((i = 0; i < 120; i++)); do
  [ -z "$(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_node-1" --filter "label=com.docker.swarm.service.name=${stack}_node-2")" ] &&
    [ -z "$(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_node-3")" ] && break
  sleep 0.5
done
TENANTFOLD_ADMIN_TOKEN=$admin_token docker stack deploy --detach=true --resolve-image never -c "$work/nodes.yml" "$generated" >/dev/null ||
  die "docker stack deploy refused the placementctl stack"
wait_healthy "${generated}_aggregate-node-$range"
wait_ready "$NODE_1_ADMIN_PORT"
log "$(docker service ls --filter "label=com.docker.stack.namespace=$generated" --format '{{.Name}} {{.Replicas}}') running; tasks:"
docker service ps --format '{{.Name}} {{.CurrentState}} {{.Error}}' "${generated}_aggregate-node-$range" | sed 's/^/    /'
traffic deposit --count 120 --concurrency 8 >/dev/null || die "commands failed on the placementctl stack: $(tail -1 "$work/traffic.log")"
log "through the placementctl stack: $(tail -1 "$work/traffic.log")"
log "owners now: $(ctl tenants list | awk 'NR > 1 {print $2}' | sort | uniq -c | xargs)"
traffic check >/dev/null || die "states differ on the placementctl stack: $(tail -1 "$work/traffic.log")"
log "states match every acknowledged command: $(tail -1 "$work/traffic.log")"
