#!/usr/bin/env bash
# End-to-end on Docker Swarm (this machine, loopback only), as if on several
# machines: each simulated machine has its own loopback address (127.0.1.1-3 for
# the nodes, .4 for NATS and the controller, .5 for the router). Builds the
# images offline, generates the stack with `placementctl stack --network host`
# (each node binds and advertises only its own address, all on the same ports),
# deploys it, checks placement holds one address per node and nothing listens
# on the shared loopback, sends commands through the router, migrates a tenant
# from one "machine" to another while commands flow, kills a node's task and
# checks Swarm restarts it and every acknowledged command is in the state,
# then removes the stack, its volumes, secret and label.
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

# --- machines, ports, label, secret ---------------------------------------------
# One address per simulated machine (a Swarm node here is one machine, so all
# carry its one tenant_range label; on a real cluster each has its own).
net=${SWARM_E2E_NET:-127.0.1}
node_hosts=("$net.1" "$net.2" "$net.3" "$net.6") # the fourth machine joins later
nats_host=$net.4   # NATS and the controller
router_host=$net.5 # the router every client uses
# Free ports, each free on every address that uses it and on 127.0.0.1 (the
# machine is shared: no fixed ports). The three nodes share theirs, as on
# separate machines.
read -r NODE_GRPC_PORT NODE_ADMIN_PORT NATS_PORT NATS_MONITOR_PORT CONTROLLER_PORT ROUTER_GRPC_PORT ROUTER_HTTP_PORT \
  < <(node - "${node_hosts[*]}" "$nats_host" "$router_host" <<'JS' || true
const net = require('node:net');
const [nodes, nats, router] = process.argv.slice(2);
const bind = (port, host) =>
  new Promise((ok) => {
    const s = net.createServer().once('error', () => ok(undefined));
    s.listen(port, host, () => ok(s));
  });
const taken = new Set();
async function freeOn(hosts) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await bind(0, hosts[0]);
    const port = first.address().port;
    const rest = await Promise.all(hosts.slice(1).map((h) => bind(port, h)));
    [first, ...rest].forEach((s) => s?.close());
    if (rest.every(Boolean) && !taken.has(port)) return taken.add(port), port;
  }
  throw new Error(`no port free on all of ${hosts.join(' ')}`);
}
(async () => {
  const groups = [nodes.split(' '), nodes.split(' '), [nats], [nats], [nats], [router], [router]];
  const ports = [];
  for (const hosts of groups) ports.push(await freeOn([...hosts, '127.0.0.1']));
  console.log(ports.join(' '));
})().catch((e) => { console.error(e.message); process.exit(1); });
JS
) || true
[ -n "${ROUTER_HTTP_PORT:-}" ] || die "no free ports on ${node_hosts[*]} $nats_host $router_host (is 127.0.0.0/8 on lo?)"

range=$stack # the one label of this one-node Swarm
export ADMIN_TOKEN_SECRET=${stack}_admin_token

cleanup() {
  local code=$?
  log "tearing down"
  local i
  docker stack rm "$stack" >/dev/null 2>&1 || true
  # stack rm returns at once; containers go a few seconds later, and volumes stay.
  for ((i = 0; i < 120; i++)); do
    [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")" ] && break
    sleep 0.5
  done
  [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")" ] || log "containers of $stack still present after 60 s"
  docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker volume rm >/dev/null
  docker secret rm "$ADMIN_TOKEN_SECRET" >/dev/null 2>&1 || true
  docker node update --label-rm tenant_range "$swarm_node" >/dev/null 2>&1 || true
  [ -n "${work:-}" ] && rm -rf "$work"
  local left
  left=$(docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | wc -l)
  log "stack removed, $left volumes left; total $((SECONDS - started))s"
  [ "$left" = 0 ] || code=1
  if [ "$code" = 0 ]; then log "PASSED"; else log "FAILED (exit $code)"; fi
  exit "$code"
}
trap cleanup EXIT
work=$(mktemp -d)

docker node update --label-add "tenant_range=$range" "$swarm_node" >/dev/null
admin_token=$(node -e 'console.log(require("node:crypto").randomBytes(24).toString("base64url"))')
printf '%s' "$admin_token" | docker secret create "$ADMIN_TOKEN_SECRET" - >/dev/null

