/*
 * device_poll.c -- shows the user one prompt (the reference module's "Scan the
 * QR code below or visit the URL to approve.", the verification URL and user
 * code in plain text, readable in any locale, the QR code, then "Approve on
 * your device, then press Enter.") and polls the token endpoint in the
 * background from the start, every `interval` seconds: authorization_pending
 * keeps polling, slow_down and 429 add 5 s, access_denied and expired_token
 * end the login, and so does our own deadline at expires_in (Authelia keeps
 * answering authorization_pending for an expired code).  Enter polls at once
 * when no poll is in flight and the interval has passed; never sooner (RFC
 * 8628 3.4).
 * OIDC discovery and the JWKS, asked for with the device grant on the other
 * connection, may still be arriving here; after the tokens only the userinfo
 * call remains.
 */
#include "machine.h"
#include "../engine/authelia_api.h"
#include "../engine/jwt_loader.h"
#include "../engine/qr.h"
#include "../engine/secure_alloc.h"
#include "../engine/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference module's sentences: operators' scripts match on them. */
#define DEVICE_SCAN	    "Scan the QR code below or visit the URL to approve."
#define DEVICE_VISIT	    "Visit the URL to approve." /* qr=off */
#define DEVICE_APPROVE	    "Approve on your device, then press Enter."
#define DEVICE_NOT_YET	    "Not approved yet. " DEVICE_APPROVE
#define DEVICE_BACK_OFF	    5 /* seconds added on slow_down and 429 */
#define DEVICE_MAX_INTERVAL 60
/* Polls aim this much past `interval`: the server counts the interval between
 * its own handling of two polls (Authelia answers slow_down otherwise, which
 * costs 5 s), while libevent's timers run on a coarse clock (up to a tick
 * early) and the server takes longer with some polls than with others. */
#define DEVICE_POLL_MARGIN_MS 100

static void device_poll_enter(struct session *session);
static int device_poll_frame(struct session *session, const struct frame *frame);
static void device_poll_http(struct session *session, const struct http_response *response);
static void device_poll_timer(struct session *session);

const struct state_entry state_device_poll_entry = {
    .name = "device_poll",
    .waits_for = WAIT_USER,
    .enter = device_poll_enter,
    .frame = device_poll_frame,
    .http = device_poll_http,
    .timer = device_poll_timer,
};

static long ms_until(struct session *session, const struct timeval *when)
{
	struct timeval now, left;

	event_base_gettimeofday_cached(session->base, &now);
	if (!evutil_timercmp(when, &now, >))
		return 0;
	evutil_timersub(when, &now, &left);
	return (long)left.tv_sec * 1000 + left.tv_usec / 1000;
}

static bool device_interval_passed(struct session *session)
{
	struct device_flow *device = &session->device;
	struct timeval next,
	    step = {.tv_sec = device->interval, .tv_usec = DEVICE_POLL_MARGIN_MS * 1000};

	evutil_timeradd(&device->last_poll, &step, &next);
	return ms_until(session, &next) == 0;
}

static bool device_expired(struct session *session)
{
	if (ms_until(session, &session->device.deadline) > 0)
		return false;
	machine_fail(session, RESULT_AUTH_ERR,
		     "device authorization token expired: device authorization expired before "
		     "user approval (expires_in passed)");
	return true;
}

static void device_poll_now(struct session *session)
{
	struct device_flow *device = &session->device;
	const char *pairs[] = {"grant_type", OIDC_DEVICE_CODE_GRANT, "device_code",
			       device->grant.device_code, NULL};

	if (device_expired(session))
		return;
	session_cancel_state_timer(session);
	device->poll_in_flight = true;
	if (oidc_send_client_form(session->http, &session->config, HTTP_TOKEN, OIDC_TOKEN_PATH,
				  pairs) != 0)
		machine_fail(session, RESULT_SERVICE_ERR, "cannot send the token request");
}

/* The next poll: interval after the last answer, and never past the deadline. */
static void device_schedule_poll(struct session *session)
{
	struct device_flow *device = &session->device;
	struct timeval next,
	    step = {.tv_sec = device->interval, .tv_usec = DEVICE_POLL_MARGIN_MS * 1000};
	long ms;

	evutil_timeradd(&device->last_poll, &step, &next);
	ms = ms_until(session, &next);
	if (ms > ms_until(session, &device->deadline))
		ms = ms_until(session, &device->deadline);
	session_arm_state_timer(session, ms);
}

static char *device_prompt_text(struct session *session)
{
	const struct device_grant *grant = &session->device.grant;
	char *qr = session->config.qr ? qr_render(grant->verification_url) : NULL;
	char *text = NULL;

	if (asprintf(&text, "%s\n%s\nCode: %s\n%s%s%s", qr ? DEVICE_SCAN : DEVICE_VISIT,
		     grant->verification_url, grant->user_code, qr ? qr : "", qr ? "\n" : "",
		     DEVICE_APPROVE) < 0)
		text = NULL;
	free(qr);
	return text;
}

static void device_poll_enter(struct session *session)
{
	struct device_flow *device = &session->device;
	char *text = device_prompt_text(session);
	struct timeval now, life = {.tv_sec = device->grant.expires_in};

	event_base_gettimeofday_cached(session->base, &now);
	evutil_timeradd(&now, &life, &device->deadline);
	if (text == NULL || session_prompt(session, FRAME_PROMPT_ECHO_ON, text) != 0) {
		free(text);
		machine_fail(session, RESULT_SERVICE_ERR, "cannot show the device authorization");
		return;
	}
	free(text);
	device_poll_now(session);
	/* While the poll and the metadata are on their way: the library that will
	 * verify the ID token (a static helper opens it now, see jwt_loader.h). */
	jwt_loader_handle();
}

