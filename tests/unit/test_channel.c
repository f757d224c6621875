/*
 * test_channel.c -- framing over the helper's bufferevents: frames trickled in
 * one byte per loop turn, several frames in one read, EOF in the middle of a
 * frame, clean EOF, an oversized header refused before its payload, and frames
 * sent back reading correctly.
 */
#include "unit.h"

#include "../../engine/channel.h"

#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct seen {
	char types[32];
	char payloads[32][64];
	int count;
	int problems;
	enum channel_problem problem;
	char why[128];
};

static void on_frame(const struct frame *frame, void *arg)
{
	struct seen *seen = arg;

	seen->types[seen->count] = (char)frame->type;
	snprintf(seen->payloads[seen->count], 64, "%.*s", (int)frame->len, frame->payload);
	seen->count++;
}

static void on_problem(enum channel_problem problem, const char *why, void *arg)
{
	struct seen *seen = arg;

	seen->problems++;
	seen->problem = problem;
	snprintf(seen->why, sizeof(seen->why), "%s", why);
}

static const struct channel_callbacks callbacks = {.frame = on_frame, .problem = on_problem};

struct rig {
	struct event_base *base;
	struct channel *channel;
	int peer;
	int fd;
	struct seen seen;
};

static void rig_open(struct rig *rig)
{
	int sv[2];

	memset(rig, 0, sizeof(*rig));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	rig->base = event_base_new();
	rig->fd = sv[1];
	rig->peer = sv[0];
	rig->channel = channel_new(rig->base, sv[1], sv[1], &callbacks, &rig->seen);
	assert_non_null(rig->channel);
}

static void rig_close(struct rig *rig)
{
	channel_free(rig->channel);
	event_base_free(rig->base);
	close(rig->fd);
	if (rig->peer >= 0)
		close(rig->peer);
}

static void rig_turn(struct rig *rig)
{
	for (int i = 0; i < 3; i++)
		event_base_loop(rig->base, EVLOOP_NONBLOCK);
}

static size_t frames(unsigned char *buf)
{
	size_t n = 0;
	const char *items[][2] = {{"H", "pam_authelia/1"},
				  {"U", "john"},
				  {"O", "url=https://a"},
				  {"P", "multi\nline"},
				  {"G", ""}};

	for (size_t i = 0; i < 5; i++) {
		size_t len = strlen(items[i][1]);
		frame_encode_header(buf + n, items[i][0][0], len);
		memcpy(buf + n + FRAME_HEADER_SIZE, items[i][1], len);
		n += FRAME_HEADER_SIZE + len;
	}
	return n;
}

static void test_one_byte_at_a_time(void **state)
{
	struct rig rig;
	unsigned char buf[256];
	size_t n = frames(buf);

	(void)state;
	rig_open(&rig);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(write(rig.peer, buf + i, 1), 1);
		rig_turn(&rig);
	}
	assert_int_equal(rig.seen.count, 5);
	assert_memory_equal(rig.seen.types, "HUOPG", 5);
	assert_string_equal(rig.seen.payloads[3], "multi\nline");
	assert_int_equal(rig.seen.problems, 0);
	rig_close(&rig);
}

static void test_all_frames_in_one_write(void **state)
{
	struct rig rig;
	unsigned char buf[256];
	size_t n = frames(buf);

	(void)state;
	rig_open(&rig);
	assert_int_equal(write(rig.peer, buf, n), (ssize_t)n);
	rig_turn(&rig);
	assert_int_equal(rig.seen.count, 5);
	assert_string_equal(rig.seen.payloads[0], "pam_authelia/1");
	rig_close(&rig);
}

static void test_eof_in_the_middle_of_a_frame(void **state)
{
	struct rig rig;
	unsigned char buf[256];
	size_t n = frames(buf);

	(void)state;
	rig_open(&rig);
	assert_int_equal(write(rig.peer, buf, n - 3), (ssize_t)(n - 3)); /* cuts "G" */
	close(rig.peer);
	rig.peer = -1;
	rig_turn(&rig);
	assert_int_equal(rig.seen.count, 4);
	assert_int_equal(rig.seen.problems, 1);
	assert_int_equal(rig.seen.problem, CHANNEL_MALFORMED);
	assert_string_equal(rig.seen.why, "channel closed in the middle of a frame");
	rig_close(&rig);
}

