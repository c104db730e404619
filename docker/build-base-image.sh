#!/usr/bin/env bash
# Builds a Node base image on a host with no image registry: this host's
# /usr/bin/node (the same binary the host-built native modules were compiled
# against), its libraries, /usr/bin/env, a static busybox, a `node` user
# (uid 1000) and the CA bundle. Use it as the Dockerfile's BASE_IMAGE.
# Usage: docker/build-base-image.sh [TAG]   (default tenantfold/node-base:<node version>)
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=docker/rootfs.sh
. ./rootfs.sh

node_bin=$(readlink -f "$(command -v node)")
version=$("$node_bin" --version)
tag=${1:-tenantfold/node-base:${version#v}}
rootfs_start "$tag"
rootfs_add_binary "$rootfs" "$node_bin" /usr/local/bin/node
# coreutils env: npm bin shebangs use `env -S`, which busybox's env lacks.
rootfs_add_binary "$rootfs" "$(readlink -f /usr/bin/env)" /usr/bin/env
rootfs_add_busybox "$rootfs"
rootfs_add_user "$rootfs" node 1000
install -D -m 644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"

rootfs_import "$rootfs" 1000 "$tag" \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]'
