#!/usr/bin/env bash
# Builds the tenantfold images on a host with no image registry: the base and
# nats images from this host's binaries, then the node, router and controller
# targets of docker/Dockerfile from the host's build (npm run build) and its
# node_modules (native modules compiled by npm ci here, for this Node binary).
# Prints `<name>=<image id>` lines on stdout (e.g. for `source`); logs on stderr.
# Usage: docker/build-images.sh [--no-build] [TAG]   (default dev; --no-build: use dist/ as it is)
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
[ "${1:-}" = --no-build ] && { build=0; shift; }
tag=${1:-dev}
log() { echo "build-images: $*" >&2; }
# The 20.10 client has BuildKit (skips unused stages); a newer client without buildx may not.
docker_build=(env DOCKER_BUILDKIT=1 "$(command -v /usr/bin/docker || command -v docker)" build --network host -q)

image_id() { docker image inspect --format '{{.Id}}' "$1"; }
# BuildKit resolves FROM by tag from the local store (an ID would be pulled).
base=$(bash docker/build-base-image.sh | awk '/^image /{print $2}')
nats=$(bash docker/build-nats-image.sh | awk '/^image /{print $NF}')

if [ "$build" = 1 ]; then
  log "npm run build"
  npm run build --silent >&2
fi
context=.tmp/docker-context
sh docker/assemble-app.sh . "$context/app" >&2

echo "NATS_IMAGE=$nats"
for target in node router controller; do
  "${docker_build[@]}" -f docker/Dockerfile --build-arg "BASE_IMAGE=$base" --build-arg APP=prebuilt \
    --target "$target" -t "tenantfold/$target:$tag" "$context" >/dev/null
  log "tenantfold/$target:$tag $(image_id "tenantfold/$target:$tag")"
  echo "$(echo "$target" | tr '[:lower:]' '[:upper:]')_IMAGE=$(image_id "tenantfold/$target:$tag")"
done
# Rebuilds leave the previous images untagged; drop those no container uses.
docker image prune -f --filter label=org.opencontainers.image.title=tenantfold >/dev/null
