#!/usr/bin/env bash
# Builds a nats-server image on a host with no image registry from this host's
# nats-server (Debian's is dynamically linked: libc and the loader come along),
# with busybox for `wget` health checks. Runs as user nats (uid 1000) with
# JetStream data under /data.
# Usage: docker/build-nats-image.sh [TAG]   (default tenantfold/nats:<version>)
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=docker/rootfs.sh
. ./rootfs.sh

nats_bin=$(command -v nats-server) || { rootfs_log "nats-server not found (npm run setup installs it)"; exit 1; }
version=$("$nats_bin" --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+')
tag=${1:-tenantfold/nats:$version}
rootfs_start "$tag"
rootfs_add_binary "$rootfs" "$(readlink -f "$nats_bin")" /usr/local/bin/nats-server
rootfs_add_busybox "$rootfs"
rootfs_add_user "$rootfs" nats 1000
rootfs_writable "$rootfs" /data

rootfs_import "$rootfs" 1000 "$tag" \
  --change 'USER nats' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENTRYPOINT ["/usr/local/bin/nats-server"]' \
  --change 'CMD ["-js", "-sd", "/data", "-a", "127.0.0.1", "-m", "8222"]' \
  --change 'HEALTHCHECK --interval=5s --timeout=10s --retries=6 CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8222/healthz"]'
