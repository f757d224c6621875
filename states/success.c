/*
 * success.c -- the login succeeded: say so once and report it to the shim.
 */
#include "machine.h"
#include "../engine/session.h"

static void success_enter(struct session *session);

const struct state_entry state_success_entry = {
    .name = "success",
    .waits_for = WAIT_NOTHING,
    .enter = success_enter,
};

static void success_enter(struct session *session)
{
	log_info("authentication succeeded for user \"%s\" (service %s, rhost %s)",
		 session->user_log, session->service_log, session->rhost_log);
	session_finish(session, RESULT_SUCCESS);
}
