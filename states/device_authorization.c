/*
 * device_authorization.c -- POST /api/oidc/device-authorization (RFC 8628)
 * with the client's authentication and the space-separated scopes.  The
 * verification URL in the answer is checked before anything is shown: https,
 * the host and port of url, no user name, at most 2 KiB -- a tampered answer
 * must not put an attacker's URL into a QR code.  OIDC discovery and the JWKS
 * are fetched at the same time on the other connection (device_poll.c reads
 * them, in whichever device state they arrive), so that once the user approves
 * only the token and userinfo requests remain.
 */
#include "machine.h"
#include "../engine/authelia_api.h"
#include "../engine/session.h"

#include <stdio.h>
#include <string.h>

/* The reference module's words for these failures; our reason follows. */
#define INITIATE_FAILED "failed to initiate device authorization"

static void device_authorization_enter(struct session *session);
static void device_authorization_http(struct session *session,
				      const struct http_response *response);

const struct state_entry state_device_authorization_entry = {
    .name = "device_authorization",
    .waits_for = WAIT_SERVER,
    .enter = device_authorization_enter,
    .http = device_authorization_http,
};

static void device_authorization_enter(struct session *session)
{
	const char *pairs[] = {"scope", session->config.oauth2_scope, NULL};

	if (oidc_send_client_form(session->http, &session->config, HTTP_DEVICE_AUTHORIZATION,
				  OIDC_DEVICE_PATH, pairs) != 0)
		machine_fail(session, RESULT_SERVICE_ERR,
			     "cannot send the device authorization request");
	else if (device_metadata_request(session) != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the discovery request");
}

static void device_authorization_http(struct session *session, const struct http_response *response)
{
	struct device_flow *device = &session->device;
	char err[OIDC_ERROR_SIZE];

	if (response->purpose != HTTP_DEVICE_AUTHORIZATION) {
		device_metadata_http(session, response);
		return;
	}
	if (response->error != NULL) {
		machine_fail(session, authelia_failure_result(response),
			     INITIATE_FAILED ": device authorization request failed: %s",
			     response->error);
		return;
	}
	log_debug("device authorization response status=%d", response->status);
	if (response->status == 400 || response->status == 401) {
		/* invalid_client, invalid_scope, a client without the device grant */
		machine_fail(session, RESULT_SERVICE_ERR,
			     INITIATE_FAILED
			     ": device authorization response status=%d: check "
			     "oauth2-client-id, oauth2-client-secret, oauth2-client-auth-method "
			     "and oauth2-scope "
			     "against the client Authelia has",
			     response->status);
		return;
	}
	if (response->status != 200) {
		machine_fail(session, authelia_status_result(response->status),
			     INITIATE_FAILED ": device authorization response status=%d%s",
			     response->status,
			     response->status / 100 == 3 ? "; is url Authelia's own URL?" : "");
		return;
	}
	if (oidc_read_device_grant(response->body, response->body_len, &session->config,
				   &device->grant, err) != 0) {
		/* oidc_check_verification_url's reasons all start "verification URL" */
		machine_fail(session, RESULT_AUTH_ERR, "%s: %s",
			     strncmp(err, "verification URL", 16) == 0
				 ? "device authorization returned an invalid verification URL"
				 : INITIATE_FAILED ": device authorization",
			     err);
		return;
	}
	device->interval = device->grant.interval;
	log_debug("device authorization user code %s, expires in %u s, interval %u s",
		  device->grant.user_code, device->grant.expires_in, device->interval);
	machine_goto(session, STATE_DEVICE_POLL);
}
