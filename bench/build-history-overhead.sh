#!/bin/sh
# Overhead of the build history (issue 13, "why it rebuilt"): paired, alternated cold
# `go build ./...` runs of a module of PKGS library packages (3 files each) through `gostall
# run`, with the history (the default: every compiled package's files are stat'ed and hashed
# after the build, the record compared and written) and with --no-history. A cold build is the
# history's worst case: every package was compiled, so every file is read. Prints each pair and
# the median ratio on/off of the wall time. Needs root, bpftrace and go; writes only under a
# temp directory.
#   PAIRS=5 PKGS=100 sh bench/build-history-overhead.sh
set -eu
PAIRS=${PAIRS:-5}
PKGS=${PKGS:-100}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/gostall-history-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/app"
printf 'module example.org/historybench\n\ngo 1.19\n' > "$work/app/go.mod"
i=1
while [ $i -le "$PKGS" ]; do
  mkdir -p "$work/app/p$i"
  for f in a b c; do printf 'package p%s\n\nfunc %s%s(x int) int { return x * %s }\n' $i "$(echo $f | tr a-c A-C)" $i $i > "$work/app/p$i/$f.go"; done
  i=$((i + 1))
done
one() { # $1: on|off; prints wall seconds
  rm -rf "$work/cache"
  flag=""; [ "$1" = off ] && flag="--no-history"
  start=$(date +%s.%N)
  (cd "$work/app" && XDG_STATE_HOME="$work/state" GOSTALL_AGENT_SOCKET="$work/none.sock" GOCACHE="$work/cache" GOFLAGS=-mod=mod \
    node "$repo/bin/gostall.js" run $flag --out "$work/t.jsonl" -- go build ./... 2>/dev/null)
  end=$(date +%s.%N)
  grep -q '"go.rebuild.build"' "$work/t.jsonl" && seen=on || seen=off
  [ "$seen" = "$1" ] || { echo "the history was $seen in the $1 run" >&2; exit 1; }
  rm -f "$work/t.jsonl"
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}
. "$repo/bench/paired-on-off.sh"
run_pairs
