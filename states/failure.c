/*
 * failure.c -- the login failed or was abandoned.  machine_fail() has logged
 * the reason; this state reports the result to the shim.
 */
#include "machine.h"
#include "../engine/session.h"

static void failure_enter(struct session *session);

const struct state_entry state_failure_entry = {
    .name = "failure",
    .waits_for = WAIT_NOTHING,
    .enter = failure_enter,
};

static void failure_enter(struct session *session)
{
	log_debug("result %s for user \"%s\"", auth_result_name(session->result),
		  session->user_log);
	session_finish(session, session->result);
}
