#!/usr/bin/env bash
# Brings up a Docker engine in Swarm mode on this machine, idempotently:
# installs docker.io (Debian) when there is no engine, starts dockerd by hand
# when it is not running (no systemd on CI machines), and inits a one-node
# Swarm on loopback. Prints one line per step saying what it did or skipped.
set -euo pipefail

log() { echo "engine: $*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
engine_up() { docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

if command -v dockerd >/dev/null 2>&1; then
  log "dockerd present ($(dockerd --version)), not installing"
else
  log "installing docker.io (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

if engine_up; then
  log "engine already running ($(docker info --format '{{.ServerVersion}} {{.Driver}}'))"
else
  log_file=${DOCKERD_LOG:-/tmp/dockerd.log}
  log "starting dockerd (overlay2), log in $log_file"
  # setsid: the daemon outlives this script and its process group.
  as_root setsid dockerd --storage-driver=overlay2 >"$log_file" 2>&1 </dev/null &
  for _ in $(seq 1 60); do engine_up && break; sleep 0.5; done
  engine_up || { log "dockerd did not answer within 30 s; last lines of $log_file:"; tail -20 "$log_file"; exit 1; }
  log "engine running ($(docker info --format '{{.ServerVersion}} {{.Driver}}'))"
fi

if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; then
  log "swarm already active"
else
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  log "swarm initialised on 127.0.0.1"
fi
