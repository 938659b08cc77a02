#!/usr/bin/env bash
# Installs what gostall and its tests need on a fresh Debian/Ubuntu machine with Node 20+:
# Debian packages (when root and missing), npm dependencies, the build, and tracefs.
set -euo pipefail
cd "$(dirname "$0")/.."

# bpftrace runs the probes; golang-go (with gcc for cgo) and gopls are the traced workloads; fuse3 + fusepy,
# e2fsprogs, util-linux (losetup), passwd (useradd) and strace reproduce faults and baselines;
# chromium (headless, driven by playwright-core) renders the report page in its tests; openssl makes the
# throw-away CA and certificates of the TLS export tests (https and gRPC); git is the VCS go runs with
# GOPROXY=direct (module-download scenarios); iproute2 makes their network namespaces; tmux is the real
# terminal of the job-control test (Ctrl-Z, fg, Ctrl-C); perl-base (Essential, named for clarity) runs
# gostall run's shim; bpftool plants, in the agent's real map, the ids a missed free leaves behind (stale-ids test).
# Deployment tests: podman + runc + debootstrap build and run the container image; systemd
# (systemd-analyze, offline: systemd is not booted) checks the unit; libcap2-bin (capsh) runs
# gostall as a non-root user holding capabilities; sprig + yaml.v3 (Go sources) render the Helm chart
# in test/deploy/helm-render (no helm package in Debian 12).
PKGS=(bpftrace golang-go gcc libc6-dev gopls fuse3 python3-fusepy strace e2fsprogs util-linux passwd procps iproute2 ca-certificates chromium openssl git tmux perl-base bpftool
  podman runc debootstrap systemd libcap2-bin golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; run this script as root (sudo) to install them" >&2
    exit 2
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node -e 'const [M]=process.versions.node.split(".").map(Number); if (M < 20) { console.error(`setup: Node ${process.version} is too old: gostall needs Node 20+`); process.exit(2); }'

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build

# bpftrace 0.17 needs tracefs mounted to find tracepoints.
if [ "$(id -u)" -eq 0 ] && [ ! -d /sys/kernel/tracing/events/syscalls ] && [ ! -d /sys/kernel/debug/tracing/events/syscalls ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || mount -t debugfs nodev /sys/kernel/debug 2>/dev/null || true
fi
