#!/bin/sh
# run_fuzz.sh SECONDS TARGET... -- for each libFuzzer target: replays its
# committed corpus (fuzz/corpus/NAME) once, every input, then fuzzes for
# SECONDS from a scratch copy of it (with fuzz/NAME.dict when there is one);
# fails on any crash, leak, sanitizer report or timeout.
set -eu
seconds=$1
shift
passed=0
failed=0
for target in "$@"; do
	name=$(basename "$target")
	log="build/fuzz/$name.log"
	dict=""
	[ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
	inputs=$(ls "fuzz/corpus/$name" 2>/dev/null | wc -l)
	if ! "$target" -runs=0 -timeout=10 -rss_limit_mb=2048 "fuzz/corpus/$name" >"$log" 2>&1; then
		echo "FAIL fuzz $name: replaying fuzz/corpus/$name crashed (see $log)"
		tail -30 "$log"
		failed=$((failed + 1))
		continue
	fi
	work=$(mktemp -d)
	cp -r "fuzz/corpus/$name/." "$work/" 2>/dev/null || true
	# shellcheck disable=SC2086
	if "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 $dict \
		-artifact_prefix="build/fuzz/$name-" -print_final_stats=1 "$work" \
		>"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok   fuzz $name: $inputs corpus inputs replayed, then $runs runs in ${seconds}s, no crash"
		passed=$((passed + 1))
	else
		echo "FAIL fuzz $name: see $log"
		tail -30 "$log"
		failed=$((failed + 1))
	fi
	rm -rf "$work"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
