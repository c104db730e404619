#!/usr/bin/env bash
# Installs what tenantfold needs on a fresh Debian/Ubuntu machine with Node 20:
# the nats-server binary (JetStream) and the npm dependencies. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: nats-server (JetStream) for tests and the dev cluster,
# prometheus for promtool (tests check /metrics with it).
missing=()
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} (Debian packages)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: $(nats-server --version), $(promtool --version 2>&1 | head -1)"

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
