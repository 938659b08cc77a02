#!/bin/sh
# Overhead of the Go build cache probe block (issue 13): paired, alternated cold `go build -a`
# runs of a small module through `gostall run`, with the block on (the default) and off (a
# bpftrace wrapper that loads the program without the block and its openat entry hook, and
# passes an empty GOCACHE prefix, $70/$71 = '' 0). Prints each pair and the median ratio
# on/off of the wall time. Needs root, bpftrace and go; writes only under a temp directory.
#   PAIRS=5 sh bench/gocache-overhead.sh
set -eu
PAIRS=${PAIRS:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/gostall-gocache-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/app"
printf 'module example.org/gocachebench\n\ngo 1.19\n' > "$work/app/go.mod"
printf 'package main\n\nimport (\n\t"encoding/json"\n\t"fmt"\n\t"sort"\n\t"strings"\n)\n\nfunc main() {\n\tb, _ := json.Marshal(sort.StringSlice{"a"})\n\tfmt.Println(strings.ToUpper(string(b)))\n}\n' > "$work/app/main.go"
bt=$(command -v bpftrace)
cat > "$work/bpftrace-off" <<W
#!/bin/sh
# -B line SCRIPT ARGS...: run a copy of SCRIPT without the Go build cache block and its
# openat entry hook (lines blanked, so line numbers stay), with the watch turned off too
[ "\$1" = -B ] && [ "\$2" = line ] || exec $bt "\$@"
src=\$3; shift 3
sed -e '/---- Go build cache (issue 13)/,/---- end Go build cache ----/s/.*//' \\
    -e 's/ if (\$71 > 0 && comm == "go") { @gcWrite\[tid\] = (args->args\[2\] & 0x43) != 0; }//' \\
    -e '/@gcWrite\[tid\] = (args->flags/s/.*//' "\$src" > "$work/off.bt"
n=\$#; i=0
for a in "\$@"; do i=\$((i+1)); shift; if [ \$i -le \$((n-2)) ]; then set -- "\$@" "\$a"; fi; done
exec $bt -B line "$work/off.bt" "\$@" '' 0
W
chmod 755 "$work/bpftrace-off"
one() { # $1: on|off; prints wall seconds
  rm -rf "$work/cache"
  start=$(date +%s.%N)
  if [ "$1" = off ]; then
    (cd "$work/app" && GOSTALL_BPFTRACE="$work/bpftrace-off" GOCACHE="$work/cache" GOFLAGS=-mod=mod node "$repo/bin/gostall.js" run --out "$work/t.jsonl" -- go build -a -o "$work/bin" . 2>/dev/null)
  else
    (cd "$work/app" && GOCACHE="$work/cache" GOFLAGS=-mod=mod node "$repo/bin/gostall.js" run --out "$work/t.jsonl" -- go build -a -o "$work/bin" . 2>/dev/null)
  fi
  end=$(date +%s.%N)
  grep -q '"gostall.gocache.misses"' "$work/t.jsonl" && seen=on || seen=off
  [ "$seen" = "$1" ] || { echo "probe block was $seen in the $1 run" >&2; exit 1; }
  rm -f "$work/t.jsonl"
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}
. "$repo/bench/paired-on-off.sh"
run_pairs
