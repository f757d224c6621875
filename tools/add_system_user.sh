#!/bin/sh
# add_system_user.sh [PREFIX] -- creates the helper's unprivileged system user
# and group, _pam_authelia, unless they exist (run again, it does nothing).
# `make install` runs it as root without DESTDIR; the Debian package creates
# the same user.  No home, no shell, no password: the helper switches to it
# after reading what needs root, before it talks to the network.  PREFIX (for
# tests) names another root whose etc/passwd and etc/group are changed.
set -eu
user=_pam_authelia
prefix=${1:-}
passwd=${prefix}/etc/passwd
group=${prefix}/etc/group

# /etc/passwd itself, as the helper reads it (not NSS).
if cut -d: -f1 "$passwd" | grep -qx "$user"; then
	exit 0
fi
set -- --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
	--comment "pam_authelia helper"
[ -n "$prefix" ] && set -- --prefix "$prefix" "$@"
if cut -d: -f1 "$group" | grep -qx "$user"; then
	set -- "$@" --gid "$user" # a group left behind, by an earlier package say
else
	set -- "$@" --user-group
fi
useradd "$@" "$user"
echo "created system user $user ($(grep "^$user:" "$passwd" | cut -d: -f3,4 | tr : /))"
