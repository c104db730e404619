#!/usr/bin/env bash
# CI lane: Docker Swarm end to end. Brings up the engine (installs docker.io,
# starts dockerd, inits Swarm: docker/ensure-engine.sh), runs the NATS
# integration tests against the nats-server image through testcontainers, then
# the Swarm end-to-end run (npm run test:swarm). Skips, saying why, only where
# no engine can run at all; an engine that fails to come up is a failure.
# Ends with one line: `swarm lane: passed|FAILED|skipped (…) in Ns`.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
started=$SECONDS
log() { echo "swarm-lane: $*"; }
finish() { echo "swarm lane: $1 in $((SECONDS - started))s"; exit "$2"; }
skip() {
  log "SKIPPING the Swarm lane: $*"
  finish "skipped ($*)" 0
}

[ "${TENANTFOLD_SWARM_LANE:-on}" = off ] && skip "TENANTFOLD_SWARM_LANE=off"
[ "$(uname -s)" = Linux ] || skip "not Linux ($(uname -s)): no Docker engine to start here"
if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
    skip "no running engine and no root (or passwordless sudo) to install and start one"
  fi
  command -v dockerd >/dev/null 2>&1 || command -v apt-get >/dev/null 2>&1 ||
    skip "no dockerd and no apt-get to install docker.io"
fi

bash docker/ensure-engine.sh || finish "FAILED (the engine did not come up)" 1

# The testcontainers path of the NATS test fixture, on the image the stack uses.
nats_image=$(bash docker/build-nats-image.sh | awk '/^image /{print $2}')
[ -n "$nats_image" ] || finish "FAILED (nats image build)" 1
log "NATS integration tests on a nats-server container ($nats_image)"
# --reporter=default: keep .ci/run's JSON report of the main test run intact.
TENANTFOLD_NATS_IMAGE=$nats_image npx vitest run --project int --reporter=default packages/nats packages/testkit ||
  finish "FAILED (NATS integration tests on the container)" 1

npm run test:swarm || finish "FAILED (Swarm end to end)" 1
finish passed 0
