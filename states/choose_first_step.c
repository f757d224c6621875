/*
 * choose_first_step.c -- decides how the login starts:
 *   1FA                               ask for the password
 *   1FA+2FA                           ask for the password
 *   policy                            ask for the password (always: a bypass
 *                                     rule never skips it), then Authelia's
 *                                     access control decides (access_check)
 *   2FA                               first factor silently with PAM_AUTHTOK
 *   2FA or 1FA+2FA with method-priority leading with device_authorization:
 *                                     the device flow, no password at all
 *                                     (so nobody is asked for a password that
 *                                     would not be used), unless
 *                                     device-flow=after-password: then the
 *                                     password first, as above, and the device
 *                                     flow as the second factor
 */
#include "machine.h"
#include "../engine/session.h"

static void choose_first_step_enter(struct session *session);

const struct state_entry state_choose_first_step_entry = {
    .name = "choose_first_step",
    .waits_for = WAIT_NOTHING,
    .enter = choose_first_step_enter,
};

static void choose_first_step_enter(struct session *session)
{
	const struct config *config = &session->config;
	enum state_id next;

	if (config->auth_level != AUTH_LEVEL_1FA &&
	    config->methods[0] == METHOD_DEVICE_AUTHORIZATION && !config->device_after_password)
		next = STATE_DEVICE_AUTHORIZATION;
	else if (config->auth_level == AUTH_LEVEL_2FA)
		next = STATE_FIRST_FACTOR;
	else
		next = STATE_PASSWORD_PROMPT;

	if (next == STATE_FIRST_FACTOR && session->authtok == NULL) {
		machine_fail(session, RESULT_SERVICE_ERR,
			     "auth-level=2FA needs the password from a module above "
			     "(PAM_AUTHTOK is not set; put pam_unix.so before pam_authelia.so)");
		return;
	}
	log_debug("first step %s (auth-level=%s, first priority entry \"%s\")", state_name(next),
		  auth_level_name(config->auth_level), method_name(config->methods[0]));
	machine_goto(session, next);
}
