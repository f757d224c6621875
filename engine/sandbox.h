/*
 * sandbox.h -- confining the helper before it parses anything the network
 * sends, as OpenSSH confines its pre-authentication child.  Once the helper
 * has done, as root, what needs root (the CA store, the resolver's files, the
 * syslog socket, the libraries' one-time set-up), sandbox_apply() switches to
 * the `_pam_authelia` user (else `nobody`) with every id changed and no
 * supplementary group, bounds its resources (no core, no new process, few
 * descriptors), sets no_new_privs, removes all filesystem access and every TCP
 * port but Authelia's with Landlock, and installs a seccomp allowlist.
 */
#ifndef PAM_AUTHELIA_SANDBOX_H
#define PAM_AUTHELIA_SANDBOX_H

#include "config.h"

#define SANDBOX_ERROR_SIZE   256
#define SANDBOX_SUMMARY_SIZE 512

/* The dedicated user, and the fallback when it does not exist. */
#define SANDBOX_USER	      "_pam_authelia"
#define SANDBOX_FALLBACK_USER "nobody"

enum sandbox_mode {
	SANDBOX_OFF,	/* unit tests: the process is the test runner */
	SANDBOX_HELPER, /* the helper: every layer */
	SANDBOX_FUZZ,	/* libFuzzer: no_new_privs and seccomp only, the fuzzer's
			   system calls allowed too (build with PAM_AUTHELIA_SANDBOX_FUZZ) */
};

/*
 * Applies the sandbox (once per process; later calls return 0).  From config:
 * url's port, the one TCP port the helper may connect to, and whether the
 * device flow (libjwt) may run.  Returns 0, having logged one line (debug, or
 * notice when a layer is missing: "sandbox: uid=... seccomp=on landlock=off
 * (...)"); or -1 with err when the helper must not go on (it could not drop
 * root, or a layer the kernel has failed to apply).
 */
int sandbox_apply(enum sandbox_mode mode, const struct config *config,
		  char err[SANDBOX_ERROR_SIZE]);

/* The line sandbox_apply logged (without "sandbox: "), or "" before it ran. */
const char *sandbox_summary(void);

#endif
