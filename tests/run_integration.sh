#!/bin/sh
# run_integration.sh -- runs the Python integration tests in a private mount
# namespace whose /dev carries a /dev/log of our own, so the helper's syslog
# lines can be asserted without a syslog daemon and without touching the host.
# Needs root (as CI runs); the real libpam is used, with a private PAM
# configuration directory per test.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "integration tests need root (a private mount namespace for /dev/log)" >&2
	exit 1
fi
mkdir -p build/devsave
[ $# -gt 0 ] || set -- tests/integration
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
	PAM_AUTHELIA_PRIVATE_DEV=1 exec /usr/bin/python3 -m pytest -p no:cacheprovider \
		-q -rs "$@"
' sh "$@"
