/*
 * receive_config.c -- the first state: the shim hands over the protocol
 * version, the module options, the PAM items and the client socket, then
 * FRAME_START.  The options are validated here with the guide's wording (an
 * unreadable `ca-cert` fails before any prompt), and the whole-exchange
 * timeout and the client watch are armed; the CA files and the resolver's are
 * read, and the helper drops root into its sandbox before it connects
 * anywhere.  Only cheap work happens before the first prompt: OpenSSL's
 * set-up, the certificates' parsing and the connections follow once the
 * prompt is out (session_connect).
 */
#include "machine.h"
#include "../engine/sandbox.h"
#include "../engine/jwt_loader.h"
#include "../engine/secure_alloc.h"
#include "../engine/session.h"
#include "../engine/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int receive_config_frame(struct session *session, const struct frame *frame);

const struct state_entry state_receive_config_entry = {
    .name = "receive_config",
    .waits_for = WAIT_SHIM,
    .frame = receive_config_frame,
};

/* Stores a PAM item; each may come once. */
static int receive_item(struct session *session, char **slot, const struct frame *frame,
			bool secret)
{
	if (*slot != NULL) {
		machine_fail(session, RESULT_SERVICE_ERR, "the module sent %s twice",
			     frame_type_name(frame->type));
		return 0;
	}
	*slot =
	    secret ? secret_dup(frame->payload, frame->len) : strndup(frame->payload, frame->len);
	if (*slot == NULL)
		machine_fail(session, RESULT_SERVICE_ERR, "out of memory receiving %s",
			     frame_type_name(frame->type));
	return 0;
}

static int receive_watch_fd(struct session *session, const struct frame *frame)
{
	char text[16];
	char *end;
	long fd;

	if (frame->len == 0 || frame->len >= sizeof(text)) {
		machine_fail(session, RESULT_SERVICE_ERR, "invalid client socket from the module");
		return 0;
	}
	memcpy(text, frame->payload, frame->len);
	text[frame->len] = '\0';
	fd = strtol(text, &end, 10);
	if (*end != '\0' || fd < 3 || fd > 1024) {
		machine_fail(session, RESULT_SERVICE_ERR, "invalid client socket from the module");
		return 0;
	}
	session->watch_fd = (int)fd;
	return 0;
}

/* The URL Authelia's access control is asked about, filled for this host and
 * service: the host names (and /etc/hosts for %H) are read now, as root,
 * before the sandbox forbids opening files. */
static int receive_authz_url(struct session *session)
{
	const char *template = session->config.authz_url;
	char err[OPTION_ERROR_SIZE];
	struct authz_host host;

	if (authz_host_names(AUTHZ_HOSTS_FILE, authz_template_wants_fqdn(template), &host, err) !=
		0 ||
	    authz_expand(template, &host, session->service, &session->authz, err) != 0) {
		machine_fail(session, RESULT_SERVICE_ERR, "configuration error: %s", err);
		return -1;
	}
	log_debug("access check: %s about %s (authz-endpoint, %s)", session->config.authz_endpoint,
		  session->authz.url, authz_kind_name(session->config.authz_kind));
	return 0;
}

