#!/bin/sh
# run_fuzz.sh SECONDS TARGET... -- runs each libFuzzer target for SECONDS on a
# scratch copy of its seed corpus (fuzz/corpus/NAME); fails on any crash.
set -eu
seconds=$1
shift
passed=0
failed=0
for target in "$@"; do
	name=$(basename "$target")
	work=$(mktemp -d)
	cp -r "fuzz/corpus/$name/." "$work/" 2>/dev/null || true
	if "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="build/fuzz/$name-" -print_final_stats=1 "$work" \
		>"build/fuzz/$name.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build/fuzz/$name.log")
		echo "ok   fuzz $name: $runs runs in ${seconds}s, no crash"
		passed=$((passed + 1))
	else
		echo "FAIL fuzz $name: see build/fuzz/$name.log"
		tail -30 "build/fuzz/$name.log"
		failed=$((failed + 1))
	fi
	rm -rf "$work"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
