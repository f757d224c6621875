/*
 * confirm_session.c -- GET /api/state before any success: the session must
 * be at the level this login needs (1 for 1FA, 2 after a second factor) and
 * belong to the PAM user, compared case-sensitively as Linux compares user
 * names.  Authelia reports the backend's canonical name, so with a
 * case-insensitive directory "John"'s password would otherwise open the
 * distinct Linux account "john".  This also backs up the Duo check: the
 * contract calls /api/state the authoritative word on a completed 2FA.
 */
#include "machine.h"
#include "../engine/authelia_api.h"
#include "../engine/session.h"

#include <stdio.h>
#include <string.h>

static void confirm_session_enter(struct session *session);
static void confirm_session_http(struct session *session, const struct http_response *response);

const struct state_entry state_confirm_session_entry = {
    .name = "confirm_session",
    .waits_for = WAIT_SERVER,
    .enter = confirm_session_enter,
    .http = confirm_session_http,
};

static void confirm_session_enter(struct session *session)
{
	if (http_client_request(session->http, HTTP_STATE, AUTHELIA_STATE, NULL, 0,
				HTTP_REQUEST_TIMEOUT_MS) != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the session state request");
}

static void confirm_session_http(struct session *session, const struct http_response *response)
{
	struct authelia_reply reply;
	char err[JSON_ERROR_SIZE], shown[LOG_SHOWN_SIZE];
	const char *username = NULL;
	long long level = 0;
	bool same_user;

	if (!machine_reply(session, response, "session state", &reply))
		return;
	/* Both fields are required; a missing one says so, a mistyped one says how. */
	snprintf(err, sizeof(err), "data.username or data.authentication_level is missing");
	if (json_get_string(reply.data, "username", "data.username", &username, err) != 0 ||
	    json_get_integer(reply.data, "authentication_level", "data.authentication_level",
			     &level, err) != 0) {
		machine_fail(session, RESULT_AUTH_ERR, "session state: malformed response: %s",
			     err);
		authelia_reply_free(&reply);
		return;
	}
	/* Compared whole, before the reply (which owns username) is freed. */
	same_user = strcmp(username, session->user) == 0;
	log_shown(username, shown);
	authelia_reply_free(&reply);
	if (!same_user) {
		machine_fail(session, RESULT_AUTH_ERR,
			     "authelia identity \"%s\" does not match pam username \"%s\"", shown,
			     session->user_log);
		return;
	}
	if (level < session->required_level) {
		machine_fail(session, RESULT_AUTH_ERR,
			     "Authelia reports authentication_level=%lld for \"%s\", this login "
			     "needs %d",
			     level, session->user_log, session->required_level);
		return;
	}
	log_debug("session confirmed: user \"%s\" authentication_level=%lld", session->user_log,
		  level);
	machine_goto(session, STATE_SUCCESS);
}
