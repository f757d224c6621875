/*
 * access_recheck.c -- once the second factor is accepted (authz-url set),
 * Authelia's access control is asked again, with the session that factor
 * raised (its cookie rotated): it must now allow, 200 with Remote-User the
 * PAM user.  This catches what changed since the first question: a group
 * removed (Authelia refreshes groups per refresh_interval), another rule
 * matching, the session dropped.  Everything else is refused as in
 * access_check.c.
 *
 * The device flow raises no cookie session (its approval is an OAuth2 grant),
 * so after it the question is asked with the level-1 session from the
 * password, beside GET /api/state: 200 allows; 401 allows only when the state
 * still shows that session at level 1 for the PAM user, since the rule that
 * wants two factors is the same at level 2 (the required level does not
 * depend on the session's; contract s.3, s.7) and the device approval showed
 * two (identity_binding.c); a deny (403) refuses.
 */
#include "machine.h"
#include "../engine/session.h"

static void access_recheck_enter(struct session *session);
static void access_recheck_http(struct session *session, const struct http_response *response);

const struct state_entry state_access_recheck_entry = {
    .name = "access_recheck",
    .waits_for = WAIT_SERVER,
    .enter = access_recheck_enter,
    .http = access_recheck_http,
};

void second_factor_done(struct session *session, bool device)
{
	if (session->authz.url == NULL) {
		machine_goto(session, STATE_SUCCESS);
		return;
	}
	session->device_second_factor = device;
	machine_goto(session, STATE_ACCESS_RECHECK);
}

static void access_recheck_enter(struct session *session)
{
	session->have_access = session->have_session_state = false;
	if (access_request(session) != 0)
		return;
	if (session->device_second_factor && session_state_request(session) != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the session state request");
}

static void access_recheck_decide(struct session *session)
{
	const char *url = session->authz.url, *user = session->user_log;

	if (!session->have_access)
		return;
	if (session->access == AUTHZ_ALLOWED) {
		log_debug("authelia access control allows \"%s\" on %s after the second factor "
			  "(response status=200)",
			  user, url);
		machine_goto(session, STATE_SUCCESS);
		return;
	}
	if (!session->device_second_factor) {
		machine_fail(session, RESULT_AUTH_ERR,
			     "authelia access control still refuses \"%s\" on %s after the second "
			     "factor (response status=401): the session did not reach the level "
			     "the rule needs, or Authelia dropped it; refused",
			     user, url);
		return;
	}
	if (!session->have_session_state)
		return;
	log_debug("authelia access control requires two factors for \"%s\" on %s (response "
		  "status=401); the device approval showed two",
		  user, url);
	machine_goto(session, STATE_SUCCESS);
}

static void access_recheck_http(struct session *session, const struct http_response *response)
{
	switch (response->purpose) {
	case HTTP_AUTHZ:
		session->access = access_answer(session, response);
		session->have_access = session->access != AUTHZ_REFUSED;
		break;
	case HTTP_STATE:
		session->have_session_state = session_state_confirmed(session, response);
		break;
	default:
		machine_fail(session, RESULT_SERVICE_ERR,
			     "unexpected HTTP response in state access_recheck");
		return;
	}
	if (!session->failing)
		access_recheck_decide(session);
}
