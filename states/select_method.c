/*
 * select_method.c -- walks method-priority (default "user") and picks the
 * first entry that resolves to a method this user can use over SSH:
 *
 *   totp                  when has_totp
 *   mobile_push           when has_duo, or when Duo is the stored preference
 *                         (has_duo only means "a preferred Duo device is
 *                         saved"; with one push device Authelia picks it, and
 *                         when it cannot it answers data.result, which the
 *                         duo_push state refuses)
 *   device_authorization  when oauth2-client-id is set
 *   user                  the stored preference when usable; when it is
 *                         webauthn, empty or unusable: TOTP, then Duo, then
 *                         device authorization
 */
#include "machine.h"
#include "../engine/session.h"

#include <string.h>

static void select_method_enter(struct session *session);

const struct state_entry state_select_method_entry = {
    .name = "select_method",
    .waits_for = WAIT_NOTHING,
    .enter = select_method_enter,
};

static bool method_usable(const struct config *config, const struct user_info *info,
			  enum method method)
{
	switch (method) {
	case METHOD_TOTP:
		return info->has_totp;
	case METHOD_MOBILE_PUSH:
		return info->has_duo || strcmp(info->method, "mobile_push") == 0;
	case METHOD_DEVICE_AUTHORIZATION:
		return config->oauth2_client_id != NULL;
	case METHOD_USER:
		break;
	}
	return false;
}

int method_select(const struct config *config, const struct user_info *info, enum method *chosen,
		  enum method *entry)
{
	static const enum method fallback[] = {METHOD_TOTP, METHOD_MOBILE_PUSH,
					       METHOD_DEVICE_AUTHORIZATION};

	for (size_t i = 0; i < config->method_count; i++) {
		enum method m = config->methods[i];

		*entry = m;
		if (m != METHOD_USER) {
			if (method_usable(config, info, m)) {
				*chosen = m;
				return 0;
			}
			continue;
		}
		if (strcmp(info->method, "totp") == 0 && method_usable(config, info, METHOD_TOTP)) {
			*chosen = METHOD_TOTP;
			return 0;
		}
		if (strcmp(info->method, "mobile_push") == 0 &&
		    method_usable(config, info, METHOD_MOBILE_PUSH)) {
			*chosen = METHOD_MOBILE_PUSH;
			return 0;
		}
		for (size_t f = 0; f < sizeof(fallback) / sizeof(fallback[0]); f++) {
			if (method_usable(config, info, fallback[f])) {
				*chosen = fallback[f];
				return 0;
			}
		}
	}
	return -1;
}

static void select_method_enter(struct session *session)
{
	enum method chosen, entry;

	if (method_select(&session->config, &session->user_info, &chosen, &entry) != 0) {
		machine_fail(session, RESULT_AUTH_ERR, "no usable 2FA method for this user");
		return;
	}
	log_debug("selected \"%s\" (from priority entry \"%s\")", method_name(chosen),
		  method_name(entry));
	switch (chosen) {
	case METHOD_TOTP:
		machine_goto(session, STATE_TOTP_PROMPT);
		break;
	case METHOD_MOBILE_PUSH:
		machine_goto(session, STATE_DUO_PUSH);
		break;
	default:
		machine_goto(session, STATE_DEVICE_AUTHORIZATION);
		break;
	}
}
