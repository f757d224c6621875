/*
 * unit.h -- what every cmocka unit test includes: cmocka itself and a capture
 * of the helper's log lines, so tests can assert the exact wording.
 */
#ifndef PAM_AUTHELIA_UNIT_H
#define PAM_AUTHELIA_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/log.h"

#define UNIT_MAX_LINES 64

/* UNIT_TEST_FILTER=name (cmocka's pattern, * and ? allowed) runs only the
 * tests it names: the mutation catalogue (tests/mutation/) runs one test per
 * mutant. */
__attribute__((constructor)) static void unit_test_filter(void)
{
	const char *filter = getenv("UNIT_TEST_FILTER");

	if (filter != NULL && filter[0] != '\0')
		cmocka_set_test_filter(filter);
}

static char unit_log_lines[UNIT_MAX_LINES][1024];
static int unit_log_priorities[UNIT_MAX_LINES];
static int unit_log_count;

static inline void unit_log_sink(int priority, const char *line)
{
	if (unit_log_count < UNIT_MAX_LINES) {
		unit_log_priorities[unit_log_count] = priority;
		snprintf(unit_log_lines[unit_log_count++], sizeof(unit_log_lines[0]), "%s", line);
	}
}

static inline void unit_log_capture(void)
{
	unit_log_count = 0;
	log_set_sink(unit_log_sink);
}

/* 1 when some captured line contains needle. */
static inline int unit_logged(const char *needle)
{
	for (int i = 0; i < unit_log_count; i++)
		if (strstr(unit_log_lines[i], needle) != NULL)
			return 1;
	return 0;
}

/* The one audit line captured (protocol/audit.h), with its priority; fails
 * the test unless there is exactly one. */
static inline const char *unit_audit_line(int *priority)
{
	const char *found = NULL;
	int count = 0;

	for (int i = 0; i < unit_log_count; i++)
		if (strncmp(unit_log_lines[i], "audit: ", 7) == 0) {
			found = unit_log_lines[i];
			if (priority != NULL)
				*priority = unit_log_priorities[i];
			count++;
		}
	if (count != 1)
		fail_msg("%d audit lines, not one", count);
	return found;
}

static inline void unit_log_dump(void)
{
	for (int i = 0; i < unit_log_count; i++)
		print_message("  log: %s\n", unit_log_lines[i]);
}

#define assert_logged(needle)                                            \
	do {                                                             \
		if (!unit_logged(needle)) {                              \
			unit_log_dump();                                 \
			fail_msg("no log line contains \"%s\"", needle); \
		}                                                        \
	} while (0)

#endif