static void receive_start(struct session *session)
{
	char err[OPTION_ERROR_SIZE > TLS_ERROR_SIZE ? OPTION_ERROR_SIZE : TLS_ERROR_SIZE];

	if (session->user == NULL || session->user[0] == '\0') {
		machine_fail(session, RESULT_SERVICE_ERR, "the module sent no user name");
		return;
	}
	if (session->option_error[0] != '\0') {
		machine_fail(session, RESULT_SERVICE_ERR, "configuration error: %s",
			     session->option_error);
		return;
	}
	if (config_finish(&session->config, err) != 0) {
		machine_fail(session, RESULT_SERVICE_ERR, "configuration error: %s", err);
		return;
	}
	log_set_debug(session->config.debug);
	/* Before any request: see SESSION_MAX_USER. */
	if (strlen(session->user) > SESSION_MAX_USER) {
		machine_fail(session, RESULT_AUTH_ERR,
			     "user name \"%s\" is longer than %d bytes; refused before any request",
			     session->user_log, SESSION_MAX_USER);
		return;
	}
	if (session->config.authz_url != NULL && receive_authz_url(session) != 0)
		return;
	/* Without the client's address in X-Forwarded-For, Authelia's networks
	 * rules match this host's own: a client that controls its reverse DNS
	 * would get the rules meant for this host's network. */
	if (session->authz.url != NULL && session->rhost != NULL && session->rhost[0] != '\0' &&
	    session->client_ip[0] == '\0') {
		machine_fail(session, RESULT_SERVICE_ERR,
			     "PAM_RHOST \"%s\" is a host name, not an address, so the access check "
			     "cannot tell Authelia the client's address (its networks rules would "
			     "match this host's); fix: UseDNS no in sshd_config",
			     session->rhost_log);
		return;
	}
	if (session->config.secret_inline)
		log_warning(
		    "oauth2-client-secret= is readable by every local user in the PAM file; "
		    "move the secret to a root-only file (chmod 600) and use "
		    "oauth2-client-secret-file= instead");
	/* The CA files only: OpenSSL's set-up and the parsing wait until the
	 * first prompt is out (session_connect). */
	if (tls_trust_read(session->config.ca_cert, &session->trust, err) != 0) {
		machine_fail(session, RESULT_SERVICE_ERR, "%s", err);
		return;
	}
	/* A helper that could never verify an ID token fails now, not after
	 * the user approved on a phone (the static build opens libjwt). */
	if (session->config.oauth2_client_id != NULL && jwt_loader_open(err, sizeof(err)) != 0) {
		machine_fail(session, RESULT_SERVICE_ERR, "%s", err);
		return;
	}
	session_arm_timeout(session, session->config.timeout);
	/* 1FA needs its requests one after the other; the other flows overlap two
	 * (user info and session state, or the device grant and OIDC discovery);
	 * the access check goes out beside the session state (1FA) and user info
	 * (the others), so that it adds no wait of its own before the second
	 * factor (README, "Central policy with Authelia's access control"). */
	if (session->authz.url != NULL)
		session->connections = session->config.auth_level == AUTH_LEVEL_1FA ? 2 : 3;
	else
		session->connections = session->config.auth_level == AUTH_LEVEL_1FA ? 1 : 2;
	/* The client and its resolver; it connects (TCP + TLS) once the first
	 * prompt is out, while the user is still typing. */
	if (session_connect(session) != 0) {
		machine_fail(session, RESULT_SERVICE_ERR, "cannot start the HTTPS client");
		return;
	}
	/* Everything that needs root is done: drop it before the first byte
	 * from the network is parsed (engine/sandbox.h). */
	if (sandbox_apply(session->sandbox, &session->config, err) != 0) {
		machine_fail(session, RESULT_SERVICE_ERR, "%s", err);
		return;
	}
	if (session->watch_fd >= 0) {
		int fd = session->watch_fd;
		session->watch_fd = -1;
		if (session_watch_client(session, fd) != 0) {
			machine_fail(session, RESULT_SERVICE_ERR,
				     "cannot watch the client socket (fd %d)", fd);
			return;
		}
	}
	log_debug("login for user \"%s\" service=%s rhost=%s auth-level=%s timeout=%u "
		  "client-watch=%s",
		  session->user_log, session->service_log, session->rhost_log,
		  auth_level_name(session->config.auth_level), session->config.timeout,
		  session->watch_fd >= 0 ? "on" : "off");
	machine_goto(session, STATE_CHOOSE_FIRST_STEP);
}

static int receive_config_frame(struct session *session, const struct frame *frame)
{
	char err[OPTION_ERROR_SIZE];
	char *argument;

	if (!session->hello_seen) {
		if (frame->type != FRAME_HELLO)
			return -1;
		if (frame->len != strlen(PROTOCOL_VERSION) ||
		    memcmp(frame->payload, PROTOCOL_VERSION, frame->len) != 0) {
			machine_fail(session, RESULT_SERVICE_ERR,
				     "the module speaks another protocol version than this helper "
				     "(%s); install matching versions",
				     PROTOCOL_VERSION);
			return 0;
		}
		session->hello_seen = true;
		return 0;
	}
	switch (frame->type) {
	case FRAME_OPTION:
		/* The first bad option fails the login at FRAME_START, once the PAM
		 * items (sent after the options) name whose login it was. */
		if (session->option_error[0] != '\0')
			return 0;
		/* secret_dup: the argument may be oauth2-client-secret=... */
		argument = secret_dup(frame->payload, frame->len);
		/* An option lost to a failed copy could weaken the login (ca-cert):
		 * fail closed, at FRAME_START like any bad option. */
		if (argument == NULL)
			snprintf(session->option_error, sizeof(session->option_error),
				 "out of memory receiving an option");
		else if (config_apply(&session->config, argument, err) != 0)
			snprintf(session->option_error, sizeof(session->option_error), "%s", err);
		secret_free(&argument);
		return 0;
	case FRAME_SERVICE:
		receive_item(session, &session->service, frame, false);
		if (session->service != NULL)
			log_shown(session->service, session->service_log);
		return 0;
	case FRAME_USER:
		receive_item(session, &session->user, frame, false);
		if (session->user != NULL)
			log_shown(session->user, session->user_log);
		return 0;
	case FRAME_RHOST:
		receive_item(session, &session->rhost, frame, false);
		if (session->rhost != NULL) {
			log_shown(session->rhost, session->rhost_log);
			session_client_ip(session->rhost, session->client_ip);
		}
		return 0;
	case FRAME_AUTHTOK:
		return receive_item(session, &session->authtok, frame, true);
	case FRAME_WATCH_FD:
		return receive_watch_fd(session, frame);
	case FRAME_START:
		receive_start(session);
		return 0;
	default:
		return -1;
	}
}
