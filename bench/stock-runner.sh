#!/bin/sh
# The stock OPNsense carp_service_status, restated in POSIX sh for side-by-side figures:
# one exclusive flock for the whole run, hooks one after another in name order with their
# output thrown away and no timeout, then read the demotion, test 2^20, write and log.
# Usage: stock-runner.sh HOOKS_DIR SYSCTL LOGGER LOCK_FILE
hooks_dir=$1 sysctl=$2 logger=$3 lock_file=$4

exec 9>"$lock_file"
flock 9

failed=""
for hook in "$hooks_dir"/*; do
	[ -f "$hook" ] && [ -x "$hook" ] || continue
	if ! "$hook" >/dev/null 2>&1; then
		failed="${failed:+$failed,}${hook##*/}"
	fi
done

demotion=$("$sysctl" -n net.inet.carp.demotion)
if [ -n "$failed" ] && [ $((demotion & 1048576)) -eq 0 ]; then
	"$logger" -t carp -p daemon.warning "carp demoted by 1048576 due to service disruption (services: $failed)"
	"$sysctl" net.inet.carp.demotion=1048576 >/dev/null
elif [ -z "$failed" ] && [ $((demotion & 1048576)) -ne 0 ]; then
	"$logger" -t carp -p daemon.warning "carp promoted by 1048576 due to service recovery"
	"$sysctl" net.inet.carp.demotion=-1048576 >/dev/null
fi
exit 0
