/*
 * totp_verify.c -- POST /api/secondfactor/totp {"token"}.  Authelia answers a
 * wrong or replayed code with 403, a rate limit with 429, and an accepted one
 * with 200 "OK" after regenerating the session at level 2: that answer is its
 * decision, and the new session cookie it must carry is checked as well.  The
 * session's user and level 1 were confirmed after the password (user_info),
 * on the session this factor raised, so no request follows, unless authz-url
 * asks Authelia's access control again (access_recheck).
 */
#include "machine.h"
#include "../engine/authelia_api.h"
#include "../engine/secure_alloc.h"
#include "../engine/session.h"

static void totp_verify_enter(struct session *session);
static void totp_verify_http(struct session *session, const struct http_response *response);

const struct state_entry state_totp_verify_entry = {
    .name = "totp_verify",
    .waits_for = WAIT_SERVER,
    .enter = totp_verify_enter,
    .http = totp_verify_http,
};

static void totp_verify_enter(struct session *session)
{
	const char *pairs[] = {"token", session->totp_code, NULL};
	size_t len = 0;
	char *body = json_object_of_strings(pairs, &len);
	int rc = body ? http_client_request(session->http, HTTP_TOTP, AUTHELIA_TOTP, body, len,
					    HTTP_REQUEST_TIMEOUT_MS)
		      : -1;

	secret_free(&body);
	secret_free(&session->totp_code);
	if (rc != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the TOTP request");
}

static void totp_verify_http(struct session *session, const struct http_response *response)
{
	struct authelia_reply reply;

	if (!machine_reply_factor(session, response, "TOTP", TOTP_FAILED, &reply))
		return;
	authelia_reply_free(&reply);
	if (!response->cookie_rotated) {
		machine_fail(session, RESULT_AUTH_ERR,
			     "TOTP answered OK without a new session cookie: Authelia regenerates "
			     "the session after every second factor it accepts; refused");
		return;
	}
	session_add_factor(session, FACTOR_TOTP);
	second_factor_done(session, false);
}
