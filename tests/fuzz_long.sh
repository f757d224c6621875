#!/bin/sh
# fuzz_long.sh [NAME=SECONDS]... -- the long fuzz run (make fuzz-long): each
# target of the fuzz build, one after the other on one core (one process, no
# -jobs), for its budget of seconds, from a copy of its committed corpus
# (fuzz/corpus/NAME) with fuzz/NAME.dict when there is one.  The binaries are
# copied first, so rebuilding build/fuzz meanwhile changes nothing.  Prints,
# per target, the executions, exec/s, seconds, crashes and the corpus before
# and after, then the total; keeps each grown corpus in build/fuzz-long/NAME
# (merge the new inputs worth keeping with -merge=1) and each crash as
# build/fuzz-long/NAME-crash-*.  Fails on any crash, leak or sanitizer report.
# The default budgets reach 10^8 executions in about an hour on one core.
set -eu
out=build/fuzz-long
budgets=${*:-"fuzz_frame=1000 fuzz_options=600 fuzz_response=600 fuzz_oidc=400 fuzz_shim=300 fuzz_login=600"}
mkdir -p "$out/bin"
total=0
failed=0
printf '%-14s %12s %9s %7s %8s %s\n' target executions exec/s seconds crashes "corpus (inputs before -> after)"
for budget in $budgets; do
	name=${budget%%=*}
	seconds=${budget#*=}
	cp "build/fuzz/$name" "$out/bin/$name"
	rm -rf "${out:?}/$name"
	mkdir -p "$out/$name"
	cp -r "fuzz/corpus/$name/." "$out/$name/" 2>/dev/null || true
	before=$(ls "$out/$name" | wc -l)
	dict=""
	[ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
	log="$out/$name.log"
	crashes=0
	start=$(date +%s)
	# shellcheck disable=SC2086
	if ! "$out/bin/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 $dict \
		-artifact_prefix="$out/$name-" -print_final_stats=1 "$out/$name" >"$log" 2>&1; then
		crashes=1
		failed=$((failed + 1))
	fi
	took=$(($(date +%s) - start))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	after=$(ls "$out/$name" | wc -l)
	total=$((total + ${runs:-0}))
	printf '%-14s %12s %9s %7s %8s %s -> %s\n' "$name" "${runs:-?}" "${rate:-?}" "$took" \
		"$crashes" "$before" "$after"
	[ "$crashes" -eq 0 ] || tail -30 "$log"
done
printf '%-14s %12s\n' total "$total"
echo "fuzz-long: $(date -u +%Y-%m-%d) commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)," \
	"$total executions, $failed target(s) with a crash"
[ "$failed" -eq 0 ]
