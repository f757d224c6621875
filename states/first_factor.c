/*
 * first_factor.c -- POST /api/firstfactor with the user name and the password
 * (typed at the prompt, or PAM_AUTHTOK for auth-level=2FA).  The password is
 * wiped as soon as the request body holds it (the HTTP client keeps its own
 * wiped copy until the answer, to send it once more if the connection turns
 * out to have been closed).  Authelia answers every failure, a ban included,
 * with 401 and pads every answer to at least 250 ms, so no delay of our own is
 * added.  Next: 1FA confirms the session alone; the other levels read the
 * enrolled methods and confirm the session at the same time (user_info); with
 * authz-url, Authelia's access control is asked beside both (access_check).
 */
#include "machine.h"
#include "../engine/authelia_api.h"
#include "../engine/secure_alloc.h"
#include "../engine/session.h"

#include <stdio.h>
#include <string.h>

static void first_factor_enter(struct session *session);
static void first_factor_http(struct session *session, const struct http_response *response);

const struct state_entry state_first_factor_entry = {
    .name = "first_factor",
    .waits_for = WAIT_SERVER,
    .enter = first_factor_enter,
    .http = first_factor_http,
};

static void first_factor_enter(struct session *session)
{
	const char *password = session->password ? session->password : session->authtok;
	const char *pairs[] = {"username", session->user, "password", password, NULL};
	size_t len = 0;
	char *body = NULL;
	int rc;

	/* Before any request: see SESSION_MAX_PASSWORD. */
	if (password != NULL && strlen(password) > SESSION_MAX_PASSWORD) {
		secret_free(&session->password);
		secret_free(&session->authtok);
		machine_fail(session, RESULT_AUTH_ERR,
			     FIRST_FACTOR_FAILED ": password for user \"%s\" is longer than %d "
						 "bytes; refused before any request",
			     session->user_log, SESSION_MAX_PASSWORD);
		return;
	}
	body = password ? json_object_of_strings(pairs, &len) : NULL;
	secret_free(&session->password);
	if (body == NULL) {
		secret_free(&session->authtok);
		machine_fail(session, RESULT_AUTH_ERR,
			     FIRST_FACTOR_FAILED
			     ": user name or password for user \"%s\" is not valid UTF-8",
			     session->user_log);
		return;
	}
	rc = http_client_request(session->http, HTTP_FIRST_FACTOR, AUTHELIA_FIRST_FACTOR, body, len,
				 HTTP_REQUEST_TIMEOUT_MS);
	secret_free(&body);
	secret_free(&session->authtok);
	if (rc != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the first factor request");
}

static void first_factor_http(struct session *session, const struct http_response *response)
{
	struct authelia_reply reply;
	char what[128];

	snprintf(what, sizeof(what), "first factor for user \"%s\"", session->user_log);
	if (!machine_reply_factor(session, response, what, FIRST_FACTOR_FAILED, &reply))
		return;
	authelia_reply_free(&reply);
	session_add_factor(session, FACTOR_PASSWORD);
	if (session->authz.url != NULL)
		machine_goto(session, STATE_ACCESS_CHECK);
	else if (session->config.auth_level == AUTH_LEVEL_1FA)
		machine_goto(session, STATE_CONFIRM_SESSION);
	else
		machine_goto(session, STATE_USER_INFO);
}
