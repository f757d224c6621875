#!/bin/sh
# run_integration.sh [PYTEST ARGS] -- runs the Python integration tests in a
# private mount namespace (tools/private_dev.sh): their /dev/log is their own,
# so log lines can be asserted without a syslog daemon, and sshd's PAM stack
# and users are bind mounts nobody else sees.  Needs root, as CI runs.
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- tests/integration
exec tools/private_dev.sh /usr/bin/python3 -m pytest -p no:cacheprovider -q -rs "$@"
