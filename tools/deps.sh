#!/bin/sh
# deps.sh [--list] [build|deb|test|all] -- makes sure the Debian packages a
# step needs are installed.  As root it installs what is missing; otherwise it
# prints the one apt-get line to run and fails.  Quiet when nothing is
# missing.  --list prints the step's packages and installs nothing.
#   build  what `make` and `make install` need (debian/control's
#          Build-Depends, plus make and the compiler)
#   deb    and what `make deb` needs besides
#   test   what only the tests, fuzzers, benchmark and demo need (make check)
#   all    every one of them (the default)
set -eu
list=false
if [ "${1:-}" = --list ]; then
	list=true
	shift
fi

BUILD="gcc make pkg-config libc6-dev libpam0g-dev libevent-dev libssl-dev libyajl-dev
libqrencode-dev libjwt-dev libseccomp-dev scdoc"
DEB="dpkg-dev debhelper fakeroot"
# cmocka (unit tests), clang + its fuzzer runtime (make fuzz), llvm-14
# (llvm-profdata and llvm-cov for make fuzz-coverage), valgrind; python
# and the tools the integration tests drive: unshare/mount (util-linux,
# mount), readelf (binutils), a test CA (openssl, python3-cryptography), QR
# codes read back (zbar-tools), a real sshd and ssh, sudo, a journald of the
# tests' own (systemd), man pages rendered (man-db, groff-base), the package
# installed and checked (lintian, adduser).
TEST="libcmocka-dev clang libclang-rt-14-dev llvm-14 valgrind python3 python3-pytest
util-linux mount binutils ca-certificates openssl python3-cryptography zbar-tools
openssh-server openssh-client python3-paramiko python3-pexpect python3-yaml sudo systemd
man-db groff-base lintian adduser"

case "${1:-all}" in
build) PACKAGES=$BUILD ;;
deb) PACKAGES="$BUILD $DEB" ;;
test) PACKAGES=$TEST ;;
all) PACKAGES="$BUILD $DEB $TEST" ;;
*)
	echo "usage: tools/deps.sh [--list] [build|deb|test|all]" >&2
	exit 2
	;;
esac
if $list; then
	echo $PACKAGES
	exit 0
fi

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
