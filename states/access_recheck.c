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
 * password: 200 allows; a deny (403) refuses; 401 allows only once GET
 * /api/state, sent after that 401 arrived, shows the session still at level 1
 * for the PAM user, since the rule that wants two factors is the same at
 * level 2 (the required level does not depend on the session's; contract s.3,
 * s.7) and the device approval showed two (identity_binding.c).  The order
 * matters: the approval may take longer than Authelia's inactivity, and the
 * authz call itself then destroys the session and answers as for anyone,
 * 401 for every rule with a subject, deny rules included.  A state read
 * before that call would still show level 1; one read after it shows the
 * session gone.  An answer that replaces or deletes the session cookie is
 * refused at once (engine/authz.c).  This costs one round trip after the
 * device flow, and none after TOTP or Duo.
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
	access_request(session);
}

/* After the device flow, a 401 is "two factors wanted" only for the
 * password's session, unchanged: that user, level 1. */
static void access_recheck_device_state(struct session *session,
					const struct http_response *response)
{
	const char *url = session->authz.url, *user = session->user_log;
	char shown[LOG_SHOWN_SIZE];
	long long level;
	bool same_user;

	if (!session_state_read(session, response, &same_user, &level, shown))
		return;
	if (!same_user || level != 1) {
		machine_fail(session, RESULT_AUTH_ERR,
			     "authelia access control answered 401 for \"%s\" on %s after the "
			     "device approval, and Authelia no longer holds the password's session "
			     "at level 1 (/api/state: user \"%s\", authentication_level=%lld): it "
			     "expired or was dropped; refused",
			     user, url, shown, level);
		return;
	}
	log_debug("authelia access control requires two factors for \"%s\" on %s (response "
		  "status=401, the session at level 1); the device approval showed two",
		  user, url);
	session_add_factor(session, FACTOR_AUTHZ);
	machine_goto(session, STATE_SUCCESS);
}

static void access_recheck_answer(struct session *session, const struct http_response *response)
{
	const char *url = session->authz.url, *user = session->user_log;

	session->access = access_answer(session, response);
	session->have_access = session->access != AUTHZ_REFUSED;
	if (!session->have_access)
		return;
	if (session->access == AUTHZ_ALLOWED) {
		log_debug("authelia access control allows \"%s\" on %s after the second factor "
			  "(response status=200)",
			  user, url);
		session_add_factor(session, FACTOR_AUTHZ);
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
	/* Only now: a state read before this answer could predate the session's end. */
	if (session_state_request(session) != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the session state request");
}

static void access_recheck_http(struct session *session, const struct http_response *response)
{
	switch (response->purpose) {
	case HTTP_AUTHZ:
		if (!session->have_access) {
			access_recheck_answer(session, response);
			return;
		}
		break;
	case HTTP_STATE:
		if (session->device_second_factor && session->have_access &&
		    !session->have_session_state) {
			session->have_session_state = true;
			access_recheck_device_state(session, response);
			return;
		}
		break;
	default:
		break;
	}
	machine_fail(session, RESULT_SERVICE_ERR,
		     "unexpected HTTP response in state access_recheck");
}
