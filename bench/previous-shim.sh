#!/bin/sh
# The shim as installed before its warm path went through nc(1) (up to commit 272d5ef), kept only
# so that `bun run bench` can time it beside today's; bench/bench.ts fills in the placeholders.
# It starts the executable's `trigger` for every stock event, daemon or not.

errors=$(%%BINARY%% trigger 2>&1 >/dev/null)
status=$?
if [ "$status" -ge 2 ]; then
	%%LOGGER%% -t carp-service-status -p daemon.err \
	    "carp_service_status shim: evaluation failed (exit status $status): $(printf '%s\n' "$errors" | /usr/bin/tail -n 1)"
fi
exit 0
