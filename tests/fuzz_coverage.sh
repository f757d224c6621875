#!/bin/sh
# fuzz_coverage.sh DIR TARGET... -- line coverage of the committed fuzz corpora
# alone: each target of the coverage build in DIR (make fuzz-coverage) replays
# fuzz/corpus/TARGET once (no fuzzing), the profiles are merged, and llvm-cov
# prints the coverage of every source file; then each parser and state file
# (the list below) must have more than 85 % of its lines covered.
set -eu
dir=$1
shift
profdata=llvm-profdata-14
cov=llvm-cov-14
command -v $profdata >/dev/null || profdata=llvm-profdata
command -v $cov >/dev/null || cov=llvm-cov
# What reads untrusted bytes (the shim's frames, the server's answers, options)
# and the login's states.
PARSERS_AND_STATES="protocol/frame.c protocol/options.c shim/relay.c shim/shim_options.c
engine/config.c engine/json.c engine/authelia_api.c engine/oidc.c engine/http_client.c
engine/channel.c engine/session.c engine/authz.c protocol/audit.c shim/shim_audit.c $(ls states/*.c)"
THRESHOLD=85

rm -f "$dir"/*.profraw
first=""
objects=""
for t in "$@"; do
	if ! LLVM_PROFILE_FILE="$dir/$t.profraw" "$dir/$t" -runs=0 "fuzz/corpus/$t" \
		>"$dir/$t.replay.log" 2>&1; then
		echo "FAIL fuzz-coverage: $t crashed replaying fuzz/corpus/$t (see $dir/$t.replay.log)"
		tail -20 "$dir/$t.replay.log"
		exit 1
	fi
	if [ -z "$first" ]; then first="$dir/$t"; else objects="$objects -object $dir/$t"; fi
done
$profdata merge -sparse "$dir"/*.profraw -o "$dir/corpora.profdata"
# shellcheck disable=SC2086
$cov report "$first" $objects -instr-profile="$dir/corpora.profdata" \
	engine states protocol shim >"$dir/report.txt"
# Filename Regions Missed Cover Functions Missed Executed Lines Missed Cover ...
echo "line coverage of the fuzz corpora (fuzz/corpus/*), per file:"
awk 'NR > 2 && $1 ~ /\.c$/ { printf "%-30s %8s of %5s lines\n", $1, $10, $8 }' \
	"$dir/report.txt" | sort
awk '$1 == "TOTAL" { printf "%-30s %8s of %5s lines\n", "all of them", $10, $8 }' "$dir/report.txt"
status=0
ok=0
bad=0
for f in $PARSERS_AND_STATES; do
	pct=$(awk -v f="$f" '$1 == f { sub("%", "", $10); print $10 }' "$dir/report.txt")
	if [ -z "$pct" ]; then
		echo "FAIL fuzz-coverage: $f is in no fuzz target"
		status=1
	elif awk -v p="$pct" -v t=$THRESHOLD 'BEGIN { exit !(p + 0 <= t) }'; then
		echo "FAIL fuzz-coverage: $f has $pct % of its lines covered by the corpora (needs > $THRESHOLD %)"
		status=1
	fi
	if [ -n "$pct" ] && awk -v p="$pct" -v t=$THRESHOLD 'BEGIN { exit !(p + 0 > t) }'; then
		ok=$((ok + 1))
	else
		bad=$((bad + 1))
	fi
done
echo "fuzz-coverage: $ok passed, $bad failed (files above $THRESHOLD % of lines)"
[ $status -eq 0 ] && echo "fuzz-coverage: every parser and state file above $THRESHOLD % of lines"
exit $status
