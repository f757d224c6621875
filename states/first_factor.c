/*
 * first_factor.c -- POST /api/firstfactor with the user name and the password
 * (typed at the prompt, or PAM_AUTHTOK for auth-level=2FA).  The password is
 * wiped as soon as the request body holds it.  Authelia answers every failure,
 * a ban included, with 401 and pads every answer to at least 250 ms, so no
 * delay of our own is added.
 */
#include "machine.h"
#include "../engine/authelia_api.h"
#include "../engine/secure_alloc.h"
#include "../engine/session.h"

#include <stdio.h>

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
	char *body = password ? json_object_of_strings(pairs, &len) : NULL;
	int rc;

	secret_free(&session->password);
	if (body == NULL) {
		secret_free(&session->authtok);
		machine_fail(session, RESULT_AUTH_ERR,
			     FIRST_FACTOR_FAILED
			     ": user name or password for user \"%s\" is not valid UTF-8",
			     session->user);
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

	snprintf(what, sizeof(what), "first factor for user \"%s\"", session->user);
	if (!machine_reply_factor(session, response, what, FIRST_FACTOR_FAILED, &reply))
		return;
	authelia_reply_free(&reply);
	if (session->config.auth_level == AUTH_LEVEL_1FA) {
		session->required_level = 1;
		machine_goto(session, STATE_CONFIRM_SESSION);
	} else {
		machine_goto(session, STATE_USER_INFO);
	}
}
