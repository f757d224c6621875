/*
 * machine.c -- state dispatch and the one place where states change.
 */
#include "machine.h"
#include "../engine/authelia_api.h"
#include "../engine/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct state_entry *const state_table[STATE_COUNT] = {
    [STATE_RECEIVE_CONFIG] = &state_receive_config_entry,
    [STATE_CHOOSE_FIRST_STEP] = &state_choose_first_step_entry,
    [STATE_PASSWORD_PROMPT] = &state_password_prompt_entry,
    [STATE_FIRST_FACTOR] = &state_first_factor_entry,
    [STATE_USER_INFO] = &state_user_info_entry,
    [STATE_SELECT_METHOD] = &state_select_method_entry,
    [STATE_TOTP_PROMPT] = &state_totp_prompt_entry,
    [STATE_TOTP_VERIFY] = &state_totp_verify_entry,
    [STATE_DUO_PUSH] = &state_duo_push_entry,
    [STATE_CONFIRM_SESSION] = &state_confirm_session_entry,
    [STATE_DEVICE_AUTHORIZATION] = &state_device_authorization_entry,
    [STATE_DEVICE_POLL] = &state_device_poll_entry,
    [STATE_IDENTITY_BINDING] = &state_identity_binding_entry,
    [STATE_ACCESS_CHECK] = &state_access_check_entry,
    [STATE_ACCESS_RECHECK] = &state_access_recheck_entry,
    [STATE_SUCCESS] = &state_success_entry,
    [STATE_FAILURE] = &state_failure_entry,
};

/* Names for every state, those this build has no entry for included. */
static const char *const state_names[STATE_COUNT] = {
    [STATE_RECEIVE_CONFIG] = "receive_config",
    [STATE_CHOOSE_FIRST_STEP] = "choose_first_step",
    [STATE_PASSWORD_PROMPT] = "password_prompt",
    [STATE_FIRST_FACTOR] = "first_factor",
    [STATE_USER_INFO] = "user_info",
    [STATE_SELECT_METHOD] = "select_method",
    [STATE_TOTP_PROMPT] = "totp_prompt",
    [STATE_TOTP_VERIFY] = "totp_verify",
    [STATE_DUO_PUSH] = "duo_push",
    [STATE_CONFIRM_SESSION] = "confirm_session",
    [STATE_DEVICE_AUTHORIZATION] = "device_authorization",
    [STATE_DEVICE_POLL] = "device_poll",
    [STATE_IDENTITY_BINDING] = "identity_binding",
    [STATE_ACCESS_CHECK] = "access_check",
    [STATE_ACCESS_RECHECK] = "access_recheck",
    [STATE_SUCCESS] = "success",
    [STATE_FAILURE] = "failure",
};

const char *state_name(enum state_id state)
{
	return (unsigned)state < STATE_COUNT ? state_names[state] : "?";
}

static int is_terminal(enum state_id state)
{
	return state == STATE_SUCCESS || state == STATE_FAILURE;
}

void machine_goto(struct session *session, enum state_id next)
{
	if (session->failing && next != STATE_FAILURE)
		return;
	session->next_state = next;
	session->transition_pending = true;
}

void machine_fail(struct session *session, enum auth_result result, const char *fmt, ...)
{
	va_list ap;
	char *reason = session->fail_reason; /* the audit line repeats it */

	if (session->failing || is_terminal(session->state))
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(session->fail_reason), fmt, ap);
	va_end(ap);
	if (result == RESULT_ABORT)
		log_notice("%s", reason);
	else
		log_error("%s", reason);
	session->fail_state = session->state;
	session->failing = true;
	session->result = result;
	machine_goto(session, STATE_FAILURE);
}

void machine_run(struct session *session)
{
	while (session->transition_pending) {
		enum state_id from = session->state, to = session->next_state;
		const struct state_entry *entry;

		session->transition_pending = false;
		if (is_terminal(from))
			break;
		entry = (unsigned)to < STATE_COUNT ? state_table[to] : NULL;
		if (entry == NULL) {
			log_debug("state %s -> %s", state_name(from), state_name(to));
			machine_fail(session, RESULT_SERVICE_ERR,
				     "state \"%s\" is not available in this build", state_name(to));
			continue;
		}
		log_debug("state %s -> %s", state_name(from), entry->name);
		session_cancel_state_timer(session); /* a state's timer dies with it */
		session->state = to;
		if (entry->enter != NULL)
			entry->enter(session);
	}
}

void machine_start(struct session *session)
{
	session->state = STATE_RECEIVE_CONFIG;
	log_debug("state start -> %s", state_name(session->state));
	if (state_table[session->state]->enter != NULL)
		state_table[session->state]->enter(session);
	machine_run(session);
}

