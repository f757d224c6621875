/*
 * identity_binding.c -- the device flow's token proves that *someone*
 * approved; this state proves it was the PAM user (the guide's "Device
 * Authorization identity binding"): the ID token verified against the JWKS
 * (RS256 only, iss, aud, exp, iat, nbf, and how the approver authenticated:
 * amr showing two factors, auth_time within device-max-age), then /userinfo
 * with the access token, whose sub must be the ID token's and whose
 * authelia.pam.username claim must equal the PAM user, case-sensitively.  A
 * check that fails is PAM_AUTH_ERR.
 */
#include "machine.h"
#include "../engine/authelia_api.h"
#include "../engine/secure_alloc.h"
#include "../engine/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void identity_binding_enter(struct session *session);
static void identity_binding_http(struct session *session, const struct http_response *response);

const struct state_entry state_identity_binding_entry = {
    .name = "identity_binding",
    .waits_for = WAIT_SERVER,
    .enter = identity_binding_enter,
    .http = identity_binding_http,
};

static void identity_binding_enter(struct session *session)
{
	struct device_flow *device = &session->device;
	struct http_request_spec spec = {.purpose = HTTP_USERINFO,
					 .path = device->discovery.userinfo_path,
					 .timeout_ms = HTTP_REQUEST_TIMEOUT_MS};
	/* The device flow is a second factor (auth-level 2FA or 1FA+2FA), or both
	 * factors when it comes first: either way the approval must show two. */
	const struct id_token_policy policy = {
	    .issuer = device->discovery.issuer,
	    .client_id = session->config.oauth2_client_id,
	    .now = time(NULL),
	    .two_factors = session->config.auth_level != AUTH_LEVEL_1FA,
	    .max_age = session->config.device_max_age,
	};
	char err[OIDC_ERROR_SIZE], *bearer = NULL;
	int rc;

	if (oidc_verify_id_token(device->tokens.id_token, device->jwks, &policy, &device->sub,
				 err) != 0) {
		machine_fail(session, RESULT_AUTH_ERR, "%s", err);
		return;
	}
	bearer = secret_printf("Bearer %s", device->tokens.access_token);
	spec.authorization = bearer;
	rc = bearer ? http_client_send(session->http, &spec) : -1;
	secret_free(&bearer);
	oidc_token_set_free(&device->tokens);
	if (rc != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the userinfo request");
}

static void identity_binding_http(struct session *session, const struct http_response *response)
{
	char err[OIDC_ERROR_SIZE];

	if (response->error != NULL) {
		machine_fail(session, authelia_failure_result(response),
			     "userinfo request failed: %s", response->error);
	} else if (response->status != 200) {
		machine_fail(session, authelia_status_result(response->status),
			     "userinfo request failed (response status=%d)%s", response->status,
			     response->status / 100 == 3 ? "; is url Authelia's own URL?" : "");
	} else if (oidc_check_userinfo(response->body, response->body_len, session->device.sub,
				       session->user, err) != 0) {
		machine_fail(session, RESULT_AUTH_ERR, "%s", err);
	} else {
		log_debug("device identity verified: claim \"" OIDC_USERNAME_CLAIM
			  "\" == pam username \"%s\"",
			  session->user_log);
		session_add_factor(session, FACTOR_DEVICE);
		second_factor_done(session, true);
	}
}
