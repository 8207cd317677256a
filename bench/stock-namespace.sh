#!/bin/sh
# The stock OPNsense script's fixed paths, led to a scratch tree ROOT, for the command it runs and
# its children only. Run it in a private mount namespace of its own (as root):
#
#   unshare --mount --propagation private sh stock-namespace.sh ROOT COMMAND [ARG...]
#
#   /run (/var/run)   ROOT/run     carp_service_status.lock
#   /usr/local/etc    ROOT/etc     rc.carp_service_status.d (a link bench/stock-php.ts points at the hooks)
#   /sbin             ROOT/sbin    the repository's fake FreeBSD sysctl (and logger), which keep their state there
#   /dev              ROOT/dev     the host's devices, and ROOT/dev/log: the socket syslog(3) sends to
#
# The mounts end with the namespace, when COMMAND and its children have exited: nothing on the
# machine changes. -n: write no mount table (/run/mount/utab) anywhere.
set -eu
root=$1
shift

mount -n --bind "$root/run" /run
for node in null zero full random urandom tty ptmx; do
	if [ -e "/dev/$node" ]; then mount -n --bind "/dev/$node" "$root/dev/$node"; fi
done
for dir in pts shm mqueue; do
	if [ -d "/dev/$dir" ]; then mount -n --rbind "/dev/$dir" "$root/dev/$dir"; fi
done
mount -n --rbind "$root/dev" /dev
mount -n --bind "$root/etc" /usr/local/etc
mount -n --bind "$root/sbin" /sbin
exec "$@"
