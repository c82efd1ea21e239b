#!/usr/bin/env bash
# Builds the Liaison runtime image offline, from a binary built on this host.
#
#   cargo build --release -p liaison-cli --bin liaison
#   deploy/build-image.sh [--binary target/release/liaison] [--tag liaison:local]
#
# For hosts that cannot pull images (no registry): the base is a minimal Debian bookworm
# root made with debootstrap from the host's own Debian mirror, imported with `docker import`
# once and cached; the image is then `docker build` of a tiny Dockerfile FROM that base that
# adds the binary and the non-root user — the same runtime stage as deploy/Dockerfile.
# Idempotent: a second run reuses the base image (or the cached root tarball) and Docker's
# build cache, and takes seconds.
#
# Environment (all optional):
#   LIAISON_BINARY      the binary to put in the image (default: target/release/liaison)
#   LIAISON_IMAGE       the tag to build (default: liaison:local)
#   LIAISON_CACHE_DIR   where the root tarball is cached (default: ~/.cache/liaison)
#   LIAISON_MIRROR      Debian mirror (default: the first deb.debian.org-style URI in
#                       /etc/apt/sources.list*, else http://deb.debian.org/debian)
#   LIAISON_SUITE       Debian suite (default: bookworm; must match the host's glibc or newer)
# Needs: docker, and for the first run debootstrap (apt-get install debootstrap) and root.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${LIAISON_BINARY:-target/release/liaison}
image=${LIAISON_IMAGE:-liaison:local}
while (($#)); do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --tag) image=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "build-image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
suite=${LIAISON_SUITE:-bookworm}
cache=${LIAISON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/liaison}
log() { printf 'build-image: %s\n' "$*" >&2; }

[[ -x $binary ]] || { log "no executable binary at $binary (cargo build --release -p liaison-cli --bin liaison)"; exit 1; }

mirror=${LIAISON_MIRROR:-}
if [[ -z $mirror ]]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

# What goes into the base root. minbase has libc, libgcc-s1, bash, coreutils and passwd
# (useradd); the binary needs nothing else (checked with ldd below).
packages=""
recipe="v1 $suite minbase $packages"
key=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
base="liaison-base:$suite-$key"

if ! docker image inspect "$base" >/dev/null 2>&1; then
  tarball="$cache/rootfs-$suite-$key.tar"
  if [[ ! -s $tarball ]]; then
    command -v debootstrap >/dev/null || { log "debootstrap is needed once: apt-get install debootstrap"; exit 1; }
    mkdir -p "$cache"
    root=$(mktemp -d "$cache/root.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    log "debootstrap $suite (minbase) from $mirror into $root (once; cached in $tarball)"
    debootstrap --variant=minbase ${packages:+--include=$packages} "$suite" "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { log "debootstrap failed; see $cache/debootstrap.log"; tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
    # Nothing the runtime needs: package caches and lists, documentation, locales.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    trap - EXIT
  fi
  log "importing $tarball as $base"
  docker import --change 'CMD ["/bin/bash"]' "$tarball" "$base" >/dev/null
fi

# The runtime stage of deploy/Dockerfile, FROM the imported base, with the host-built binary.
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
# Without debug symbols (the release profile keeps them): a third of the size.
if command -v strip >/dev/null; then strip -o "$ctx/liaison" "$binary"; else cp "$binary" "$ctx/liaison"; fi
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
RUN groupadd --system --gid 10001 liaison \\
 && useradd --system --uid 10001 --gid liaison --home-dir /var/lib/liaison \\
      --shell /usr/sbin/nologin liaison \\
 && install -d -o liaison -g liaison -m 0700 /var/lib/liaison \\
 && install -d -m 0755 /etc/liaison
COPY liaison /usr/local/bin/liaison
USER liaison:liaison
ENV LIAISON_CONFIG=/etc/liaison/node.toml
VOLUME ["/var/lib/liaison"]
EXPOSE 7400/udp
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \\
  CMD ["/usr/local/bin/liaison", "status"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/liaison"]
CMD ["node", "run"]
DOCKERFILE
log "building $image from $base with $binary"
if ! docker build -t "$image" "$ctx" >"$ctx/build.log" 2>&1; then
  log "docker build failed:"; cat "$ctx/build.log" >&2; exit 1
fi

# Every shared library the binary needs must resolve inside the image.
missing=$(docker run --rm --network none --entrypoint /usr/bin/ldd "$image" /usr/local/bin/liaison | grep 'not found' || true)
if [[ -n $missing ]]; then
  log "the image lacks libraries the binary needs:"; echo "$missing" >&2; exit 1
fi
docker run --rm --network none "$image" --version >/dev/null
log "built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$image"