# --- the stack, as placementctl writes it (in its image, with no network) ---------------
# stack_file NETWORK FLAGS...: `placementctl stack` for this run's images, ports and secret.
stack_file() {
  local network=$1
  shift
  docker run --rm --network none "$CONTROLLER_IMAGE" stack --network "$network" \
    --node-image "$NODE_IMAGE" --router-image "$ROUTER_IMAGE" \
    --controller-image "$CONTROLLER_IMAGE" --nats-image "$NATS_IMAGE" \
    --admin-secret "$ADMIN_TOKEN_SECRET" --log-level warn \
    --port "node-grpc=$NODE_GRPC_PORT" --port "node-admin=$NODE_ADMIN_PORT" \
    --port "nats=$NATS_PORT" --port "nats-monitor=$NATS_MONITOR_PORT" --port "controller=$CONTROLLER_PORT" \
    --port "router-grpc=$ROUTER_GRPC_PORT" --port "router-http=$ROUTER_HTTP_PORT" "$@"
}
# host_stack N: the host-network stack with nodes node-1..node-N, one machine address each.
host_stack() {
  local nodes=() i
  for ((i = 1; i <= $1; i++)); do nodes+=(--node "node-$i=$range@${node_hosts[$((i - 1))]}"); done
  stack_file host --nats-machine "$range@$nats_host" --router-host "$router_host" "${nodes[@]}"
}
host_stack 3 >"$work/stack.yml" || die "placementctl stack --network host failed"
# The overlay form cannot carry traffic here (loopback only): Docker validates it.
stack_file overlay --nats-machine "$range" --node "node-1=$range" --node "node-2=$range" \
  --node "node-3=$range" >"$work/overlay.yml" || die "placementctl stack --network overlay failed"
docker stack config -c "$work/overlay.yml" >/dev/null || die "docker stack config refused the overlay stack"
log "placementctl stack wrote the platform: nodes on ${node_hosts[*]:0:3} (gRPC :$NODE_GRPC_PORT, admin :$NODE_ADMIN_PORT each), NATS and controller on $nats_host, router on $router_host; the overlay form passes docker stack config"

# --- deploy -------------------------------------------------------------------------
log "deploying stack $stack"
docker stack deploy --detach=true --resolve-image never -c "$work/stack.yml" "$stack" >/dev/null

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
# wait_ready HOST: until the node on HOST answers 200 on /ready (60 s).
wait_ready() {
  local i
  for ((i = 0; i < 120; i++)); do
    node -e "fetch('http://$1:$NODE_ADMIN_PORT/ready').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && return 0
    sleep 0.5
  done
  die "the node on $1 is not ready within 60 s"
}
host_of() { echo "${node_hosts[$((${1#node-} - 1))]}"; }
ctl init >/dev/null
for host in "${node_hosts[@]:0:3}"; do wait_ready "$host"; done

# --- one address per node ------------------------------------------------------------
# Placement holds each node at its own machine's address, and nothing answers on
# the node ports at the loopback address every machine has.
ctl --json nodes list >"$work/nodes.json"
node - "$work/nodes.json" "$NODE_GRPC_PORT" "$NODE_ADMIN_PORT" "${node_hosts[@]}" <<'JS' || die "placement does not hold one address per node"
const [file, grpc, admin, ...hosts] = process.argv.slice(2);
const nodes = JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
const want = hosts.slice(0, 3).map((h, i) => `node-${i + 1} ${h}:${grpc} ${h}:${admin}`);
const got = nodes.map((n) => `${n.id} ${n.grpcAddress} ${n.adminAddress}`).sort();
console.log(got.map((line) => `    ${line}`).join('\n'));
if (JSON.stringify(got) !== JSON.stringify(want)) {
  console.error(`expected:\n${want.join('\n')}`);
  process.exit(1);
}
JS
for port in "$NODE_GRPC_PORT" "$NODE_ADMIN_PORT"; do
  node -e "require('node:net').connect($port, '127.0.0.1').on('connect', () => process.exit(1)).on('error', () => process.exit(0))" ||
    die "something answers on 127.0.0.1:$port: a node is not bound to its own address only"
done
log "each node registered and bound at its own address only"

