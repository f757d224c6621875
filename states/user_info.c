/*
 * user_info.c -- after the password, two independent requests at once, on
 * two connections: POST /api/user/info (which second factors the user has
 * enrolled) and GET /api/state (the session check of confirm_session.c: the
 * PAM user's, at level 1 or more).  The state records which answer arrived
 * and moves on once both have; the first failure of either ends the login,
 * and the other request is cancelled with it.
 *
 * POST, not GET: GET reports nothing enrolled for users who never opened the
 * portal (they have no preferences row yet; POST creates it).  The has_*
 * flags are what counts: POST may set method to "totp" for a user without
 * TOTP.
 */
#include "machine.h"
#include "../engine/authelia_api.h"
#include "../engine/session.h"

#include <stdio.h>
#include <string.h>

static void user_info_enter(struct session *session);
static void user_info_http(struct session *session, const struct http_response *response);

const struct state_entry state_user_info_entry = {
    .name = "user_info",
    .waits_for = WAIT_SERVER,
    .enter = user_info_enter,
    .http = user_info_http,
};

int user_info_request(struct session *session)
{
	return http_client_request(session->http, HTTP_USER_INFO, AUTHELIA_USER_INFO, "", 0,
				   HTTP_REQUEST_TIMEOUT_MS);
}

static void user_info_enter(struct session *session)
{
	session->have_user_info = session->have_session_state = false;
	if (user_info_request(session) != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the user info request");
	else if (session_state_request(session) != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the session state request");
}

/* Every field is required and must have its type. */
static int user_info_read(yajl_val data, struct user_info *info, char err[JSON_ERROR_SIZE])
{
	const char *method = NULL;
	int rc;

	if (data == NULL) {
		snprintf(err, JSON_ERROR_SIZE, "no data");
		return -1;
	}
	if ((rc = json_get_string(data, "method", "data.method", &method, err)) != 0 ||
	    (rc = json_get_bool(data, "has_totp", "data.has_totp", &info->has_totp, err)) != 0 ||
	    (rc = json_get_bool(data, "has_webauthn", "data.has_webauthn", &info->has_webauthn,
				err)) != 0 ||
	    (rc = json_get_bool(data, "has_duo", "data.has_duo", &info->has_duo, err)) != 0) {
		if (rc > 0)
			snprintf(err, JSON_ERROR_SIZE, "a has_* or method field is missing");
		return -1;
	}
	if (strcmp(method, "totp") != 0 && strcmp(method, "webauthn") != 0 &&
	    strcmp(method, "mobile_push") != 0 && method[0] != '\0') {
		snprintf(err, JSON_ERROR_SIZE, "unknown data.method");
		return -1;
	}
	snprintf(info->method, sizeof(info->method), "%s", method);
	return 0;
}

bool user_info_received(struct session *session, const struct http_response *response)
{
	struct authelia_reply reply;
	char err[JSON_ERROR_SIZE];
	struct user_info *info = &session->user_info;

	if (!machine_reply(session, response, "user info fetch failed: user info", &reply))
		return false;
	if (user_info_read(reply.data, info, err) != 0) {
		authelia_reply_free(&reply);
		machine_fail(session, RESULT_AUTH_ERR,
			     "user info fetch failed: user info: malformed response: %s", err);
		return false;
	}
	authelia_reply_free(&reply);
	log_debug("user info method=\"%s\" has_totp=%s has_webauthn=%s has_duo=%s", info->method,
		  info->has_totp ? "true" : "false", info->has_webauthn ? "true" : "false",
		  info->has_duo ? "true" : "false");
	return true;
}

static void user_info_http(struct session *session, const struct http_response *response)
{
	if (response->purpose == HTTP_STATE) {
		if (session_state_confirmed(session, response))
			session->have_session_state = true;
	} else if (response->purpose == HTTP_USER_INFO) {
		if (user_info_received(session, response))
			session->have_user_info = true;
	} else {
		machine_fail(session, RESULT_SERVICE_ERR,
			     "unexpected HTTP response in state user_info");
	}
	if (session->have_user_info && session->have_session_state)
		machine_goto(session, STATE_SELECT_METHOD);
}
