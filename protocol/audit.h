/*
 * audit.h -- the audit line: one line per pam_authenticate() that reaches the
 * module, at info level (notice for failures) without `debug`, key=value:
 *
 *   audit: user=john service=sshd rhost=192.0.2.7 factors=password,totp
 *          result=success pam=PAM_SUCCESS duration_ms=412 helper=4711
 *   audit: user=john service=sshd rhost=192.0.2.7 factors=password
 *          result=auth_err pam=PAM_AUTH_ERR duration_ms=5230 helper=4790
 *          state=totp_verify
 *          reason="TOTP authentication failed: TOTP refused (response status=403)"
 *
 * (each one line).  The helper writes it just before it sends its result; the
 * shim writes it only when the code it returns is not the one a helper's
 * result named (no helper, a crash, the backstop, a protocol violation).  So
 * both processes format it here, with libc only.  helper= (the helper's pid,
 * `-` when none ran) pairs the two lines of one attempt; the shim's line adds
 * overrides=<the helper's result> when it overrides a result the helper had
 * already sent (and logged).
 *
 * Every value but reason is one word: what is not ours (user, service, rhost)
 * shows printable ASCII with space, '"', '\' and '=' as '?', so no user name
 * can forge a key.  reason, last, is double-quoted with '"' and '\' escaped
 * (logfmt); the names it quotes went through log_shown, which has no '='.
 * Nothing secret is ever passed here.
 */
#ifndef PAM_AUTHELIA_AUDIT_H
#define PAM_AUTHELIA_AUDIT_H

#define AUDIT_PREFIX	"audit: "
#define AUDIT_LINE_SIZE 1024 /* the helper's log line; pam_syslog's is larger */
/* A word: at most AUDIT_WORD_MAX bytes of the text, then "...". */
#define AUDIT_WORD_MAX	64
#define AUDIT_WORD_SIZE (AUDIT_WORD_MAX + 4)
/* The factors a login passed, in order, comma-separated. */
#define AUDIT_FACTORS_SIZE 64
/* What `factors` shows when the login passed none, or when the shim cannot
 * know (its fallback lines once a helper ran). */
#define AUDIT_FACTORS_NONE    "none"
#define AUDIT_FACTORS_UNKNOWN "unknown"

struct audit_record {
	const char *user, *service, *rhost; /* as the application gave them; NULL: "-" */
	const char *factors;		    /* "password,totp"; NULL or "": "none" */
	const char *result;		    /* "success", "auth_err", ... */
	const char *pam;		    /* "PAM_SUCCESS", ... */
	long long duration_ms;
	long helper;	       /* the helper's pid; <= 0: "-" (none ran) */
	const char *overrides; /* the helper's result the code overrides; NULL: no key */
	const char *state;     /* where a failure happened (helper); NULL: no key */
	const char *reason;    /* why it failed; NULL: no key (success) */
};

/* Writes the line, AUDIT_PREFIX first, always NUL-terminated and whole: a
 * reason too long for the line is cut with "..." inside its quotes. */
void audit_format(const struct audit_record *record, char out[AUDIT_LINE_SIZE]);

/* A value that is not ours as one word (see above); NULL or "" gives "-".
 * Returns out. */
const char *audit_word(const char *text, char out[AUDIT_WORD_SIZE]);

/* "PAM_AUTH_ERR" for PAM_AUTH_ERR, ...; "PAM_<n>" for a code Linux-PAM does
 * not define.  buf holds the latter. */
const char *audit_pam_name(int code, char buf[24]);

/* The `result` of a code that is no helper result (PAM_USER_UNKNOWN from the
 * shim): the name without "PAM_", in lower case, as the result names are
 * ("user_unknown"). */
const char *audit_result_of_code(int code, char buf[24]);

#endif
