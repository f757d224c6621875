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

static int check_items(pam_handle_t *pamh, const struct relay_setup *setup);

/*
 * The PAM items against the protocol's bounds, before any helper starts: an
 * item larger than a frame could not be sent at all (the helper would wait
 * out its set-up timer), and a user name or password longer than Authelia
 * gets is refused now, with the helper's words and code.
 */
static int check_items(pam_handle_t *pamh, const struct relay_setup *setup)
{
	char user[TEXT_SHOWN_SIZE];
	size_t len = strlen(setup->user);

	text_shown(setup->user, user);
	if (len > PROTOCOL_MAX_USER) {
		pam_syslog(pamh, LOG_ERR,
			   "user name \"%s\" (%zu bytes) is longer than %d bytes; refused before "
			   "any request",
			   user, len, PROTOCOL_MAX_USER);
		return PAM_AUTH_ERR;
	}
	if (setup->authtok != NULL && strlen(setup->authtok) > PROTOCOL_MAX_PASSWORD) {
		pam_syslog(pamh, LOG_ERR,
			   "first factor authentication failed: password for user \"%s\" is "
			   "longer than %d bytes; refused before any request",
			   user, PROTOCOL_MAX_PASSWORD);
		return PAM_AUTH_ERR;
	}
	if (setup->service != NULL && strlen(setup->service) > PROTOCOL_MAX_SERVICE) {
		pam_syslog(pamh, LOG_ERR, "PAM_SERVICE of %zu bytes is longer than %d bytes",
			   strlen(setup->service), PROTOCOL_MAX_SERVICE);
		return PAM_SERVICE_ERR;
	}
	if (setup->rhost != NULL && strlen(setup->rhost) > PROTOCOL_MAX_RHOST) {
		pam_syslog(pamh, LOG_ERR,
			   "PAM_RHOST of %zu bytes is longer than %d bytes: no host name or "
			   "address is",
			   strlen(setup->rhost), PROTOCOL_MAX_RHOST);
		return PAM_SERVICE_ERR;
	}
	return PAM_SUCCESS;
}

EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct shim_options opts;
	struct relay_setup setup = {.argc = argc, .argv = argv};
	struct helper helper;
	struct sigaction dfl, saved_chld;
	char err[OPTION_ERROR_SIZE];
	const void *item;
	int client_fd, binary_fd, rc;

	(void)flags;
	if (shim_options_parse(argc, argv, &opts, err) != 0) {
		pam_syslog(pamh, LOG_ERR, "%s", err);
		return PAM_SERVICE_ERR;
	}
	rc = pam_get_user(pamh, &setup.user, NULL);
	if (rc != PAM_SUCCESS)
		return rc;
	if (setup.user == NULL || setup.user[0] == '\0')
		return PAM_USER_UNKNOWN;
	if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS)
		setup.service = item;
	if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS)
		setup.rhost = item;
	if (opts.forward_authtok && pam_get_item(pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS)
		setup.authtok = item;
	setup.argv0 = opts.binary;
	setup.debug = opts.debug;
	rc = check_items(pamh, &setup);
	if (rc != PAM_SUCCESS)
		return rc;

	binary_fd = binary_path_open(opts.binary, err, sizeof(err));
	if (binary_fd < 0) {
		pam_syslog(pamh, LOG_ERR, "%s", err);
		return PAM_SERVICE_ERR;
	}
	client_fd = client_socket_find(setup.rhost);
	setup.watch_client = client_fd >= 0;
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
		pam_syslog(pamh, LOG_ERR, "cannot start helper: %s", err);
		rc = PAM_SERVICE_ERR;
	} else {
		rc = relay_login(pamh, &helper, &setup,
				 monotonic_ms() + (long long)opts.timeout * 1000 +
				     SHIM_BACKSTOP_GRACE_MS);
		helper_close(&helper);
	}
	sigaction(SIGCHLD, &saved_chld, NULL);
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
