# shellcheck shell=bash
# Helpers to build a minimal image from binaries of this host, with no
# registry: a root filesystem holding the binaries plus exactly the shared
# libraries `ldd` lists, a static busybox for a shell and HTTP health checks,
# then `docker import`. Sourced by build-base-image.sh and build-nats-image.sh.

rootfs_log() { echo "$(basename "$0"): $*"; }

# rootfs_start TAG: when image TAG exists (a tag names one version of the
# binaries), prints its summary and exits; else sets $rootfs to a fresh tree,
# removed on exit.
rootfs_start() {
  if docker image inspect "$1" >/dev/null 2>&1; then
    rootfs_log "$1 exists (same version), kept"
    rootfs_summary "$1"
    exit 0
  fi
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  rootfs_new "$rootfs"
}

# rootfs_new DIR: an empty tree (mode 755, or the image is unusable for non-root users).
rootfs_new() {
  rm -rf "$1"
  mkdir -p "$1"/{bin,etc,lib,usr/bin,usr/local/bin,tmp,writable}
  chmod 755 "$1"
  chmod 1777 "$1/tmp"
}

# rootfs_add_binary DIR PATH [DEST]: the binary (at DEST, default PATH) and
# every library it links, at the paths the loader looks for them.
rootfs_add_binary() {
  local dir=$1 bin=$2 dest=${3:-$2} lib
  install -D -m 755 "$bin" "$dir$dest"
  for lib in $(ldd "$bin" | grep -oE '/[^ ]+'); do
    [ -e "$dir$lib" ] || install -D -m 755 "$(readlink -f "$lib")" "$dir$lib"
  done
}

# rootfs_add_busybox DIR: a static busybox with its applets as /bin links.
rootfs_add_busybox() {
  local bb applet sudo
  bb=$(command -v busybox) || {
    rootfs_log "installing busybox-static (Debian package)"
    if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
    bb=$(command -v busybox)
  }
  ldd "$bb" >/dev/null 2>&1 && { rootfs_log "$bb is not static; install busybox-static"; exit 1; }
  install -m 755 "$bb" "$1/bin/busybox"
  for applet in $("$bb" --list); do
    [ -e "$1/bin/$applet" ] || ln -s busybox "$1/bin/$applet"
  done
}

# rootfs_add_user DIR NAME UID: /etc/passwd and /etc/group with root and NAME,
# and NAME's home among the writable paths (owned by UID in the image).
rootfs_add_user() {
  printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:%s:%s::/home/%s:/bin/sh\n' "$2" "$3" "$3" "$2" >"$1/etc/passwd"
  printf 'root:x:0:\n%s:x:%s:\n' "$2" "$3" >"$1/etc/group"
  rootfs_writable "$1" "/home/$2"
}

# rootfs_writable DIR PATH: an empty directory PATH owned by the image's user.
rootfs_writable() {
  mkdir -p "$1$(dirname "$2")" "$1/writable$2"
}

# rootfs_import DIR UID TAG [--change …]: imports DIR as image TAG, owned by
# root except the rootfs_writable directories (owned by UID); prints its summary.
rootfs_import() {
  local dir=$1 uid=$2 tag=$3 tarball
  shift 3
  tarball=$(mktemp --suffix=.tar)
  tar -cf "$tarball" --numeric-owner --owner=0 --group=0 --exclude=./writable -C "$dir" .
  # shellcheck disable=SC2046 # one path per writable leaf directory
  tar -rf "$tarball" --numeric-owner --owner="$uid" --group="$uid" -C "$dir/writable" \
    $(cd "$dir/writable" && find . -mindepth 1 -type d -empty)
  docker import "$@" "$tarball" "$tag" >/dev/null
  rm -f "$tarball"
  rootfs_log "$tag built"
  rootfs_summary "$tag"
}

# rootfs_summary TAG: one stdout line "<tag> <size> <image id>" for callers.
rootfs_summary() {
  docker image inspect --format '{{.Size}} {{.Id}}' "$1" | awk -v tag="$1" '{printf "image %s %.0fMB %s\n", tag, $1/1e6, $2}'
}
