/*
 * password_prompt.c -- asks the user for the Authelia password (echo off) and
 * keeps it, wiped on every exit path, for the first factor.
 */
#include "machine.h"
#include "../engine/secure_alloc.h"
#include "../engine/session.h"

static void password_prompt_enter(struct session *session);
static int password_prompt_frame(struct session *session, const struct frame *frame);

const struct state_entry state_password_prompt_entry = {
    .name = "password_prompt",
    .waits_for = WAIT_USER,
    .enter = password_prompt_enter,
    .frame = password_prompt_frame,
};

static void password_prompt_enter(struct session *session)
{
	if (session_prompt(session, FRAME_PROMPT_ECHO_OFF, "Password: ") != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the password prompt");
}

static int password_prompt_frame(struct session *session, const struct frame *frame)
{
	switch (frame->type) {
	case FRAME_REPLY:
		/* Authelia refuses an empty password; no request is needed to know. */
		if (frame->len == 0) {
			machine_fail(session, RESULT_AUTH_ERR,
				     FIRST_FACTOR_FAILED ": empty password for user \"%s\"",
				     session->user_log);
			return 0;
		}
		session->password = secret_dup(frame->payload, frame->len);
		if (session->password == NULL)
			machine_fail(session, RESULT_SERVICE_ERR,
				     "out of memory at the password prompt");
		else
			machine_goto(session, STATE_FIRST_FACTOR);
		return 0;
	case FRAME_CONV_ERROR:
		machine_fail(session, RESULT_CONV_ERR,
			     "conversation failed at the password prompt");
		return 0;
	default:
		return -1;
	}
}
