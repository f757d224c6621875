#!/bin/sh
# deps.sh -- makes sure the Debian packages the build and the tests need are
# installed.  As root it installs what is missing; otherwise it prints the one
# apt-get line to run and fails.  Quiet when nothing is missing.
set -eu

PACKAGES="gcc make pkg-config libc6-dev libpam0g-dev libevent-dev libssl-dev libyajl-dev
libqrencode-dev libjwt-dev libseccomp-dev libcmocka-dev clang libclang-rt-14-dev python3 python3-pytest valgrind
util-linux mount
binutils ca-certificates openssl python3-cryptography zbar-tools openssh-server
openssh-client python3-paramiko python3-pexpect python3-yaml sudo
scdoc man-db groff-base dpkg-dev debhelper fakeroot lintian adduser systemd"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages; install them with:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing missing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