# --- commands through the router ---------------------------------------------
ledger=$work/ledger.json
traffic() {
  node swarm/e2e/traffic.mjs "$@" --router "http://$router_host:$ROUTER_HTTP_PORT" --ledger "$ledger" |
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
log "migrating $tenant $from ($(host_of "$from")) -> $to ($(host_of "$to")) with placementctl in the controller container, commands flowing"
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
log "docker kill $victim (container ${old:0:12} on $(host_of "$victim"), owns $tenant)"
killed_at=$SECONDS
docker kill "$old" >/dev/null
for ((i = 0; i < 180; i++)); do
  new=$(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_$victim" --filter health=healthy | head -1)
  [ -n "$new" ] && [ "$new" != "$old" ] && break
  sleep 0.5
done
if [ -z "$new" ] || [ "$new" = "$old" ]; then die "Swarm did not restart $victim within 90 s"; fi
wait_ready "$(host_of "$victim")"
log "Swarm restarted $victim in $((SECONDS - killed_at))s (container ${new:0:12}); tasks:"
docker service ps --format '{{.Name}} {{.CurrentState}} {{.Error}}' "${stack}_$victim" | head -3 | sed 's/^/    /'
traffic deposit --tenants "$tenant" --count 200 --concurrency 8 >/dev/null || die "$tenant failed after the restart: $(tail -1 "$work/traffic.log")"
log "after the restart: $(tail -1 "$work/traffic.log")"
traffic check >/dev/null || die "states differ after the restart: $(tail -1 "$work/traffic.log")"
log "states match every acknowledged command: $(tail -1 "$work/traffic.log")"

# Back at its own address, and all tenants on all three machines still serve.
ctl --json nodes list | node -e "
  const n = JSON.parse(require('node:fs').readFileSync(0, 'utf8')).find((n) => n.id === '$victim');
  process.exit(n?.grpcAddress === '$(host_of "$victim"):$NODE_GRPC_PORT' && n.status === 'active' ? 0 : 1);" ||
  die "$victim did not come back at $(host_of "$victim"):$NODE_GRPC_PORT"
traffic deposit --count 120 --concurrency 8 >/dev/null || die "commands failed after the restart: $(tail -1 "$work/traffic.log")"
log "all tenants after the restart: $(tail -1 "$work/traffic.log")"
log "owners now: $(ctl tenants list | awk 'NR > 1 {print $2}' | sort | uniq -c | xargs)"
traffic check >/dev/null || die "states differ after the restart: $(tail -1 "$work/traffic.log")"
log "states match every acknowledged command: $(tail -1 "$work/traffic.log")"

# --- a fourth machine, as in the runbook: nodes add, the stack again, rebalance ----------
running() { docker ps -q --filter "label=com.docker.stack.namespace=$stack" --filter status=running | sort | xargs; }
before=$(running)
ctl nodes add node-4 | sed 's/^/    /'
host_stack 4 >"$work/stack.yml" || die "placementctl stack with node-4 failed"
log "redeploying with node-4 on ${node_hosts[3]}"
docker stack deploy --detach=true --resolve-image never -c "$work/stack.yml" "$stack" >/dev/null
wait_healthy "${stack}_node-4"
wait_ready "${node_hosts[3]}"
# The same layout writes the same services: the redeploy restarted none of them.
for id in $before; do
  [[ " $(running) " == *" $id "* ]] || die "the redeploy replaced container $id: the stack changed more than node-4"
done
log "node-4 up at $(host_of node-4); the other $(echo "$before" | wc -w) containers untouched"
ctl rebalance --apply | tail -3 | sed 's/^/    /' || die "rebalance onto node-4 failed"
moved=$(ctl tenants list | awk '$2 == "node-4"' | wc -l)
[ "$moved" -gt 0 ] || die "rebalance moved no tenant onto node-4"
traffic deposit --count 120 --concurrency 8 >/dev/null || die "commands failed after the rebalance: $(tail -1 "$work/traffic.log")"
log "after rebalancing $moved tenant(s) onto node-4: $(tail -1 "$work/traffic.log")"
traffic check >/dev/null || die "states differ after the rebalance: $(tail -1 "$work/traffic.log")"
log "states match every acknowledged command: $(tail -1 "$work/traffic.log")"
