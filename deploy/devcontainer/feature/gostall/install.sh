#!/usr/bin/env bash
# Dev Container Feature install step (runs as root while the image is built): installs
# bpftrace and gostall, writes the agent's configuration from the Feature's options and
# the entrypoint that starts the agent with the container.
# Options arrive as environment variables: ENDPOINT, EXECUTABLES, OUTPUTDIRECTORY, PACKAGE;
# the devcontainer CLI also says who will work in the container (_REMOTE_USER).
set -euo pipefail

ENDPOINT="${ENDPOINT:-}"
EXECUTABLES="${EXECUTABLES:-}"
OUTPUTDIRECTORY="${OUTPUTDIRECTORY:-/var/lib/gostall/traces}"
PACKAGE="${PACKAGE:-gostall}"
SHARE=/usr/local/share/gostall
here="$(cd "$(dirname "$0")" && pwd)"

fail() { echo "gostall feature: $*" >&2; exit 1; }

# bpftrace (0.17 on Debian 12 / Ubuntu 22.04+) and setpriv.
command -v apt-get >/dev/null || fail "only Debian and Ubuntu based images are supported (apt-get not found)"
missing=()
for p in bpftrace util-linux ca-certificates; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -rf /var/lib/apt/lists/*
fi

# Node 20+ and npm come from the node Feature (dependsOn in devcontainer-feature.json).
command -v node >/dev/null || fail "node not found: add the feature ghcr.io/devcontainers/features/node:1 with version 20"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || fail "node $(node --version) is too old: gostall needs Node 20+ (node feature, version 20)"
command -v npm >/dev/null || fail "npm not found (it comes with the node feature)"
case "$PACKAGE" in
  */*.tgz|./*|/*) [ -e "$PACKAGE" ] || PACKAGE="$here/$PACKAGE" ;;
esac
npm install -g --no-audit --no-fund --loglevel=error "$PACKAGE"
gostall --version

# `gostall run` through the agent (no root, no probes per command) for the members of the
# group gostall: the user who works in the container is made one.
groupadd -f gostall
if [ -n "${_REMOTE_USER:-}" ] && [ "${_REMOTE_USER}" != root ] && id -u "${_REMOTE_USER}" >/dev/null 2>&1; then
  usermod -aG gostall "${_REMOTE_USER}"
fi
# The socket's directory, made now with the group: set-group-ID, so the agent needs no
# CAP_CHOWN to hand the socket to the group (where /run is a fresh tmpfs at run time, the
# agent makes it itself, which takes CAP_CHOWN: Docker's default set has it).
install -d -m 2750 -o root -g gostall /run/gostall

# The agent's configuration from the options; gostall validates it here, at build time.
mkdir -p "$SHARE" "$OUTPUTDIRECTORY" /var/lib/gostall
chmod 0700 /var/lib/gostall
ENDPOINT="$ENDPOINT" EXECUTABLES="$EXECUTABLES" OUTPUTDIRECTORY="$OUTPUTDIRECTORY" node -e '
  const cfg = { stateDir: "/var/lib/gostall", export: { out: process.env.OUTPUTDIRECTORY + "/agent.otlp.jsonl" }, run: { group: "gostall" } };
  if (process.env.ENDPOINT) cfg.export.endpoint = process.env.ENDPOINT;
  const names = process.env.EXECUTABLES.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length) cfg.executables = names;
  process.stdout.write(JSON.stringify(cfg, null, 2) + "\n");
' > "$SHARE/agent.json"
gostall agent --config "$SHARE/agent.json" --print-config >/dev/null
printf '%s\n' "$OUTPUTDIRECTORY" > "$SHARE/output-directory"
install -m 0755 "$here/entrypoint.sh" "$SHARE/entrypoint.sh"
echo "gostall feature: installed; the agent starts with the container (log: $OUTPUTDIRECTORY/agent.log)"
