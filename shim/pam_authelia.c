/*
 * pam_authelia.c -- the PAM entry points.  pam_sm_authenticate checks the
 * options, gathers what the helper needs from the PAM handle, starts the
 * helper and relays the login; nothing here talks to Authelia.
 */
#include "shim.h"
#include "../protocol/shown.h"

#include <security/pam_ext.h>
#include <signal.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static int check_items(pam_handle_t *pamh, const struct relay_setup *setup,
		       struct shim_audit *audit);

/*
 * The PAM items against the protocol's bounds, before any helper starts: an
 * item larger than a frame could not be sent at all (the helper would wait
 * out its set-up timer), and a user name or password longer than Authelia
 * gets is refused now, with the helper's words and code.
 */
static int check_items(pam_handle_t *pamh, const struct relay_setup *setup,
		       struct shim_audit *audit)
{
	char user[TEXT_SHOWN_SIZE];
	size_t len = strlen(setup->user);

	text_shown(setup->user, user);
	if (len > PROTOCOL_MAX_USER) {
		shim_fail(pamh, audit,
			  "user name \"%s\" (%zu bytes) is longer than %d bytes; refused before "
			  "any request",
			  user, len, PROTOCOL_MAX_USER);
		return PAM_AUTH_ERR;
	}
	if (setup->authtok != NULL && strlen(setup->authtok) > PROTOCOL_MAX_PASSWORD) {
		shim_fail(pamh, audit,
			  "first factor authentication failed: password for user \"%s\" is "
			  "longer than %d bytes; refused before any request",
			  user, PROTOCOL_MAX_PASSWORD);
		return PAM_AUTH_ERR;
	}
	if (setup->service != NULL && strlen(setup->service) > PROTOCOL_MAX_SERVICE) {
		shim_fail(pamh, audit, "PAM_SERVICE of %zu bytes is longer than %d bytes",
			  strlen(setup->service), PROTOCOL_MAX_SERVICE);
		return PAM_SERVICE_ERR;
	}
	if (setup->rhost != NULL && strlen(setup->rhost) > PROTOCOL_MAX_RHOST) {
		shim_fail(pamh, audit,
			  "PAM_RHOST of %zu bytes is longer than %d bytes: no host name or "
			  "address is",
			  strlen(setup->rhost), PROTOCOL_MAX_RHOST);
		return PAM_SERVICE_ERR;
	}
	return PAM_SUCCESS;
}

/* The login, from the options to the helper's result; every way it ends
 * leaves a reason in audit (see shim_audit.c). */
static int authenticate(pam_handle_t *pamh, int argc, const char **argv, struct relay_setup *setup,
			struct shim_audit *audit)
{
	struct shim_options opts;
	struct helper helper;
	struct sigaction dfl, saved_chld;
	char err[OPTION_ERROR_SIZE];
	const void *item;
	int client_fd, binary_fd, rc;

	if (shim_options_parse(argc, argv, &opts, err) != 0) {
		shim_fail(pamh, audit, "%s", err);
		return PAM_SERVICE_ERR;
	}
	rc = pam_get_user(pamh, &setup->user, NULL);
	if (rc != PAM_SUCCESS) {
		setup->user = NULL;
		shim_reason(audit, "no user name from the application: %s", pam_strerror(pamh, rc));
		return rc;
	}
	if (setup->user == NULL || setup->user[0] == '\0') {
		shim_reason(audit, "the application gave no user name");
		return PAM_USER_UNKNOWN;
	}
	if (opts.forward_authtok && pam_get_item(pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS)
		setup->authtok = item;
	setup->argv0 = opts.binary;
	setup->debug = opts.debug;
	rc = check_items(pamh, setup, audit);
	if (rc != PAM_SUCCESS)
		return rc;

	binary_fd = binary_path_open(opts.binary, err, sizeof(err));
	if (binary_fd < 0) {
		shim_fail(pamh, audit, "%s", err);
		return PAM_SERVICE_ERR;
	}
	client_fd = client_socket_find(setup->rhost);
	setup->watch_client = client_fd >= 0;
	if (opts.debug)
		pam_syslog(pamh, LOG_DEBUG, "client socket %s", client_fd >= 0 ? "found" : "none");

	/* Like pam_unix with unix_chkpwd: keep the application's SIGCHLD handler
	 * (or SIG_IGN) from reaping our helper while we wait for it. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &dfl, &saved_chld);
	rc = helper_start(&helper, binary_fd, opts.binary, client_fd, err, sizeof(err));
	close(binary_fd);
	if (rc != 0) {
		shim_fail(pamh, audit, "cannot start helper: %s", err);
		rc = PAM_SERVICE_ERR;
	} else {
		audit->factors = AUDIT_FACTORS_UNKNOWN;
		audit->helper_pid = helper.pid;
		rc = relay_login(pamh, &helper, setup,
				 monotonic_ms() + (long long)opts.timeout * 1000 +
				     SHIM_BACKSTOP_GRACE_MS,
				 audit);
		helper_close(&helper);
	}
	sigaction(SIGCHLD, &saved_chld, NULL);
	return rc;
}

EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct shim_audit audit = {.started_ms = monotonic_ms(), .factors = AUDIT_FACTORS_NONE};
	struct relay_setup setup = {.argc = argc, .argv = argv};
	const void *item;
	int rc;

	(void)flags;
	/* What the audit line names, whatever happens next. */
	if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS)
		setup.service = item;
	if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS)
		setup.rhost = item;
	rc = authenticate(pamh, argc, argv, &setup, &audit);
	shim_audit_write(pamh, &audit, &setup, rc);
	return rc;
}

EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
