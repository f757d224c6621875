/*
 * shim_audit.c -- the module's failure lines and its side of the audit line
 * (see shim.h and protocol/audit.h).  Its lines go through pam_syslog, with
 * the application's ident: `sshd[…]: pam_authelia(sshd:auth): audit: …`.
 */
#include "shim.h"

#include <security/pam_ext.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static void shim_reason_v(struct shim_audit *audit, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void shim_reason_v(struct shim_audit *audit, const char *fmt, va_list ap)
{
	if (audit->reason[0] == '\0')
		vsnprintf(audit->reason, sizeof(audit->reason), fmt, ap);
}

void shim_reason(struct shim_audit *audit, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	shim_reason_v(audit, fmt, ap);
	va_end(ap);
}

void shim_fail(pam_handle_t *pamh, struct shim_audit *audit, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pam_vsyslog(pamh, LOG_ERR, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	shim_reason_v(audit, fmt, ap);
	va_end(ap);
}

void shim_audit_write(pam_handle_t *pamh, const struct shim_audit *audit,
		      const struct relay_setup *setup, int rc)
{
	char line[AUDIT_LINE_SIZE], pam[24], result[24];
	const void *user = setup->user;
	struct audit_record record = {
	    .service = setup->service,
	    .rhost = setup->rhost,
	    .factors = audit->factors,
	    .result = audit_result_of_code(rc, result),
	    .pam = audit_pam_name(rc, pam),
	    .duration_ms = monotonic_ms() - audit->started_ms,
	    .helper = (long)audit->helper_pid,
	    .overrides = audit->overrides,
	    .reason = rc == PAM_SUCCESS	 ? NULL
		      : audit->reason[0] ? audit->reason
					 : "unknown",
	};

	if (audit->helper_logged)
		return;
	/* Not pam_get_user: that may prompt, and this line must not. */
	if (user == NULL && pam_get_item(pamh, PAM_USER, &user) != PAM_SUCCESS)
		user = NULL;
	record.user = user;
	audit_format(&record, line);
	pam_syslog(pamh, rc == PAM_SUCCESS ? LOG_INFO : LOG_NOTICE, "%s", line);
}
