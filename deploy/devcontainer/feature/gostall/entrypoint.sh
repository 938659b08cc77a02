#!/bin/sh
# Dev Container Feature entrypoint: starts the gostall agent in the background, then runs the
# container's command. The agent needs uid 0 and the Feature's capabilities; without them it
# says why in its log (and `gostall doctor` says how to fix it) and the container still starts.
SHARE=/usr/local/share/gostall
out=$(cat "$SHARE/output-directory" 2>/dev/null || echo /tmp)
if [ "$(id -u)" = 0 ]; then
  nohup gostall agent --config "$SHARE/agent.json" >>"$out/agent.log" 2>&1 &
else
  echo "gostall: the agent needs root (containerUser root; remoteUser may be anyone)" >>"$out/agent.log" 2>/dev/null
fi
exec "$@"