static void test_clean_eof(void **state)
{
	struct rig rig;

	(void)state;
	rig_open(&rig);
	close(rig.peer);
	rig.peer = -1;
	rig_turn(&rig);
	assert_int_equal(rig.seen.problems, 1);
	assert_int_equal(rig.seen.problem, CHANNEL_EOF);
	rig_close(&rig);
}

static void test_oversized_header_stops_reading(void **state)
{
	struct rig rig;
	/* One byte over the bound: the bound itself, not just a huge length. */
	unsigned char hdr[FRAME_HEADER_SIZE] = {'i', 0, 1, 0, 1}; /* 65537 */
	unsigned char ok[16];

	(void)state;
	rig_open(&rig);
	assert_int_equal(write(rig.peer, hdr, sizeof(hdr)), 5);
	rig_turn(&rig);
	assert_int_equal(rig.seen.problems, 1);
	assert_int_equal(rig.seen.problem, CHANNEL_MALFORMED);
	assert_string_equal(rig.seen.why, "frame larger than 64 KiB");
	/* Nothing after a malformed frame is delivered, and it is reported once. */
	frame_encode_header(ok, 'U', 1);
	ok[5] = 'j';
	assert_int_equal(write(rig.peer, ok, 6), 6);
	rig_turn(&rig);
	assert_int_equal(rig.seen.count, 0);
	assert_int_equal(rig.seen.problems, 1);
	rig_close(&rig);
}

static void test_stop_reading_holds_back_later_frames(void **state)
{
	struct rig rig;
	unsigned char buf[256];
	size_t n = frames(buf);

	(void)state;
	rig_open(&rig);
	channel_stop_reading(rig.channel);
	assert_int_equal(write(rig.peer, buf, n), (ssize_t)n);
	rig_turn(&rig);
	assert_int_equal(rig.seen.count, 0);
	rig_close(&rig);
}

static void test_sent_frames_parse_back(void **state)
{
	struct rig rig;
	unsigned char buf[256];
	struct frame frame;
	size_t used;
	const char *why;
	ssize_t got;

	(void)state;
	rig_open(&rig);
	assert_int_equal(channel_send_text(rig.channel, FRAME_PROMPT_ECHO_OFF, "Password: "), 0);
	assert_int_equal(channel_send_text(rig.channel, FRAME_RESULT, "success"), 0);
	assert_true(channel_pending_output(rig.channel));
	rig_turn(&rig);
	assert_false(channel_pending_output(rig.channel));
	got = read(rig.peer, buf, sizeof(buf));
	assert_int_equal(got, 5 + 10 + 5 + 7);
	assert_int_equal(frame_parse(buf, (size_t)got, &frame, &used, &why), FRAME_PARSE_OK);
	assert_int_equal(frame.type, FRAME_PROMPT_ECHO_OFF);
	assert_memory_equal(frame.payload, "Password: ", 10);
	assert_int_equal(frame_parse(buf + used, (size_t)got - used, &frame, &used, &why),
			 FRAME_PARSE_OK);
	assert_int_equal(frame.type, FRAME_RESULT);
	/* Unknown types and oversized payloads are never queued. */
	assert_int_equal(channel_send(rig.channel, (enum frame_type)'Z', "", 0), -1);
	assert_int_equal(channel_send(rig.channel, FRAME_INFO, "", FRAME_MAX_PAYLOAD + 1), -1);
	rig_close(&rig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_byte_at_a_time),
	    cmocka_unit_test(test_all_frames_in_one_write),
	    cmocka_unit_test(test_eof_in_the_middle_of_a_frame),
	    cmocka_unit_test(test_clean_eof),
	    cmocka_unit_test(test_oversized_header_stops_reading),
	    cmocka_unit_test(test_stop_reading_holds_back_later_frames),
	    cmocka_unit_test(test_sent_frames_parse_back),
	};
	return cmocka_run_group_tests_name("channel", tests, NULL, NULL);
}
