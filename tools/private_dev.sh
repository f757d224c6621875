#!/bin/sh
# private_dev.sh COMMAND... -- runs COMMAND as root in a private mount
# namespace whose /dev is a copy of the host's plus a /dev/log of its own, so
# the helper's syslog lines can be read without a syslog daemon, and bind
# mounts made inside (a PAM stack, passwd) are seen by nothing outside.  The
# host's /dev and /etc are never changed.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (a private mount namespace)" >&2
	exit 1
fi
mkdir -p build/devsave
exec unshare --mount --propagation private sh -eu -c '
	saved=$PWD/build/devsave
	mount --rbind /dev "$saved"
	mount -t tmpfs -o mode=0755 tmpfs /dev
	for n in null zero full random urandom tty; do
		[ -e "$saved/$n" ] || continue
		touch "/dev/$n"
		mount --bind "$saved/$n" "/dev/$n"
	done
	mkdir /dev/pts /dev/shm
	mount --rbind "$saved/pts" /dev/pts
	mount --rbind "$saved/shm" /dev/shm
	ln -s /proc/self/fd /dev/fd
	ln -s pts/ptmx /dev/ptmx # new ptys come from the devpts instance at /dev/pts
	PAM_AUTHELIA_PRIVATE_DEV=1 exec "$@"
' sh "$@"
