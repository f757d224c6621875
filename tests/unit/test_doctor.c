/*
 * test_doctor.c -- what the doctor makes of a probe child's output
 * (engine/doctor.c, doctor_probe_relay): a child runs sandboxed and parses a
 * server's bytes, so its trailer is not trusted: counts outside 0..1000, not
 * numbers, not matching the lines it relayed, missing, or followed by more
 * lines make the probe a FAIL; what it relayed counts as relayed.
 */
#include "unit.h"

#include "../../engine/doctor.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* doctor_probe_relay on a copy of text, its relayed lines sent to /dev/null. */
static int relay(const char *text, int counts[3])
{
	char *copy = strdup(text);
	int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY), rc;

	assert_non_null(copy);
	assert_true(out >= 0 && err >= 0 && null >= 0);
	fflush(stdout);
	dup2(null, 1);
	dup2(null, 2);
	rc = doctor_probe_relay(copy, strlen(copy), counts);
	fflush(stdout);
	fflush(stderr);
	dup2(out, 1);
	dup2(err, 2);
	close(out);
	close(err);
	close(null);
	free(copy);
	return rc;
}

static void test_a_good_trailer(void **state)
{
	int counts[3] = {1, 0, 0};

	(void)state;
	assert_int_equal(relay("OK   a\nWARN b; fix: c\nOK   d\n"
			       "==1==ERROR: a sanitizer line, to stderr\n"
			       "probe-counts 2 1 0\n",
			       counts),
			 0);
	assert_int_equal(counts[0], 3);
	assert_int_equal(counts[1], 1);
	assert_int_equal(counts[2], 0);
	memset(counts, 0, sizeof(counts));
	assert_int_equal(relay("probe-counts 0 0 0\n", counts), 0);
}

static void test_bad_trailers_fail(void **state)
{
	static const char *const bad[] = {
	    "OK   a\nprobe-counts 1001 0 0\n",		/* above the bound */
	    "OK   a\nprobe-counts -1 0 0\n",		/* below */
	    "probe-counts 2147483648 0 0\n",		/* past int */
	    "probe-counts 99999999999999999999 0 0\n",	/* past long */
	    "OK   a\nprobe-counts 1 0\n",		/* too few */
	    "OK   a\nprobe-counts 1 0 0 0\n",		/* too many */
	    "OK   a\nprobe-counts 1 0 x\n",		/* not a number */
	    "OK   a\nprobe-counts 0 0 0\n",		/* fewer than relayed */
	    "OK   a\nprobe-counts 1 0 1\n",		/* more than relayed */
	    "OK   a\n",					/* none (the child died) */
	    "OK   a\nprobe-counts 1 0 0",		/* cut short */
	    "probe-counts 0 0 0\nFAIL x; fix: y\n",	/* a line after it */
	    "probe-counts 0 0 0\nprobe-counts 0 0 1\n", /* two */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int counts[3] = {0, 0, 0};

		if (relay(bad[i], counts) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
}

/* 1001 findings, and a trailer that agrees: still past the bound. */
static void test_more_findings_than_a_probe_makes_fail(void **state)
{
	size_t size = 1001 * 8 + 64, n = 0, n1000 = 0;
	char *text = malloc(size);
	int counts[3] = {0, 0, 0};

	(void)state;
	assert_non_null(text);
	for (int i = 0; i < 1001; i++) {
		if (i == 1000)
			n1000 = n;
		n += (size_t)snprintf(text + n, size - n, "OK   %d\n", i % 10);
	}
	snprintf(text + n, size - n, "probe-counts 1001 0 0\n");
	assert_int_equal(relay(text, counts), -1);
	snprintf(text + n1000, size - n1000, "probe-counts 1000 0 0\n");
	memset(counts, 0, sizeof(counts));
	assert_int_equal(relay(text, counts), 0);
	assert_int_equal(counts[0], 1000);
	free(text);
}

/* A control byte a server may have put in a finding reaches no terminal. */
static void test_control_bytes_are_replaced(void **state)
{
	char text[] = "FAIL \x1b[2J\r bad; fix: x\nprobe-counts 0 0 1\n";
	int counts[3] = {0, 0, 0}, out = dup(1), pipefd[2];
	char got[128] = "";
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(pipefd), 0);
	fflush(stdout);
	dup2(pipefd[1], 1);
	assert_int_equal(doctor_probe_relay(text, strlen(text), counts), 0);
	fflush(stdout);
	dup2(out, 1);
	close(out);
	close(pipefd[1]);
	n = read(pipefd[0], got, sizeof(got) - 1);
	close(pipefd[0]);
	assert_true(n > 0);
	assert_string_equal(got, "FAIL ?[2J? bad; fix: x\n");
	assert_int_equal(counts[2], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_good_trailer),
	    cmocka_unit_test(test_bad_trailers_fail),
	    cmocka_unit_test(test_more_findings_than_a_probe_makes_fail),
	    cmocka_unit_test(test_control_bytes_are_replaced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
