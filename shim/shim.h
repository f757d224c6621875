/*
 * shim.h -- internal interfaces of pam_authelia.so.  The shim is the small,
 * trusted part that lives inside sshd (or sudo, su, login): it reads the module
 * options, starts the helper, relays its prompts through pam_conv and turns its
 * result into a PAM code.  It uses libc and libpam only.
 */
#ifndef PAM_AUTHELIA_SHIM_H
#define PAM_AUTHELIA_SHIM_H

#include <security/pam_modules.h>
#include <sys/types.h>

#include "../protocol/audit.h"
#include "../protocol/binary_path.h"
#include "../protocol/frame.h"
#include "../protocol/options.h"

/* How long the helper gets past timeout before the shim kills it. */
#define SHIM_BACKSTOP_GRACE_MS 1000
/* How long a helper gets to exit after its result. */
#define SHIM_KILL_GRACE_MS 500
/* Bounds on what a helper may push into the application's conversation. */
#define SHIM_MAX_MESSAGES      64
#define SHIM_MAX_MESSAGE_BYTES (256 * 1024)
/* The helper's view: fds 0 and 1 are the channel, 2 is /dev/null, 3 the client. */
#define SHIM_CLIENT_FD 3

struct shim_options {
	const char *binary;  /* points into the module's argv */
	unsigned timeout;    /* seconds */
	int forward_authtok; /* auth-level=2FA: the helper needs PAM_AUTHTOK */
	int debug;
};

/* shim_options.c */
int shim_options_parse(int argc, const char **argv, struct shim_options *opts,
		       char err[OPTION_ERROR_SIZE]);

/* client_socket.c */
int client_socket_find(const char *rhost);

/* helper_process.c */
struct helper {
	pid_t pid;
	int pidfd; /* -1 where the kernel has no pidfd_open */
	int sock;  /* the shim's end of the channel, non-blocking */
};
/* Starts the binary binary_fd names (from binary_path_open; the caller closes
 * it afterwards), with argv0 as its argv[0]. */
int helper_start(struct helper *helper, int binary_fd, const char *argv0, int client_fd, char *err,
		 size_t errlen);
/* Waits until the helper has exited or deadline_ms passes; 0 once reaped. */
int helper_wait(struct helper *helper, long long deadline_ms, int *status);
/* SIGKILL and reap: the shim has decided, and nothing the helper did now
 * (its audit line of an abandoned login) may say otherwise.  Returns the wait
 * status. */
int helper_kill(struct helper *helper);
void helper_close(struct helper *helper);

/* relay.c */
struct relay_setup {
	const char *service, *user, *rhost, *authtok;
	int argc;
	const char **argv;
	int watch_client;
	const char *argv0; /* the helper path, for log lines */
	int debug;
};
long long monotonic_ms(void);
struct shim_audit;
/* Sets audit->helper_logged when the code returned is the helper's result's. */
int relay_login(pam_handle_t *pamh, struct helper *helper, const struct relay_setup *setup,
		long long deadline_ms, struct shim_audit *audit);

/*
 * shim_audit.c -- the module's side of the audit line (protocol/audit.h).
 * The helper writes the line of every login that ends with the result it
 * sent; the module writes it for every other way pam_sm_authenticate ends
 * (bad options, no helper, a crash, the backstop, a protocol violation), so
 * each attempt has its line.
 */
#define SHIM_REASON_SIZE 512
struct shim_audit {
	long long started_ms;
	const char *factors;	       /* AUDIT_FACTORS_NONE, or _UNKNOWN once a helper ran */
	char reason[SHIM_REASON_SIZE]; /* the first failure's line */
	int helper_logged;	       /* the helper's own line covers this attempt */
	pid_t helper_pid;	       /* the helper started, 0: none (helper=-) */
	const char *overrides;	       /* the result the helper sent (and logged), when the
					* code returned is another one */
};
/* Logs one line at LOG_ERR through pam_syslog; the first becomes the reason. */
void shim_fail(pam_handle_t *pamh, struct shim_audit *audit, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same reason, without a line of its own (the audit line says it). */
void shim_reason(struct shim_audit *audit, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Writes the audit line for rc unless audit->helper_logged. */
void shim_audit_write(pam_handle_t *pamh, const struct shim_audit *audit,
		      const struct relay_setup *setup, int rc);

#endif
