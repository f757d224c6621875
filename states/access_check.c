/*
 * access_check.c -- after the password (authz-url set): may this session log
 * in here?  Authelia's own access control is asked about the URL authz-url
 * gives for this host and service (engine/authz.h), and what else needs only
 * the new session cookie goes out at the same time, each on a connection of
 * its own: GET /api/state (the session's user and level, as confirm_session.c
 * checks them) and, when a second factor may follow, POST /api/user/info.
 * The state records what arrived; a denial (403) or any failure ends the
 * login at once, before any second-factor prompt or Duo push.  Once the
 * session is confirmed and the access answer is in:
 *
 *   200, Remote-User the PAM user   1FA and policy: success; 1FA+2FA and 2FA:
 *                                   the second factor (method-priority)
 *   401 at level 1 (a two_factor    1FA: refused; policy, 1FA+2FA, 2FA: the
 *   rule: the required level does   second factor, then the question again
 *   not depend on the session's)    (access_recheck.c), which must allow
 *   403, anything else              refused (engine/authz.c says with which code)
 */
#include "machine.h"
#include "../engine/authelia_api.h"
#include "../engine/session.h"

#include <stdio.h>

static void access_check_enter(struct session *session);
static void access_check_http(struct session *session, const struct http_response *response);

const struct state_entry state_access_check_entry = {
    .name = "access_check",
    .waits_for = WAIT_SERVER,
    .enter = access_check_enter,
    .http = access_check_http,
};

/* 1FA and policy end with the access answer; the others need a factor. */
static bool access_second_factor_required(const struct session *session)
{
	return session->config.auth_level == AUTH_LEVEL_1FA_2FA ||
	       session->config.auth_level == AUTH_LEVEL_2FA;
}

static bool access_second_factor_possible(const struct session *session)
{
	return session->config.auth_level != AUTH_LEVEL_1FA;
}

int access_request(struct session *session)
{
	/* Into a header as it is: anything that could be trimmed, folded or
	 * split there is refused, not escaped (Authelia compares it). */
	if (!authz_user_sendable(session->user)) {
		machine_fail(session, RESULT_AUTH_ERR,
			     "user name \"%s\" cannot be sent in the access check's "
			     "Session-Username header (space, control character or no valid "
			     "UTF-8); refused",
			     session->user_log);
		return -1;
	}
	if (authz_send(session->http, &session->config, &session->authz, session->user, HTTP_AUTHZ,
		       false) != 0) {
		machine_fail(session, RESULT_SERVICE_ERR,
			     "cannot send the access check request for \"%s\" on %s",
			     session->user_log, session->authz.url);
		return -1;
	}
	return 0;
}

enum authz_verdict access_answer(struct session *session, const struct http_response *response)
{
	char reason[AUTHZ_REASON_SIZE];
	enum auth_result result;
	enum authz_verdict verdict =
	    authz_read_answer(response, &session->config, &session->authz, session->user,
			      session->user_log, &result, reason);

	if (verdict == AUTHZ_REFUSED)
		machine_fail(session, result, "%s", reason);
	return verdict;
}

static void access_check_enter(struct session *session)
{
	session->have_access = session->have_session_state = session->have_user_info = false;
	/* The question first: the connections are taken in this order. */
	if (access_request(session) != 0)
		return;
	if (session_state_request(session) != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the session state request");
	else if (access_second_factor_possible(session) && user_info_request(session) != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the user info request");
}

/* Decides once what the decision needs has arrived. */
static void access_check_decide(struct session *session)
{
	const char *url = session->authz.url, *user = session->user_log;

	if (!session->have_access || !session->have_session_state)
		return;
	if (session->access == AUTHZ_ALLOWED) {
		log_debug("authelia access control allows \"%s\" on %s at level %lld (response "
			  "status=200)",
			  user, url, session->session_level);
		if (!access_second_factor_required(session)) {
			/* A pending user info request is cancelled with the login. */
			session_add_factor(session, FACTOR_AUTHZ);
			machine_goto(session, STATE_SUCCESS);
			return;
		}
	} else {
		/* 401 after a confirmed level-1 session: the rule wants two factors
		 * (the session check ran beside it, on a session the password has
		 * just opened; one Authelia dropped would have come back with a new
		 * or deleted cookie, refused in authz.c). */
		if (session->session_level != 1) {
			machine_fail(
			    session, RESULT_AUTH_ERR,
			    "authelia access control answered 401 for \"%s\" on %s with the "
			    "session at level %lld; refused",
			    user, url, session->session_level);
			return;
		}
		if (session->config.auth_level == AUTH_LEVEL_1FA) {
			machine_fail(
			    session, RESULT_AUTH_ERR,
			    "authelia access control requires a second factor for \"%s\" on "
			    "%s (response status=401), and auth-level=1FA asks for none; "
			    "refused (auth-level=policy would ask for it)",
			    user, url);
			return;
		}
		log_debug("authelia access control requires a second factor for \"%s\" on %s "
			  "(response status=401)",
			  user, url);
	}
	if (session->have_user_info)
		machine_goto(session, STATE_SELECT_METHOD);
}

static void access_check_http(struct session *session, const struct http_response *response)
{
	switch (response->purpose) {
	case HTTP_AUTHZ:
		session->access = access_answer(session, response);
		session->have_access = session->access != AUTHZ_REFUSED;
		break;
	case HTTP_STATE:
		session->have_session_state = session_state_confirmed(session, response);
		break;
	case HTTP_USER_INFO:
		session->have_user_info = user_info_received(session, response);
		break;
	default:
		machine_fail(session, RESULT_SERVICE_ERR,
			     "unexpected HTTP response in state access_check");
		return;
	}
	if (!session->failing)
		access_check_decide(session);
}
