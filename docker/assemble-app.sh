#!/bin/sh
# Assembles the runtime tree of the three tenantfold services from a built
# checkout (npm ci + tsc -b done): their workspace packages (package.json and
# what its `files` ship), only the production dependencies they reach (so the
# test kit and its testcontainers stay out; wire ships the protos), the example
# manifest, the health check, and /bin links for the three commands. Used by
# the Dockerfile's compiled stage and by docker/build-images.sh for offline
# builds (host-built native modules).
# Usage: docker/assemble-app.sh SRC DEST
set -eu
src=$(cd "$1" && pwd)
dest=$2
apps="aggregate-node gateway-router placement-controller"

rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/docker"
dest=$(cd "$dest" && pwd)

workspaces=""
for app in $apps; do workspaces="$workspaces -w packages/$app"; done
# `npm ls` exits non-zero on mere warnings (e.g. engine ranges); an empty list is the real failure.
# shellcheck disable=SC2086 # one -w flag per app
list=$(cd "$src" && { npm ls --omit=dev --all --parseable $workspaces 2>/dev/null || true; })
echo "$list" | grep -q "/node_modules/" || { echo "assemble-app: npm ls listed no dependencies in $src" >&2; exit 1; }

# Sorted, a package directory comes before the ones nested in it; copy only the outermost.
copied=""
for path in $(echo "$list" | grep "^$src/node_modules/" | sed "s|^$src/||" | sort -u); do
  case "$path" in
    node_modules/@tenantfold/*)
      pkg=$(readlink "$src/$path" | sed 's|.*/packages/||')
      mkdir -p "$dest/packages/$pkg" "$dest/node_modules/@tenantfold"
      # What the package ships (its `files`: dist/, and e.g. the generated parser or the protos).
      files=$(node -p "require('$src/packages/$pkg/package.json').files.join(' ')")
      # shellcheck disable=SC2086 # one word a path
      (cd "$src/packages/$pkg" && cp -a package.json $files "$dest/packages/$pkg/")
      ln -s "../../packages/$pkg" "$dest/$path"
      ;;
    *)
      if [ -n "$copied" ] && case "$path/" in "$copied"/*) true ;; *) false ;; esac; then continue; fi
      (cd "$src" && cp -a --parents "$path" "$dest/")
      copied=$path
      ;;
  esac
done

cp -a "$src/examples" "$dest/"
cp -a "$src/docker/healthcheck.mjs" "$src/docker/env-from-files.mjs" "$dest/docker/"
# tsc writes the entry points without the execute bit that npm's bin links would set.
for bin in aggregate-node:tenantfold-node gateway-router:tenantfold-router placement-controller:placementctl; do
  main=packages/${bin%%:*}/dist/main.js
  [ -f "$dest/$main" ] && chmod 755 "$dest/$main"
  ln -s "../$main" "$dest/bin/${bin#*:}"
done
echo "assemble-app: $dest ($(du -sh "$dest" | cut -f1))"
