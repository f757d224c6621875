#!/bin/sh
# run_all.sh -- everything `make check` runs, suite by suite, then one closing
# line with the totals:
#   unit             cmocka unit tests
#   unit-sanitizers  the same, built with ASan + UBSan
#   unit-valgrind    the same, under valgrind memcheck
#   binaries         exports and hardening of the two artifacts
#   integration      real shim + real PAM: stand-in helper and real helper
#   integration-asan the real-helper suites with the ASan helper (UBSan trapping)
#   shim-valgrind    the shim suite with pam_test_app (and the shim) under valgrind
#   mutants          the mutation catalogue: each security control weakened, its test fails
#   fuzz             every libFuzzer target for FUZZ_SECONDS (default 10)
set -u
cd "$(dirname "$0")/.."
out=build/check
mkdir -p "$out"
passed=0
failed=0
UNIT_TESTS=$(ls build/tests/test_* 2>/dev/null)

add() { passed=$((passed + $1)); failed=$((failed + $2)); }

# cmocka: "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s), listed below:"
count_cmocka() {
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
	[ "$2" -ne 0 ] && [ "$f" -eq 0 ] && f=1 # crashed, or valgrind found errors
	add "$p" "$f"
}
# "<word>: N passed, M failed" and pytest's "N passed, M failed in Xs"
count_summary() {
	p=$(grep -Eo '[0-9]+ passed' "$1" | tail -1 | grep -Eo '[0-9]+' || echo 0)
	f=$(grep -Eo '[0-9]+ (failed|error)' "$1" | awk '{s+=$1} END {print s+0}')
	[ "$2" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	add "${p:-0}" "$f"
}

suite() {
	name=$1 counter=$2
	shift 2
	echo "== $name"
	"$@" >"$out/$name.log" 2>&1
	rc=$?
	cat "$out/$name.log"
	$counter "$out/$name.log" $rc
}

valgrind_units() {
	rc=0
	for t in $UNIT_TESTS; do
		valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
			"$t" || rc=1
	done
	return $rc
}

integration_asan() {
	rm -f build/san-helper/pam_authelia # a failed build must not leave an old helper to test
	make -s sanitizer-helper || return 1
	PAM_AUTHELIA_HELPER="$PWD/build/san-helper/pam_authelia" tests/run_integration.sh "$@"
}

suite unit count_cmocka make -s unit-tests
suite unit-sanitizers count_cmocka make -s sanitizer-tests
suite unit-valgrind count_cmocka valgrind_units
suite binaries count_summary tests/check_binaries.sh build/pam_authelia.so build/pam_authelia
suite integration count_summary tests/run_integration.sh
suite integration-asan count_summary integration_asan \
	tests/integration/test_helper.py tests/integration/test_flows.py \
	tests/integration/test_device.py tests/integration/test_sshd.py \
	tests/integration/test_reference_texts.py tests/integration/test_upstream_pam_suite.py \
	tests/integration/test_doctor.py tests/integration/test_secret_file.py \
	tests/integration/test_fail_closed.py tests/integration/test_access_control.py
suite shim-valgrind count_summary env \
	PAM_AUTHELIA_APP_PREFIX="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
	tests/run_integration.sh tests/integration/test_shim.py
suite mutants count_summary /usr/bin/python3 tests/mutation/run_mutants.py
suite fuzz count_summary make -s fuzz-smoke

echo
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
