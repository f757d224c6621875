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
	log_info("authentication succeeded for user \"%s\" (service %s, rhost %s)", session->user,
		 session->service ? session->service : "-", session->rhost ? session->rhost : "-");
	session_finish(session, RESULT_SUCCESS);
}
