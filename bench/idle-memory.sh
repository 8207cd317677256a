#!/usr/bin/env bash
# Starts a command (a daemon), lets it idle, prints its private (anonymous) memory and RSS from
# /proc, and stops it. Linux only.
#   IDLE=60 bash bench/idle-memory.sh ./dist/carp-service-status daemon --syslog --config c.toml
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: [IDLE=seconds] bash bench/idle-memory.sh CMD [ARG...]" >&2
  exit 2
fi
"$@" >/dev/null 2>&1 &
pid=$!
sleep "${IDLE:-12}"
if ! grep -E "^(RssAnon|VmRSS):" "/proc/$pid/status" | tr -s ' \t' ' ' | tr '\n' ' '; then
  echo "the command exited before it was measured" >&2
  exit 1
fi
echo
kill "$pid"
wait "$pid" 2>/dev/null || true
