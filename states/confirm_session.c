/*
 * confirm_session.c -- GET /api/state after the password: the session must be
 * at level 1 or more and belong to the PAM user, compared case-sensitively as
 * Linux compares user names.  Authelia reports the backend's canonical name,
 * so with a case-insensitive directory "John"'s password would otherwise open
 * the distinct Linux account "john".  A 1FA login ends here; the other levels
 * make the same check beside /api/user/info (user_info.c), and then take a
 * second factor on Authelia's own answer to it, which must regenerate the
 * session (totp_verify.c, duo_push.c).
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

int session_state_request(struct session *session)
{
	return http_client_request(session->http, HTTP_STATE, AUTHELIA_STATE, NULL, 0,
				   HTTP_REQUEST_TIMEOUT_MS);
}

bool session_state_read(struct session *session, const struct http_response *response,
			bool *same_user, long long *level, char shown[LOG_SHOWN_SIZE])
{
	struct authelia_reply reply;
	char err[JSON_ERROR_SIZE];
	const char *username = NULL;

	*level = 0;
	if (!machine_reply(session, response, "session state", &reply))
		return false;
	/* Both fields are required; a missing one says so, a mistyped one says how. */
	snprintf(err, sizeof(err), "data.username or data.authentication_level is missing");
	if (json_get_string(reply.data, "username", "data.username", &username, err) != 0 ||
	    json_get_integer(reply.data, "authentication_level", "data.authentication_level", level,
			     err) != 0) {
		machine_fail(session, RESULT_AUTH_ERR, "session state: malformed response: %s",
			     err);
		authelia_reply_free(&reply);
		return false;
	}
	/* Compared whole, before the reply (which owns username) is freed. */
	*same_user = strcmp(username, session->user) == 0;
	log_shown(username, shown);
	authelia_reply_free(&reply);
	return true;
}

bool session_state_confirmed(struct session *session, const struct http_response *response)
{
	char shown[LOG_SHOWN_SIZE];
	long long level;
	bool same_user;

	if (!session_state_read(session, response, &same_user, &level, shown))
		return false;
	if (!same_user) {
		machine_fail(session, RESULT_AUTH_ERR,
			     "authelia identity \"%s\" does not match pam username \"%s\"", shown,
			     session->user_log);
		return false;
	}
	if (level < 1) {
		machine_fail(session, RESULT_AUTH_ERR,
			     "Authelia reports authentication_level=%lld for \"%s\", this login "
			     "needs 1",
			     level, session->user_log);
		return false;
	}
	log_debug("session confirmed: user \"%s\" authentication_level=%lld", session->user_log,
		  level);
	session->session_level = level;
	return true;
}

static void confirm_session_enter(struct session *session)
{
	if (session_state_request(session) != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the session state request");
}

static void confirm_session_http(struct session *session, const struct http_response *response)
{
	if (session_state_confirmed(session, response))
		machine_goto(session, STATE_SUCCESS);
}
