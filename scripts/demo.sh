#!/usr/bin/env bash
# The main job: set up what is missing, trace a real cold-cache Go build with gostall,
# write the trace (OTLP JSON lines) and print the diagnosis.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"

work="$(mktemp -d /tmp/gostall-demo.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/app"
cat > "$work/app/go.mod" <<'GOMOD'
module example.com/gostall-demo

go 1.19
GOMOD
cat > "$work/app/main.go" <<'GOSRC'
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
)

func main() {
	b, _ := json.Marshal(map[string]int{"status": http.StatusOK})
	fmt.Println(string(b))
}
GOSRC

out="${GOSTALL_DEMO_OUT:-$root/gostall-demo.otlp.jsonl}"
rm -f "$out" "${out%.otlp.jsonl}.html"
cd "$work/app"
# A cold build cache, so the build really compiles net/http and its dependencies.
export GOCACHE="$work/gocache" GOMODCACHE="$work/gomodcache" GOPATH="$work/gopath" GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local
echo "gostall demo: tracing a cold-cache 'go build' of a module importing net/http…" >&2
set +e
"$root/bin/gostall" run --out "$out" --html "${out%.otlp.jsonl}.html" -- go build -o "$work/app/demo" ./...
rc=$?
set -e
echo "gostall demo: the trace is in $out (load it into an OpenTelemetry Collector's otlpjsonfile receiver, or see README.md);" >&2
echo "gostall demo: open ${out%.otlp.jsonl}.html in a browser for the process-tree waterfall" >&2
exit $rc
