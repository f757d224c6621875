/*
 * totp_prompt.c -- asks for the TOTP code.  Spaces are dropped ("123 456");
 * anything but 6 or 8 digits is refused here, before any request, since
 * Authelia would refuse it anyway (400) and a typo should not cost a request.
 */
#include "machine.h"
#include "../engine/secure_alloc.h"
#include "../engine/session.h"

static void totp_prompt_enter(struct session *session);
static int totp_prompt_frame(struct session *session, const struct frame *frame);

const struct state_entry state_totp_prompt_entry = {
    .name = "totp_prompt",
    .waits_for = WAIT_USER,
    .enter = totp_prompt_enter,
    .frame = totp_prompt_frame,
};

static void totp_prompt_enter(struct session *session)
{
	if (session_prompt(session, FRAME_PROMPT_ECHO_ON, "TOTP Code: ") != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the TOTP prompt");
}

static int totp_prompt_frame(struct session *session, const struct frame *frame)
{
	char code[9];
	size_t digits = 0;
	bool valid = true;

	if (frame->type == FRAME_CONV_ERROR) {
		machine_fail(session, RESULT_CONV_ERR, "conversation failed at the TOTP prompt");
		return 0;
	}
	if (frame->type != FRAME_REPLY)
		return -1;
	for (size_t i = 0; i < frame->len && valid; i++) {
		char c = frame->payload[i];
		if (c == ' ')
			continue;
		if (c < '0' || c > '9' || digits == 8)
			valid = false;
		else
			code[digits++] = c;
	}
	code[digits] = '\0';
	if (!valid || (digits != 6 && digits != 8)) {
		explicit_bzero(code, sizeof(code));
		machine_fail(session, RESULT_AUTH_ERR,
			     "TOTP code must be 6 or 8 digits: refused before sending");
		return 0;
	}
	session->totp_code = secret_dup(code, digits);
	explicit_bzero(code, sizeof(code));
	if (session->totp_code == NULL)
		machine_fail(session, RESULT_SERVICE_ERR, "out of memory at the TOTP prompt");
	else
		machine_goto(session, STATE_TOTP_VERIFY);
	return 0;
}