void machine_frame(struct session *session, const struct frame *frame)
{
	const struct state_entry *entry = state_table[session->state];

	if (is_terminal(session->state))
		return;
	if (frame->type == FRAME_REPLY || frame->type == FRAME_CONV_ERROR) {
		if (!session->prompt_outstanding) {
			machine_fail(session, RESULT_SERVICE_ERR,
				     "the module answered a prompt that was never sent");
			machine_run(session);
			return;
		}
		session->prompt_outstanding = false;
		/* A Duo user may press Enter after the push was approved: the
		 * answer belongs to a state already left, and is dropped. */
		if (session->prompt_owner != session->state) {
			log_debug("dropping a late answer to the prompt of state %s",
				  state_name(session->prompt_owner));
			return;
		}
	}
	if (entry->frame == NULL || entry->frame(session, frame) != 0)
		machine_fail(session, RESULT_SERVICE_ERR,
			     "unexpected %s frame from the module in state %s",
			     frame_type_name(frame->type), entry->name);
	machine_run(session);
}

void machine_http(struct session *session, const struct http_response *response)
{
	const struct state_entry *entry = state_table[session->state];

	if (is_terminal(session->state))
		return;
	if (entry->http == NULL)
		machine_fail(session, RESULT_SERVICE_ERR, "unexpected HTTP response in state %s",
			     entry->name);
	else
		entry->http(session, response);
	machine_run(session);
}

bool machine_reply(struct session *session, const struct http_response *response, const char *what,
		   struct authelia_reply *reply)
{
	return machine_reply_factor(session, response, what, NULL, reply);
}

bool machine_reply_factor(struct session *session, const struct http_response *response,
			  const char *what, const char *refused, struct authelia_reply *reply)
{
	char reason[AUTHELIA_REASON_SIZE];
	enum auth_result result = authelia_reply_read(response, what, reply, reason);

	if (result == RESULT_SUCCESS)
		return true;
	if (refused != NULL && result == RESULT_AUTH_ERR && response->error == NULL &&
	    response->status != 429)
		machine_fail(session, result, "%s: %s", refused, reason);
	else
		machine_fail(session, result, "%s", reason);
	return false;
}

bool machine_reply_user_paced(struct session *session, const struct http_response *response,
			      const char *what, const char *refused, struct authelia_reply *reply)
{
	if (response->error != NULL && response->sent && response->failure == HTTP_UNREACHABLE) {
		machine_fail(session, RESULT_AUTH_ERR,
			     "%s: no answer while the user was approving (%s)", refused,
			     response->error);
		return false;
	}
	if (response->error == NULL && response->status >= 500) {
		log_debug("response status=%d", response->status);
		machine_fail(session, RESULT_AUTH_ERR,
			     "%s: no answer while the user was approving (response status=%d)",
			     refused, response->status);
		return false;
	}
	return machine_reply_factor(session, response, what, refused, reply);
}

void machine_timer(struct session *session)
{
	const struct state_entry *entry = state_table[session->state];

	if (is_terminal(session->state) || entry->timer == NULL)
		return;
	entry->timer(session);
	machine_run(session);
}

void machine_timeout(struct session *session)
{
	const struct state_entry *entry = state_table[session->state];

	/* Never PAM_AUTHINFO_UNAVAIL: when the deadline fires is the user's choice
	 * (they decide when to answer), and [authinfo_unavail=ignore] stacks would
	 * skip the factor.  Authelia being unreachable is told by the request's own
	 * fixed deadline (HTTP_REQUEST_TIMEOUT_MS), not by this one. */
	switch (entry->waits_for) {
	case WAIT_USER:
		machine_fail(session, RESULT_AUTH_ERR,
			     "timed out after %u s waiting for the user (state %s)",
			     session->config.timeout, entry->name);
		break;
	case WAIT_SERVER:
		machine_fail(session, RESULT_AUTH_ERR,
			     "timed out after %u s waiting for Authelia (state %s)",
			     session->config.timeout, entry->name);
		break;
	case WAIT_SHIM:
	case WAIT_NOTHING:
		machine_fail(session, RESULT_SERVICE_ERR,
			     "timed out waiting for the module's set-up (state %s)", entry->name);
		break;
	}
	machine_run(session);
}

void machine_client_closed(struct session *session)
{
	machine_fail(session, RESULT_ABORT, "client disconnected in state %s; login abandoned",
		     state_name(session->state));
	machine_run(session);
}

void machine_signal(struct session *session, int signum)
{
	machine_fail(session, RESULT_ABORT, "stopped by signal %s in state %s; login abandoned",
		     strsignal(signum), state_name(session->state));
	machine_run(session);
}

void machine_channel_malformed(struct session *session, const char *why)
{
	machine_fail(session, RESULT_SERVICE_ERR, "malformed frame from the module: %s", why);
	machine_run(session);
}