static int device_poll_frame(struct session *session, const struct frame *frame)
{
	struct device_flow *device = &session->device;

	if (frame->type == FRAME_CONV_ERROR) {
		machine_fail(session, RESULT_CONV_ERR,
			     "conversation failed during the device authorization");
		return 0;
	}
	if (frame->type != FRAME_REPLY)
		return -1;
	/* RFC 8628 3.4: at least `interval` between polls, Enter or not.  When it
	 * has passed, Enter polls at once; otherwise the scheduled poll (at most
	 * an interval away) answers, and a "not yet" prompt follows it. */
	device->enter_pressed = true;
	if (!device->poll_in_flight && !device->have_tokens && device_interval_passed(session))
		device_poll_now(session);
	return 0;
}

/* Identity binding needs the tokens and the JWKS: whichever comes last moves on. */
static void device_maybe_done(struct session *session)
{
	if (session->device.have_tokens && session->device.jwks != NULL)
		machine_goto(session, STATE_IDENTITY_BINDING);
}

static void device_poll_result(struct session *session, const struct http_response *response)
{
	struct device_flow *device = &session->device;
	char err[OIDC_ERROR_SIZE];
	enum poll_outcome outcome;

	device->poll_in_flight = false;
	/* The server times its slow_down from when it handled the poll: count the
	 * interval from the answer, so the next poll never comes early. */
	event_base_gettimeofday_cached(session->base, &device->last_poll);
	if (response->error != NULL) {
		machine_fail(session, authelia_failure_result(response), "token request failed: %s",
			     response->error);
		return;
	}
	if (response->status / 100 == 3) {
		machine_fail(session, RESULT_SERVICE_ERR,
			     "token request: unexpected redirect (response status=%d); is url "
			     "Authelia's own URL?",
			     response->status);
		return;
	}
	outcome = oidc_read_token_response(response->status, response->body, response->body_len,
					   &device->tokens, err);
	log_debug("device %s", err); /* the reference's "device token response status=…" */
	switch (outcome) {
	case POLL_TOKENS:
		device->have_tokens = true;
		session_cancel_state_timer(session);
		device_maybe_done(session);
		return;
	case POLL_SLOW_DOWN:
	case POLL_BACK_OFF:
		if (device->interval + DEVICE_BACK_OFF <= DEVICE_MAX_INTERVAL)
			device->interval += DEVICE_BACK_OFF;
		/* fall through */
	case POLL_PENDING:
		if (device_expired(session))
			return;
		if (device->enter_pressed) {
			device->enter_pressed = false;
			session_prompt(session, FRAME_PROMPT_ECHO_ON, DEVICE_NOT_YET);
		}
		device_schedule_poll(session);
		return;
	case POLL_DENIED:
		machine_fail(session, RESULT_AUTH_ERR, "device authorization denied by user");
		return;
	case POLL_EXPIRED:
		machine_fail(session, RESULT_AUTH_ERR, "device authorization token expired");
		return;
	case POLL_CLIENT:
		machine_fail(session, RESULT_SERVICE_ERR,
			     "device token error: the token endpoint refused the client (%s): "
			     "check oauth2-client-id, oauth2-client-secret and "
			     "oauth2-client-auth-method",
			     err);
		return;
	case POLL_FAILED:
		machine_fail(session, authelia_status_result(response->status),
			     "device token error: device authorization failed: %s", err);
		return;
	}
}

static void device_poll_http(struct session *session, const struct http_response *response)
{
	if (response->purpose == HTTP_TOKEN)
		device_poll_result(session, response);
	else
		device_metadata_http(session, response);
}

int device_metadata_request(struct session *session)
{
	return http_client_request(session->http, HTTP_DISCOVERY, OIDC_DISCOVERY_PATH, NULL, 0,
				   HTTP_REQUEST_TIMEOUT_MS);
}

void device_metadata_http(struct session *session, const struct http_response *response)
{
	struct device_flow *device = &session->device;
	char err[OIDC_ERROR_SIZE];

	if (response->purpose != HTTP_DISCOVERY && response->purpose != HTTP_JWKS) {
		machine_fail(session, RESULT_SERVICE_ERR, "unexpected HTTP response in state %s",
			     state_name(session->state));
		return;
	}
	if (response->error != NULL) {
		machine_fail(session, authelia_failure_result(response), "%s request failed: %s",
			     response->purpose == HTTP_JWKS ? "JWKS" : "OIDC discovery",
			     response->error);
		return;
	}
	if (response->status != 200) {
		machine_fail(session, authelia_status_result(response->status),
			     "%s request failed (response status=%d)%s",
			     response->purpose == HTTP_JWKS ? "JWKS" : "OIDC discovery",
			     response->status,
			     response->status / 100 == 3 ? "; is url Authelia's own URL?" : "");
		return;
	}
	if (response->purpose == HTTP_DISCOVERY) {
		if (oidc_read_discovery(response->body, response->body_len, &session->config,
					&device->discovery, err) != 0) {
			machine_fail(session, RESULT_AUTH_ERR, "%s", err);
			return;
		}
		if (http_client_request(session->http, HTTP_JWKS, device->discovery.jwks_path, NULL,
					0, HTTP_REQUEST_TIMEOUT_MS) != 0)
			machine_fail(session, RESULT_SERVICE_ERR, "cannot send the JWKS request");
		return;
	}
	device->jwks = oidc_read_jwks(response->body, response->body_len, err);
	if (device->jwks == NULL) {
		machine_fail(session, RESULT_AUTH_ERR, "id token verification failed: %s", err);
		return;
	}
	device_maybe_done(session);
}

static void device_poll_timer(struct session *session)
{
	if (!session->device.poll_in_flight)
		device_poll_now(session);
}
