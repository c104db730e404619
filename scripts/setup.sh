#!/usr/bin/env bash
# Installs what tenantfold needs on a fresh Debian/Ubuntu machine with Node 20:
# the nats-server binary (JetStream) and the npm dependencies. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v nats-server >/dev/null 2>&1; then
  echo "setup: installing nats-server (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
fi
echo "setup: $(nats-server --version)"

# Native modules (isolated-vm, better-sqlite3) build from source here; keep a
# built node_modules when the lockfile has not changed.
stamp=node_modules/.tenantfold-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup: node_modules up to date"
else
  echo "setup: npm ci (native modules compile; a few minutes on 2 cores)"
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
