/*
 * test_frame.c -- the frame codec shared by the shim and the helper: round
 * trips, partial input at every split point, oversized, unknown and NUL-bearing
 * frames, and the result names that cross the boundary.
 */
#include "unit.h"

#include "../../protocol/frame.h"

#include <stdlib.h>

static size_t put_frame(unsigned char *buf, int type, const char *payload)
{
	size_t len = strlen(payload);

	assert_int_equal(frame_encode_header(buf, type, len), 0);
	memcpy(buf + FRAME_HEADER_SIZE, payload, len);
	return FRAME_HEADER_SIZE + len;
}

static void test_round_trip_every_type(void **state)
{
	static const int types[] = {'H', 'O', 'S', 'U', 'R', 'A', 'W', 'G',
				    'P', 'C', 'p', 'e', 'i', 'x', 'r'};
	unsigned char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct frame frame;
		size_t used = 0, len = put_frame(buf, types[i], "line one\nline two");
		const char *why = NULL;

		assert_int_equal(frame_parse(buf, len, &frame, &used, &why), FRAME_PARSE_OK);
		assert_int_equal(frame.type, types[i]);
		assert_int_equal(used, len);
		assert_int_equal(frame.len, 17);
		assert_memory_equal(frame.payload, "line one\nline two", 17);
		assert_non_null(frame_type_name(types[i]));
	}
}

static void test_empty_payload(void **state)
{
	unsigned char buf[8];
	struct frame frame;
	size_t used;
	const char *why;

	(void)state;
	assert_int_equal(put_frame(buf, FRAME_START, ""), 5);
	assert_int_equal(frame_parse(buf, 5, &frame, &used, &why), FRAME_PARSE_OK);
	assert_int_equal(frame.len, 0);
	assert_int_equal(used, 5);
}

/* Two frames back to back, cut at every byte: never a wrong frame. */
static void test_every_split_point(void **state)
{
	unsigned char buf[64];
	size_t first = put_frame(buf, FRAME_USER, "john");
	size_t total = first + put_frame(buf + first, FRAME_PROMPT_ECHO_ON, "a\nb");

	(void)state;
	for (size_t cut = 0; cut <= total; cut++) {
		struct frame frame;
		size_t used = 0;
		const char *why = NULL;
		enum frame_parse_status st = frame_parse(buf, cut, &frame, &used, &why);

		if (cut < first) {
			assert_int_equal(st, FRAME_PARSE_INCOMPLETE);
			assert_true(used > cut);
			assert_int_equal(used, cut < FRAME_HEADER_SIZE ? FRAME_HEADER_SIZE : first);
			continue;
		}
		assert_int_equal(st, FRAME_PARSE_OK);
		assert_int_equal(frame.type, FRAME_USER);
		assert_int_equal(used, first);
		st = frame_parse(buf + first, cut - first, &frame, &used, &why);
		assert_int_equal(st, cut == total ? FRAME_PARSE_OK : FRAME_PARSE_INCOMPLETE);
		if (st == FRAME_PARSE_OK)
			assert_memory_equal(frame.payload, "a\nb", 3);
	}
}

static void test_oversized_is_refused_from_the_header_alone(void **state)
{
	unsigned char hdr[FRAME_HEADER_SIZE] = {'i', 0, 1, 0, 1}; /* 65537 */
	struct frame frame;
	size_t used;
	const char *why = NULL;

	(void)state;
	assert_int_equal(frame_parse(hdr, sizeof(hdr), &frame, &used, &why), FRAME_PARSE_MALFORMED);
	assert_string_equal(why, "frame larger than 64 KiB");
	hdr[1] = 0xff; /* 4 GiB: no overflow either */
	assert_int_equal(frame_parse(hdr, sizeof(hdr), &frame, &used, &why), FRAME_PARSE_MALFORMED);
	assert_int_equal(frame_encode_header(hdr, 'i', FRAME_MAX_PAYLOAD + 1), -1);
}

static void test_largest_frame_is_accepted(void **state)
{
	unsigned char *buf = malloc(FRAME_MAX_SIZE);
	struct frame frame;
	size_t used;
	const char *why;

	(void)state;
	assert_int_equal(frame_encode_header(buf, 'e', FRAME_MAX_PAYLOAD), 0);
	memset(buf + FRAME_HEADER_SIZE, 'q', FRAME_MAX_PAYLOAD);
	assert_int_equal(frame_parse(buf, FRAME_MAX_SIZE - 1, &frame, &used, &why),
			 FRAME_PARSE_INCOMPLETE);
	assert_int_equal(used, FRAME_MAX_SIZE);
	assert_int_equal(frame_parse(buf, FRAME_MAX_SIZE, &frame, &used, &why), FRAME_PARSE_OK);
	assert_int_equal(frame.len, FRAME_MAX_PAYLOAD);
	free(buf);
}

static void test_unknown_type(void **state)
{
	unsigned char buf[8] = {'Z', 0, 0, 0, 0};
	struct frame frame;
	size_t used;
	const char *why = NULL;

	(void)state;
	assert_int_equal(frame_parse(buf, 5, &frame, &used, &why), FRAME_PARSE_MALFORMED);
	assert_string_equal(why, "unknown frame type");
	assert_int_equal(frame_encode_header(buf, 'Z', 0), -1);
	assert_null(frame_type_name('Z'));
}

static void test_nul_in_payload(void **state)
{
	unsigned char buf[16] = {'U', 0, 0, 0, 3, 'a', 0, 'b'};
	struct frame frame;
	size_t used;
	const char *why = NULL;

	(void)state;
	assert_int_equal(frame_parse(buf, 8, &frame, &used, &why), FRAME_PARSE_MALFORMED);
	assert_string_equal(why, "NUL byte in frame payload");
}

static void test_result_names(void **state)
{
	enum auth_result r;

	(void)state;
	for (int i = RESULT_SUCCESS; i <= RESULT_ABORT; i++) {
		const char *name = auth_result_name((enum auth_result)i);
		assert_int_equal(auth_result_from_name(name, strlen(name), &r), 0);
		assert_int_equal(r, i);
	}
	assert_string_equal(auth_result_name(RESULT_AUTHINFO_UNAVAIL), "authinfo_unavail");
	assert_int_equal(auth_result_from_name("succ", 4, &r), -1);
	assert_int_equal(auth_result_from_name("success ", 8, &r), -1);
	assert_int_equal(auth_result_from_name("SUCCESS", 7, &r), -1);
	assert_int_equal(auth_result_from_name("", 0, &r), -1);
	/* An out-of-range value never reads as success. */
	assert_string_equal(auth_result_name((enum auth_result)99), "service_err");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_every_type),
	    cmocka_unit_test(test_empty_payload),
	    cmocka_unit_test(test_every_split_point),
	    cmocka_unit_test(test_oversized_is_refused_from_the_header_alone),
	    cmocka_unit_test(test_largest_frame_is_accepted),
	    cmocka_unit_test(test_unknown_type),
	    cmocka_unit_test(test_nul_in_payload),
	    cmocka_unit_test(test_result_names),
	};
	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
