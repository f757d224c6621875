#!/bin/sh
# system_account.sh [DESTDIR] -- creates the helper's system account
# _pam_authelia (group _pam_authelia, no home, no login shell), which its
# sandbox runs as; called by `make install`.  Idempotent.  A DESTDIR install
# only stages files, so there it prints a note and changes nothing; so it does
# when not run as root.  The Debian package creates the same account in its
# postinst (debian/libpam-authelia.postinst).
set -eu
NAME=_pam_authelia
destdir=${1:-}

if [ -n "$destdir" ]; then
	echo "note: DESTDIR install: the system account $NAME was not created; on the target run" \
		"as root: adduser --system --group --no-create-home --home /nonexistent $NAME"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "note: not root: the system account $NAME was not created"
	exit 0
fi
if ! getent group "$NAME" >/dev/null; then
	if command -v addgroup >/dev/null 2>&1; then
		addgroup --system --quiet "$NAME"
	else
		groupadd --system "$NAME"
	fi
fi
if getent passwd "$NAME" >/dev/null; then
	exit 0
fi
if command -v adduser >/dev/null 2>&1; then
	adduser --system --ingroup "$NAME" --no-create-home --home /nonexistent \
		--shell /usr/sbin/nologin --quiet "$NAME"
else
	nologin=$(command -v nologin || echo /usr/sbin/nologin)
	useradd --system --gid "$NAME" --no-create-home --home-dir /nonexistent \
		--shell "$nologin" "$NAME"
fi
echo "created the system account $NAME"
