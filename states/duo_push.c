/*
 * duo_push.c -- POST /api/secondfactor/duo {}, which blocks until the user
 * answers the push (a minute or more), while the user is told, in a prompt,
 * to approve it: sshd holds a lone info message back until the next prompt,
 * so the user would see nothing while waiting.  The request has no deadline of
 * its own; the whole-exchange timeout, a disconnect or SIGTERM cancel it.  How
 * long it lasts is the user's choice, so nothing that ends it once it went out
 * is "Authelia unavailable" (machine_reply_user_paced), and it is never sent
 * twice (engine/http_client.c).
 *
 * Authelia answers 200 "OK" with data.result ("enroll", "deny", "auth") when
 * no second factor happened; only 200 "OK" without data.result, with the new
 * session cookie Authelia sets whenever a push is approved, is an approval
 * (the session's user was confirmed after the password, see user_info.c;
 * with authz-url, access_recheck.c asks the access control again).
 * Pressing Enter early changes nothing: the push decides.
 */
#include "machine.h"
#include "../engine/authelia_api.h"
#include "../engine/session.h"

#include <stdio.h>

/* The reference module's info text, as a prompt (see above). */
#define DUO_PROMPT "Duo Push sent, approve on your device, then press Enter: "

static void duo_push_enter(struct session *session);
static int duo_push_frame(struct session *session, const struct frame *frame);
static void duo_push_http(struct session *session, const struct http_response *response);

const struct state_entry state_duo_push_entry = {
    .name = "duo_push",
    .waits_for = WAIT_USER,
    .enter = duo_push_enter,
    .frame = duo_push_frame,
    .http = duo_push_http,
};

static void duo_push_enter(struct session *session)
{
	/* A missing body is a parse error for Authelia (401): send {}. */
	if (http_client_request(session->http, HTTP_DUO, AUTHELIA_DUO, "{}", 2, 0) != 0 ||
	    session_prompt(session, FRAME_PROMPT_ECHO_ON, DUO_PROMPT) != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot start the Duo push");
}

static int duo_push_frame(struct session *session, const struct frame *frame)
{
	if (frame->type == FRAME_CONV_ERROR) {
		machine_fail(session, RESULT_CONV_ERR, "conversation failed during the Duo push");
		return 0;
	}
	if (frame->type != FRAME_REPLY)
		return -1;
	log_debug("Enter pressed; still waiting for the Duo push");
	return 0;
}

static void duo_push_http(struct session *session, const struct http_response *response)
{
	struct authelia_reply reply;
	char err[JSON_ERROR_SIZE], shown[24];
	const char *outcome = NULL;
	int rc;

	if (!machine_reply_user_paced(session, response, "duo push", DUO_FAILED, &reply))
		return;
	rc = json_get_string(reply.data, "result", "data.result", &outcome, err);
	if (rc == 0) {
		snprintf(shown, sizeof(shown), "%.16s", outcome);
		authelia_reply_free(&reply);
		machine_fail(session, RESULT_AUTH_ERR,
			     DUO_FAILED ": Duo push not completed: Authelia answered result \"%s\" "
					"without a second factor",
			     shown);
		return;
	}
	authelia_reply_free(&reply);
	if (rc < 0) {
		machine_fail(session, RESULT_AUTH_ERR, "Duo push: unexpected answer: %s", err);
		return;
	}
	if (!response->cookie_rotated) {
		machine_fail(
		    session, RESULT_AUTH_ERR,
		    "Duo push answered OK without a new session cookie: Authelia "
		    "regenerates the session after every second factor it accepts; refused");
		return;
	}
	session_add_factor(session, FACTOR_DUO);
	second_factor_done(session, false);
}
